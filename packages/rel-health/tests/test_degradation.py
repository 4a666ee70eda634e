from __future__ import annotations

import logging

import pytest

from rel_health import DegradationRule, GracefulDegradation, HealthCheck, HealthChecker, system_signals


def _cpu_levels(**kwargs) -> GracefulDegradation:
    return GracefulDegradation(
        rules=[
            DegradationRule.above("cpu_percent", 90, recover=75, level="reduced"),
            DegradationRule.above("memory_percent", 95, level="minimal"),
        ],
        system_signals=False,
        **kwargs,
    )


def test_worst_active_rule_wins():
    """The level is the worst among the active rules; escalation is immediate."""
    degradation = _cpu_levels(recover_after=1)
    assert degradation.evaluate({"cpu_percent": 50, "memory_percent": 50}) == "normal"
    assert degradation.evaluate({"cpu_percent": 95, "memory_percent": 50}) == "reduced"
    assert degradation.evaluate({"cpu_percent": 95, "memory_percent": 99}) == "minimal"
    assert degradation.is_degraded
    assert degradation.level_index == 2
    assert degradation.reason == "memory_percent > 95"


def test_threshold_band_prevents_flapping():
    """Between recover and enter the rule stays active: a CPU hovering around 90 does not flap."""
    degradation = _cpu_levels(recover_after=1)
    levels = [degradation.evaluate({"cpu_percent": cpu}) for cpu in (91, 85, 89, 80, 76, 74)]
    assert levels == ["reduced", "reduced", "reduced", "reduced", "reduced", "normal"]


def test_recovery_needs_consecutive_evaluations():
    """Moving back to a better level waits for recover_after evaluations in a row."""
    degradation = _cpu_levels(recover_after=3)
    degradation.evaluate({"cpu_percent": 95})
    assert [degradation.evaluate({"cpu_percent": 10}) for _ in range(2)] == ["reduced", "reduced"]
    degradation.evaluate({"cpu_percent": 95})  # relapse resets the streak
    assert [degradation.evaluate({"cpu_percent": 10}) for _ in range(3)] == ["reduced", "reduced", "normal"]


def test_min_dwell_holds_a_degraded_level():
    """A level is held for at least min_dwell_s before recovering."""
    degradation = _cpu_levels(recover_after=1, min_dwell_s=60)
    degradation.evaluate({"cpu_percent": 95})
    assert degradation.evaluate({"cpu_percent": 10}) == "reduced"


def test_listeners_get_every_change(caplog):
    """Listeners receive (old, new, reason); a failing listener is logged, not raised."""
    degradation = _cpu_levels(recover_after=1)
    changes = []
    degradation.add_listener(lambda old, new, reason: changes.append((old, new, reason)))
    degradation.add_listener(lambda *_: 1 / 0)
    with caplog.at_level(logging.INFO, "rel_health"):
        degradation.evaluate({"cpu_percent": 95})
        degradation.evaluate({"cpu_percent": 95})
        degradation.evaluate({"cpu_percent": 10})
    assert changes == [
        ("normal", "reduced", "cpu_percent > 90 (until < 75)"),
        ("reduced", "normal", "recovered"),
    ]
    assert "listener" in caplog.text
    assert "service level normal -> reduced" in caplog.text


def test_select_picks_the_implementation_for_the_level():
    """select() returns the current level's implementation, else the nearest better one."""
    degradation = GracefulDegradation(system_signals=False)
    impls = {"normal": "full", "minimal": "cached"}
    assert degradation.select(impls) == "full"
    degradation.set_level("reduced")
    assert degradation.select(impls) == "full"
    degradation.set_level("minimal")
    assert degradation.select(impls) == "cached"
    with pytest.raises(KeyError, match="no implementation"):
        degradation.select({})


def test_custom_and_failing_signals(caplog):
    """Custom sync sources feed rules; a raising source is left out and an async one skipped by evaluate()."""
    degradation = GracefulDegradation(
        levels=("full", "offline"),
        rules=[DegradationRule.equals("external_services_available", False, level="offline")],
        recover_after=1,
        system_signals=False,
    )
    available = {"value": True}
    degradation.add_signal("external_services_available", lambda: available["value"])
    degradation.add_signal("broken", lambda: 1 / 0)

    async def later():
        return 1

    degradation.add_signal("async_one", later)
    with caplog.at_level(logging.WARNING, "rel_health"):
        assert degradation.evaluate() == "full"
        available["value"] = False
        assert degradation.evaluate() == "offline"
    assert "'broken' failed" in caplog.text
    assert "use evaluate_async" in caplog.text


async def test_health_report_signal():
    """evaluate_async awaits a checker and uses its status as the signal."""
    checker = HealthChecker()
    state = {"status": "healthy"}

    async def db() -> HealthCheck:
        return HealthCheck("db", state["status"])

    checker.add_check("db", db)
    degradation = GracefulDegradation(
        rules=[DegradationRule.equals("health_status", "unhealthy", level="minimal")], recover_after=1
    )
    degradation.add_signal("health_status", checker.check_all)
    assert await degradation.evaluate_async() == "normal"
    state["status"] = "unhealthy"
    assert await degradation.evaluate_async() == "minimal"


def test_below_rule_and_system_signals():
    """below() rules enter under the threshold; system_signals returns CPU and memory percents."""
    degradation = GracefulDegradation(
        rules=[DegradationRule.below("free_workers", 2, recover=4, level="reduced")], recover_after=1
    )
    assert degradation.evaluate({"free_workers": 1}) == "reduced"
    assert degradation.evaluate({"free_workers": 3}) == "reduced"
    assert degradation.evaluate({"free_workers": 5}) == "normal"
    values = system_signals()
    assert 0 <= values["cpu_percent"] <= 100
    assert 0 < values["memory_percent"] <= 100


def test_invalid_degradation_configuration():
    """Bad levels, rules and hysteresis settings raise ValueError."""
    with pytest.raises(ValueError, match="levels"):
        GracefulDegradation(levels=())
    with pytest.raises(ValueError, match="levels"):
        GracefulDegradation(levels=("a", "a"))
    with pytest.raises(ValueError, match="rule level"):
        GracefulDegradation(rules=[DegradationRule.above("x", 1, level="nope")])
    with pytest.raises(ValueError, match="recover_after"):
        GracefulDegradation(recover_after=0)
    with pytest.raises(ValueError, match="min_dwell_s"):
        GracefulDegradation(min_dwell_s=-1)
    with pytest.raises(ValueError, match="recover"):
        DegradationRule.above("x", 10, recover=20, level="reduced")
    with pytest.raises(ValueError, match="level must be one of"):
        GracefulDegradation().set_level("off")
