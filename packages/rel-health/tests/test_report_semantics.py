"""Overall status, is_healthy() and the failure helpers, over every combination of three checks."""

from __future__ import annotations

import itertools

import pytest

from rel_health import HealthCheck, HealthChecker, HealthCheckFailedError, HealthStatus, raise_if_unhealthy

STATUSES = ("healthy", "degraded", "unhealthy")
CASES = list(
    itertools.product(itertools.product(STATUSES, repeat=3), itertools.product((True, False), repeat=3))
)


def _report(statuses, criticals):
    checker = HealthChecker()
    for index, (status, critical) in enumerate(zip(statuses, criticals, strict=True)):
        name = f"c{index}"
        checker.add_check(name, lambda n=name, s=status: HealthCheck(n, s, f"{n} is {s}"), critical=critical)
    return checker.check_all_sync()


@pytest.mark.parametrize(("statuses", "criticals"), CASES)
def test_report_semantics(statuses, criticals):
    """Unhealthy iff a critical check is unhealthy; is_healthy() False only then, and failed_checks is never empty then."""
    report = _report(statuses, criticals)
    critical_down = any(s == "unhealthy" and c for s, c in zip(statuses, criticals, strict=True))
    all_healthy = all(s == "healthy" for s in statuses)
    expected = "unhealthy" if critical_down else "healthy" if all_healthy else "degraded"
    assert report.status == expected
    assert report.is_healthy() is not critical_down
    assert report.is_healthy(strict=True) is all_healthy
    assert report.failed_checks == [f"c{i}" for i, s in enumerate(statuses) if s == "unhealthy"]
    assert report.degraded_checks == [f"c{i}" for i, s in enumerate(statuses) if s == "degraded"]
    # Seed 002 raises f"Health checks failed: {failed_checks}" when not is_healthy(): never an empty list.
    if not report.is_healthy():
        assert report.failed_checks
    assert report.http_status == (503 if critical_down else 200)
    assert (
        report.to_dict()["status"] == {"healthy": "pass", "degraded": "warn", "unhealthy": "fail"}[expected]
    )
    for strict in (False, True):
        if report.is_healthy(strict=strict):
            assert raise_if_unhealthy(report, strict=strict) is report
        else:
            with pytest.raises(HealthCheckFailedError) as info:
                raise_if_unhealthy(report, strict=strict)
            named = report.failed_checks or report.degraded_checks
            assert named
            assert str(named) in str(info.value)
            assert info.value.report is report


def test_worst_status_order():
    """HealthStatus.worst orders healthy < degraded < unhealthy and is healthy for nothing."""
    assert HealthStatus.worst([]) is HealthStatus.HEALTHY
    for a, b in itertools.product(HealthStatus, repeat=2):
        assert HealthStatus.worst([a, b]).severity == max(a.severity, b.severity)
