"""A hypothesis state machine drives the breaker and a small reference model side by side."""

from __future__ import annotations

import asyncio
import contextvars
import math
from dataclasses import dataclass, field
from typing import Any

from conftest import FakeClock
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from rel_guard import CircuitBreaker, CircuitBreakerConfig, CircuitBreakerOpenError

OUTCOMES = {
    "ok": None,
    "fail": ConnectionError("down"),
    "unexpected": ValueError("bug"),  # not an expected exception: a success for the breaker
    "excluded": FileNotFoundError("gone"),  # excluded: counted as neither
    "cancel": asyncio.CancelledError(),  # released without counting
}


@dataclass
class Model:
    """The breaker's rules written as plainly as possible."""

    threshold: int | None
    failure_rate: float | None
    slow_rate: float | None
    slow_duration: float | None
    window_type: str
    window_size: int
    minimum_calls: int
    recovery: float
    probes_max: int
    success_threshold: int
    state: str = "closed"
    epoch: int = 0
    consecutive: int = 0
    window: list[tuple[float, bool, bool]] = field(default_factory=list)
    open_until: float = 0.0
    probes: int = 0
    probe_successes: int = 0
    counts: dict[str, int] = field(
        default_factory=lambda: {"successes": 0, "failures": 0, "ignored": 0, "rejected": 0}
    )

    def move(self, state: str, now: float) -> None:
        if state == "open":
            self.open_until = now + self.recovery
        self.state = state
        self.epoch += 1
        self.consecutive = 0
        self.probe_successes = 0
        self.window = []

    def in_window(self, now: float) -> list[tuple[float, bool, bool]]:
        if self.window_type == "count":
            return self.window[-self.window_size :]
        return [w for w in self.window if math.floor(w[0]) > math.floor(now) - self.window_size]

    def acquire(self, now: float) -> tuple[int, bool] | None:
        if self.state == "closed":
            return (self.epoch, False)
        if self.state == "disabled":
            return (-1, False)
        if self.state == "open" and now >= self.open_until:
            self.move("half_open", now)
        if self.state == "half_open" and self.probes < self.probes_max:
            self.probes += 1
            return (self.epoch, True)
        self.counts["rejected"] += 1
        return None

    def record(self, permit: tuple[int, bool], outcome: str, duration: float, now: float) -> None:
        epoch, probe = permit
        if probe:
            self.probes -= 1
        if outcome in ("excluded", "cancel"):
            self.counts["ignored"] += 1
            return
        failed = outcome == "fail"
        self.counts["failures" if failed else "successes"] += 1
        if epoch != self.epoch:
            return
        slow = self.slow_duration is not None and duration >= self.slow_duration
        if self.state == "closed":
            self.window.append((now, failed, slow))
            self.consecutive = self.consecutive + 1 if failed else 0
            if self.threshold is not None and self.consecutive >= self.threshold:
                self.move("open", now)
                return
            if self.failure_rate is None and self.slow_rate is None:
                return
            calls = self.in_window(now)
            if len(calls) < self.minimum_calls:
                return
            if (
                self.failure_rate is not None and sum(c[1] for c in calls) / len(calls) >= self.failure_rate
            ) or (self.slow_rate is not None and sum(c[2] for c in calls) / len(calls) >= self.slow_rate):
                self.move("open", now)
        elif self.state == "half_open":
            if failed or (slow and self.slow_rate is not None):
                self.move("open", now)
            else:
                self.probe_successes += 1
                if self.probe_successes >= self.success_threshold:
                    self.move("closed", now)


configs = st.fixed_dictionaries(
    {
        "failure_threshold": st.one_of(st.none(), st.integers(1, 4)),
        "failure_rate_threshold": st.one_of(st.none(), st.sampled_from([0.25, 0.5, 1.0])),
        "slow": st.booleans(),
        "sliding_window_type": st.sampled_from(["count", "time"]),
        "sliding_window_size": st.integers(1, 5),
        "minimum_calls": st.integers(1, 5),
        "recovery_timeout": st.sampled_from([0, 1, 2.5]),
        "half_open_max_calls": st.integers(1, 3),
        "success_threshold": st.integers(1, 3),
    }
)


class BreakerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.held: list[tuple[contextvars.Context, tuple[int, bool], float]] = []

    @initialize(params=configs)
    def build(self, params: dict[str, Any]) -> None:
        slow = params.pop("slow")
        size = params["sliding_window_size"]
        if params["sliding_window_type"] == "count":
            params["minimum_calls"] = min(params["minimum_calls"], size)
        config = CircuitBreakerConfig(
            expected_exception=OSError,
            excluded_exceptions=(FileNotFoundError,),
            slow_call_duration=1.0 if slow else None,
            slow_call_rate_threshold=0.5 if slow else None,
            clock=self.clock,
            **params,
        )
        self.breaker = CircuitBreaker(config)
        self.model = Model(
            threshold=config.failure_threshold,
            failure_rate=config.failure_rate_threshold,
            slow_rate=config.slow_call_rate_threshold,
            slow_duration=config.slow_call_duration,
            window_type=config.sliding_window_type,
            window_size=config.sliding_window_size,
            minimum_calls=config.minimum_calls,
            recovery=config.recovery_timeout,
            probes_max=config.half_open_max_calls,
            success_threshold=config.success_threshold,
        )

    def _enter(self, context: contextvars.Context) -> tuple[int, bool] | None:
        # Each call gets its own context, as each thread or task would, so
        # held calls can finish in any order.
        expected = self.model.acquire(self.clock())
        try:
            context.run(self.breaker.__enter__)
        except CircuitBreakerOpenError:
            assert expected is None, "the breaker refused a call the model admits"
            return None
        assert expected is not None, f"the breaker admitted a call the model refuses ({self.model.state})"
        return expected

    def _exit(
        self, context: contextvars.Context, permit: tuple[int, bool], outcome: str, started: float
    ) -> None:
        exc = OUTCOMES[outcome]
        context.run(self.breaker.__exit__, None if exc is None else type(exc), exc, None)
        now = self.clock()
        self.model.record(permit, outcome, now - started, now)

    @rule(seconds=st.sampled_from([0.1, 0.5, 1.0, 2.5, 6.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(outcome=st.sampled_from(sorted(OUTCOMES)), duration=st.sampled_from([0.0, 0.5, 1.5]))
    def call(self, outcome: str, duration: float) -> None:
        started = self.clock()
        context = contextvars.copy_context()
        permit = self._enter(context)
        if permit is not None:
            self.clock.advance(duration)
            self._exit(context, permit, outcome, started)

    @rule(count=st.integers(1, 4))
    def start(self, count: int) -> None:
        for _ in range(count):
            if len(self.held) >= 6:
                return
            started = self.clock()
            context = contextvars.copy_context()
            permit = self._enter(context)
            if permit is not None:
                self.held.append((context, permit, started))

    @rule(index=st.integers(0, 5), outcome=st.sampled_from(sorted(OUTCOMES)))
    def finish(self, index: int, outcome: str) -> None:
        # No preconditions: they make older hypothesis versions retry draws for minutes.
        if not self.held:
            return
        context, permit, started = self.held.pop(index % len(self.held))
        self._exit(context, permit, outcome, started)

    @rule(op=st.sampled_from(["force_open", "disable", "reset"]))
    def admin(self, op: str) -> None:
        getattr(self.breaker, op)()
        now = self.clock()
        target = {"force_open": "forced_open", "disable": "disabled", "reset": "closed"}[op]
        if op == "reset":
            self.model.move("closed", now)
            self.model.counts = dict.fromkeys(self.model.counts, 0)
        elif self.model.state != target:
            self.model.move(target, now)

    @invariant()
    def agrees(self) -> None:
        if not hasattr(self, "breaker"):
            return
        stats = self.breaker.stats()
        model = self.model
        assert stats.state.value == model.state
        assert stats.half_open_calls == model.probes
        assert stats.consecutive_failures == model.consecutive
        got = {k: getattr(stats, k) for k in model.counts}
        assert got == model.counts
        if model.failure_rate is not None or model.slow_rate is not None:
            calls = model.in_window(self.clock())
            assert stats.window_calls == len(calls)
            assert stats.window_failures == sum(c[1] for c in calls)
            assert stats.window_slow_calls == sum(c[2] for c in calls)


BreakerMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_breaker_matches_the_reference_model = BreakerMachine.TestCase
test_breaker_matches_the_reference_model.__doc__ = "The breaker and the reference model agree on every step."
