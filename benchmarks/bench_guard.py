"""rel-guard against pybreaker, circuitbreaker, purgatory and aiobreaker; bulkhead against bare semaphores.

The breaker groups time the closed-state success path (the path a healthy
service takes on every call) as a decorator around a function returning 1;
the overhead column subtracts the bare call. The bulkhead groups time one
uncontended enter/exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from harness import Group

from rel_guard import Bulkhead, BulkheadConfig, CircuitBreaker, CircuitBreakerConfig, CircuitBreakerOpenError


def _work() -> int:
    return 1


async def _awork() -> int:
    return 1


def _peer(group: Group, name: str, build: Callable[[], Callable[[], Any]], repeat: int) -> None:
    try:
        fn = build()
    except Exception as exc:  # a peer missing or changed API: report, do not fail
        group.skip(name, f"{type(exc).__name__}: {exc}")
        return
    group.time(name, fn, repeat=repeat)


def _peer_async(
    group: Group, name: str, build: Callable[[], Callable[[], Awaitable[Any]]], repeat: int
) -> None:
    try:
        fn = build()
    except Exception as exc:
        group.skip(name, f"{type(exc).__name__}: {exc}")
        return
    group.time_async(name, fn, repeat=repeat)


def _sync_breakers(repeat: int) -> Group:
    group = Group(
        "circuit breaker, closed state, successful sync call",
        reference="circuitbreaker @circuit",
        baseline="bare call",
        goal="rel-guard's overhead at most half of the best peer's (circuitbreaker, about 550 ns), while thread-safe.",
    )
    group.time("bare call", _work, repeat=repeat)
    rel = CircuitBreaker(CircuitBreakerConfig(failure_threshold=5, recovery_timeout=30))
    group.time("rel-guard @breaker", rel(_work), repeat=repeat)

    def rel_with() -> int:
        with rel:
            return _work()

    group.time("rel-guard with breaker:", rel_with, repeat=repeat)
    windowed = CircuitBreaker(CircuitBreakerConfig(failure_rate_threshold=0.5, sliding_window_size=100))
    group.time("rel-guard @breaker, rate window (locked path)", windowed(_work), repeat=repeat)

    def pybreaker_build() -> Callable[[], Any]:
        import pybreaker

        return pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30)(_work)  # type: ignore[no-any-return]

    def circuitbreaker_build() -> Callable[[], Any]:
        from circuitbreaker import CircuitBreaker as Peer

        return Peer(failure_threshold=5, recovery_timeout=30)(_work)  # type: ignore[no-any-return]

    _peer(group, "pybreaker @breaker", pybreaker_build, repeat)
    _peer(group, "circuitbreaker @circuit", circuitbreaker_build, repeat)
    return group


def _async_breakers(repeat: int) -> Group:
    group = Group(
        "circuit breaker, closed state, successful async call",
        reference="circuitbreaker @circuit (async)",
        baseline="bare await",
        goal="rel-guard's overhead at most half of the best peer's (circuitbreaker, about 670 ns).",
    )
    group.time_async("bare await", _awork, repeat=repeat)
    rel = CircuitBreaker(CircuitBreakerConfig(failure_threshold=5, recovery_timeout=30))
    group.time_async("rel-guard @breaker", rel(_awork), repeat=repeat)

    async def rel_with() -> int:
        async with rel:
            return await _awork()

    group.time_async("rel-guard async with breaker:", rel_with, repeat=repeat)

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

    _peer_async(group, "purgatory @factory(circuit=...)", purgatory_build, repeat)
    _peer_async(group, "aiobreaker @breaker", aiobreaker_build, repeat)
    _peer_async(group, "circuitbreaker @circuit (async)", circuitbreaker_build, repeat)
    return group


def _open_breakers(repeat: int) -> Group:
    group = Group(
        "circuit breaker, open state: refusing a call",
        reference="circuitbreaker @circuit",
        goal="A refusal raises a fresh error each time; informative, not a goal.",
    )

    def refuse(fn: Callable[[], Any], error: type[BaseException]) -> Callable[[], None]:
        def run() -> None:
            try:  # noqa: SIM105 - contextlib.suppress would add its own cost to the timing
                fn()
            except error:
                pass

        return run

    rel = CircuitBreaker(CircuitBreakerConfig(failure_threshold=1, recovery_timeout=3600))
    rel.force_open()
    group.time("rel-guard @breaker", refuse(rel(_work), CircuitBreakerOpenError), repeat=repeat)

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

    _peer(group, "pybreaker @breaker", pybreaker_build, repeat)
    _peer(group, "circuitbreaker @circuit", circuitbreaker_build, repeat)
    return group


def _sync_bulkheads(repeat: int) -> Group:
    group = Group(
        "bulkhead, uncontended sync enter/exit",
        reference="threading.Semaphore",
        baseline="bare call",
        goal="No slower than a bare threading.Semaphore.",
    )
    group.time("bare call", _work, repeat=repeat)
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

    group.time("threading.Semaphore", with_semaphore, repeat=repeat)
    group.time("threading.BoundedSemaphore", with_bounded, repeat=repeat)
    group.time("rel-guard with bulkhead:", with_bulkhead, repeat=repeat)
    group.time("rel-guard @bulkhead", bulkhead(_work), repeat=repeat)
    return group


def _async_bulkheads(repeat: int) -> Group:
    group = Group(
        "bulkhead, uncontended async enter/exit",
        reference="asyncio.Semaphore",
        baseline="bare await",
        goal="No slower than a bare asyncio.Semaphore (which serves one event loop only).",
    )
    group.time_async("bare await", _awork, repeat=repeat)
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

    group.time_async("asyncio.Semaphore", with_semaphore, repeat=repeat)
    group.time_async("rel-guard async with bulkhead:", with_bulkhead, repeat=repeat)
    group.time_async("rel-guard @bulkhead", bulkhead(_awork), repeat=repeat)
    return group


def run(quick: bool) -> list[Group]:
    repeat = 3 if quick else 7
    return [
        _sync_breakers(repeat),
        _async_breakers(repeat),
        _open_breakers(repeat),
        _sync_bulkheads(repeat),
        _async_bulkheads(repeat),
    ]
