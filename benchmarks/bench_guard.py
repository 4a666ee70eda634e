"""rel-guard against pybreaker, circuitbreaker, purgatory and aiobreaker; bulkhead against bare semaphores.

The breaker groups time the closed-state success path (the path a healthy
service takes on every call) as a decorator around a function returning 1;
the overhead column subtracts the bare call. The bulkhead groups time one
uncontended enter/exit.

Every implementation of a group is timed in the same shuffled rounds and the
fastest round counts (the minimum, as ``timeit`` advises): on a shared, loaded
machine, back-to-back medians swing with whatever else runs at that moment,
while interleaving exposes every implementation to the same load.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import threading
import time
import timeit
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from harness import Group

from rel_guard import Bulkhead, BulkheadConfig, CircuitBreaker, CircuitBreakerConfig, CircuitBreakerOpenError


def _work() -> int:
    return 1


async def _awork() -> int:
    return 1


class _Nothing:
    """A context manager that does nothing: the floor any ``with`` form pays."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_NOTHING = _Nothing()


def _with_nothing() -> int:
    with _NOTHING:
        return _work()


async def _async_with_nothing() -> int:
    async with _NOTHING:
        return await _awork()


_SAMPLE_SECONDS = 0.001


class _Rounds:
    """Collects a group's implementations, then times them in shuffled rounds (see the module docstring)."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self.sync: dict[str, Callable[[], Any]] = {}
        self.asyncs: dict[str, Callable[[], Awaitable[Any]]] = {}

    def time(self, name: str, fn: Callable[[], Any]) -> None:
        self.sync[name] = fn

    def time_async(self, name: str, fn: Callable[[], Awaitable[Any]]) -> None:
        self.asyncs[name] = fn

    def record_into(self, group: Group) -> None:
        rng = random.Random(0)
        best = dict.fromkeys([*self.sync, *self.asyncs], math.inf)
        timers = {name: timeit.Timer(fn) for name, fn in self.sync.items()}
        numbers = {name: max(1, int(_SAMPLE_SECONDS / (t.timeit(1000) / 1000))) for name, t in timers.items()}
        for _ in range(self.rounds):
            order = list(timers)
            rng.shuffle(order)
            for name in order:
                best[name] = min(best[name], timers[name].timeit(numbers[name]) / numbers[name])
        if self.asyncs:
            asyncio.run(self._time_async(best, rng))
        for name, seconds in best.items():
            group.record(name, seconds)
        group.notes.append(
            f"times: the fastest of {self.rounds} shuffled rounds, every implementation in the same rounds"
        )

    async def _time_async(self, best: dict[str, float], rng: random.Random) -> None:
        async def per_call(fn: Callable[[], Awaitable[Any]], n: int) -> float:
            start = time.perf_counter()
            for _ in range(n):
                await fn()
            return (time.perf_counter() - start) / n

        numbers = {
            name: max(1, int(_SAMPLE_SECONDS / await per_call(fn, 1000))) for name, fn in self.asyncs.items()
        }
        for _ in range(self.rounds):
            order = list(self.asyncs)
            rng.shuffle(order)
            for name in order:
                best[name] = min(best[name], await per_call(self.asyncs[name], numbers[name]))


def _peer(group: Group, bench: _Rounds, name: str, build: Callable[[], Callable[[], Any]]) -> None:
    try:
        fn = build()
    except Exception as exc:  # a peer missing or changed API: report, do not fail
        group.skip(name, f"{type(exc).__name__}: {exc}")
        return
    bench.time(name, fn)


def _peer_async(
    group: Group, bench: _Rounds, name: str, build: Callable[[], Callable[[], Awaitable[Any]]]
) -> None:
    try:
        fn = build()
    except Exception as exc:
        group.skip(name, f"{type(exc).__name__}: {exc}")
        return
    bench.time_async(name, fn)


def _sync_breakers(rounds: int) -> Group:
    bench = _Rounds(rounds)
    group = Group(
        "circuit breaker, closed state, successful sync call",
        reference="circuitbreaker @circuit",
        baseline="bare call",
        goal="rel-guard's overhead at most half of the best peer's (circuitbreaker, about 550 ns), while thread-safe.",
    )
    bench.time("bare call", _work)
    rel = CircuitBreaker(CircuitBreakerConfig(failure_threshold=5, recovery_timeout=30))
    bench.time("rel-guard @breaker", rel(_work))

    def rel_with() -> int:
        with rel:
            return _work()

    bench.time("rel-guard with breaker:", rel_with)
    bench.time("with <do-nothing object>: (floor of any with form)", _with_nothing)
    windowed = CircuitBreaker(CircuitBreakerConfig(failure_rate_threshold=0.5, sliding_window_size=100))
    bench.time("rel-guard @breaker, failure rate over a count window", windowed(_work))
    timed_window = CircuitBreaker(
        CircuitBreakerConfig(failure_rate_threshold=0.5, sliding_window_type="time", sliding_window_size=60)
    )
    bench.time("rel-guard @breaker, failure rate over a time window (locked)", timed_window(_work))

    def pybreaker_build() -> Callable[[], Any]:
        import pybreaker

        return pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30)(_work)  # type: ignore[no-any-return]

    def circuitbreaker_build() -> Callable[[], Any]:
        from circuitbreaker import CircuitBreaker as Peer

        return Peer(failure_threshold=5, recovery_timeout=30)(_work)  # type: ignore[no-any-return]

    _peer(group, bench, "pybreaker @breaker", pybreaker_build)
    _peer(group, bench, "circuitbreaker @circuit", circuitbreaker_build)
    bench.record_into(group)
    return group


def _async_breakers(rounds: int) -> Group:
    bench = _Rounds(rounds)
    group = Group(
        "circuit breaker, closed state, successful async call",
        reference="circuitbreaker @circuit (async)",
        baseline="bare await",
        goal="rel-guard's overhead at most half of the best peer's (circuitbreaker, about 670 ns).",
    )
    bench.time_async("bare await", _awork)
    rel = CircuitBreaker(CircuitBreakerConfig(failure_threshold=5, recovery_timeout=30))
    bench.time_async("rel-guard @breaker", rel(_awork))

    async def rel_with() -> int:
        async with rel:
            return await _awork()

    bench.time_async("rel-guard async with breaker:", rel_with)
    bench.time_async("async with <do-nothing object>: (floor)", _async_with_nothing)

    def purgatory_build() -> Callable[[], Awaitable[Any]]:
        from purgatory import AsyncCircuitBreakerFactory

        factory = AsyncCircuitBreakerFactory(default_threshold=5, default_ttl=30)
        return factory(circuit="bench")(_awork)  # type: ignore[no-any-return]

    def aiobreaker_build() -> Callable[[], Awaitable[Any]]:
        from aiobreaker import CircuitBreaker as Peer

        return Peer(fail_max=5, timeout_duration=timedelta(seconds=30))(_awork)  # type: ignore[no-any-return]

    def circuitbreaker_build() -> Callable[[], Awaitable[Any]]:
        from circuitbreaker import CircuitBreaker as Peer

        return Peer(failure_threshold=5, recovery_timeout=30)(_awork)  # type: ignore[no-any-return]

    _peer_async(group, bench, "purgatory @factory(circuit=...)", purgatory_build)
    _peer_async(group, bench, "aiobreaker @breaker", aiobreaker_build)
    _peer_async(group, bench, "circuitbreaker @circuit (async)", circuitbreaker_build)
    bench.record_into(group)
    return group


def _open_breakers(rounds: int) -> Group:
    bench = _Rounds(rounds)
    group = Group(
        "circuit breaker, open state: refusing a call",
        reference="circuitbreaker @circuit",
        goal="A refusal raises a fresh error (name, retry_after, the last failure as cause) each time; "
        "no costlier than circuitbreaker's.",
    )

    def refuse(fn: Callable[[], Any], error: type[BaseException]) -> Callable[[], None]:
        def run() -> None:
            try:  # noqa: SIM105 - contextlib.suppress would add its own cost to the timing
                fn()
            except error:
                pass

        return run

    # Opened by a real failure, like the peers: the refusal reads the clock for
    # retry_after and chains the failure as its cause.
    rel = CircuitBreaker(CircuitBreakerConfig(failure_threshold=1, recovery_timeout=3600))
    with contextlib.suppress(ZeroDivisionError):
        rel.call(lambda: 1 / 0)
    bench.time("rel-guard @breaker", refuse(rel(_work), CircuitBreakerOpenError))

    def rel_with() -> None:
        with rel:
            _work()

    bench.time("rel-guard with breaker:", refuse(rel_with, CircuitBreakerOpenError))
    forced = CircuitBreaker(CircuitBreakerConfig(failure_threshold=1))
    forced.force_open()
    bench.time("rel-guard @breaker, forced open", refuse(forced(_work), CircuitBreakerOpenError))

    def pybreaker_build() -> Callable[[], Any]:
        import pybreaker

        breaker = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=3600)
        breaker.open()
        return refuse(breaker(_work), pybreaker.CircuitBreakerError)

    def circuitbreaker_build() -> Callable[[], Any]:
        from circuitbreaker import CircuitBreaker as Peer
        from circuitbreaker import CircuitBreakerError

        breaker = Peer(failure_threshold=1, recovery_timeout=3600, expected_exception=ZeroDivisionError)
        wrapped = breaker(_work)
        failing = breaker(lambda: 1 / 0)
        with contextlib.suppress(ZeroDivisionError):
            failing()
        return refuse(wrapped, CircuitBreakerError)

    _peer(group, bench, "pybreaker @breaker", pybreaker_build)
    _peer(group, bench, "circuitbreaker @circuit", circuitbreaker_build)
    bench.record_into(group)
    return group


def _sync_bulkheads(rounds: int) -> Group:
    bench = _Rounds(rounds)
    group = Group(
        "bulkhead, uncontended sync enter/exit",
        reference="threading.Semaphore",
        baseline="bare call",
        goal="No slower than a bare threading.Semaphore.",
    )
    bench.time("bare call", _work)
    semaphore = threading.Semaphore(10)
    bounded = threading.BoundedSemaphore(10)

    def with_semaphore() -> int:
        with semaphore:
            return _work()

    def with_bounded() -> int:
        with bounded:
            return _work()

    bulkhead = Bulkhead(BulkheadConfig(max_concurrent_calls=10))

    def with_bulkhead() -> int:
        with bulkhead:
            return _work()

    bench.time("threading.Semaphore", with_semaphore)
    bench.time("threading.BoundedSemaphore", with_bounded)
    bench.time("rel-guard with bulkhead:", with_bulkhead)
    bench.time("rel-guard @bulkhead", bulkhead(_work))
    bench.record_into(group)
    return group


def _async_bulkheads(rounds: int) -> Group:
    bench = _Rounds(rounds)
    group = Group(
        "bulkhead, uncontended async enter/exit",
        reference="asyncio.Semaphore",
        baseline="bare await",
        goal="No slower than a bare asyncio.Semaphore (which serves one event loop only).",
    )
    bench.time_async("bare await", _awork)
    holder: dict[str, Any] = {}

    async def with_semaphore() -> int:
        semaphore = holder.get("sem")
        if semaphore is None:  # created inside the running loop the harness starts
            semaphore = holder["sem"] = asyncio.Semaphore(10)
        async with semaphore:
            return await _awork()

    bulkhead = Bulkhead(BulkheadConfig(max_concurrent_calls=10))

    async def with_bulkhead() -> int:
        async with bulkhead:
            return await _awork()

    bench.time_async("asyncio.Semaphore", with_semaphore)
    bench.time_async("rel-guard async with bulkhead:", with_bulkhead)
    bench.time_async("rel-guard @bulkhead", bulkhead(_awork))
    bench.record_into(group)
    return group


def run(quick: bool) -> list[Group]:
    rounds = 150 if quick else 400
    return [
        _sync_breakers(rounds),
        _async_breakers(rounds),
        _open_breakers(rounds),
        _sync_bulkheads(rounds),
        _async_bulkheads(rounds),
    ]
