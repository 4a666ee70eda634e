"""compose() stacks any decorators, outermost first."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

import pytest
from conftest import FakeClock

from rel_guard import (
    Bulkhead,
    BulkheadConfig,
    BulkheadFullError,
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitBreakerOpenError,
    compose,
    deadline,
)


def tag(name: str, log: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            log.append(f"enter {name}")
            try:
                return fn(*args, **kwargs)
            finally:
                log.append(f"leave {name}")

        return wrapper

    return decorator


def test_first_policy_is_outermost() -> None:
    """compose(a, b)(f) == a(b(f)): a is entered first and left last."""
    log: list[str] = []
    stacked = compose(tag("a", log), tag("b", log))(lambda: log.append("call"))
    stacked()
    assert log == ["enter a", "enter b", "call", "leave b", "leave a"]


def simple_retry(times: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A plain retry decorator standing in for rel-retry's (any decorator works)."""

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(times):
                try:
                    return fn(*args, **kwargs)
                except ConnectionError:
                    if attempt == times - 1:
                        raise
            raise AssertionError("unreachable")

        return wrapper

    return decorator


def test_retry_outside_the_breaker_stops_at_an_open_breaker() -> None:
    """With the retry outside, each attempt counts and an open breaker ends the retries fast."""
    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=3, recovery_timeout=60))
    calls = 0

    def flaky() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("down")

    guarded = compose(simple_retry(5), breaker)(flaky)
    with pytest.raises(CircuitBreakerOpenError):
        guarded()
    assert calls == 3  # the fourth attempt was refused, and refusals are not retried
    assert breaker.stats().failures == 3


def test_the_result_is_reusable_and_keeps_metadata() -> None:
    """One composed decorator applies to many functions and keeps their names."""
    policy = compose(Bulkhead(BulkheadConfig(max_concurrent_calls=2)), CircuitBreaker())

    @policy
    def one() -> int:
        return 1

    @policy
    def two() -> int:
        return 2

    assert (one(), two()) == (1, 2)
    assert (one.__name__, two.__name__) == ("one", "two")


async def test_async_policies_compose() -> None:
    """Bulkhead, breaker and deadline stack on a coroutine function."""
    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=1))
    policy = compose(Bulkhead(BulkheadConfig(max_concurrent_calls=1)), breaker, deadline(0.05))

    @policy
    async def slow() -> None:
        await asyncio.sleep(30)

    with pytest.raises(TimeoutError):
        await slow()
    with pytest.raises(CircuitBreakerOpenError):
        await slow()


def test_non_callable_policies_are_rejected() -> None:
    """compose() raises TypeError naming the position of a non-callable argument."""
    with pytest.raises(TypeError, match="argument 1"):
        compose(CircuitBreaker(), 3)  # type: ignore[arg-type]


def hinted_retry(
    times: int, backoff: float, sleep: Callable[[float], None]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A retry loop that reads ``retry_after`` the way rel-retry does: a hint lengthens the backoff."""

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(times):
                try:
                    return fn(*args, **kwargs)
                except Exception as exc:
                    if attempt == times - 1:
                        raise
                    hint = getattr(exc, "retry_after", None)
                    sleep(backoff if hint is None else max(backoff, hint))
            raise AssertionError("unreachable")

        return wrapper

    return decorator


def test_a_retry_around_an_open_breaker_waits_for_the_probe() -> None:
    """retry_after makes the retry sleep until the breaker probes, instead of spinning on refusals."""
    clock = FakeClock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=2, recovery_timeout=30, clock=clock))
    outcomes = iter([ConnectionError("down"), ConnectionError("down"), None])

    def dependency() -> str:
        error = next(outcomes)
        if error is not None:
            raise error
        return "up"

    guarded = compose(hinted_retry(5, 0.1, sleep), breaker)(dependency)
    assert guarded() == "up"
    # Two failures with the plain backoff open the breaker; the one refusal's hint
    # is the rest of recovery_timeout, after which the probe goes through.
    assert slept == [0.1, 0.1, pytest.approx(30 - 0.1)]
    stats = breaker.stats()
    assert (stats.rejected, stats.state.value) == (1, "closed")


def test_a_retry_around_a_full_bulkhead_keeps_its_own_backoff() -> None:
    """A bulkhead cannot say when a slot frees: retry_after is None and the retry's backoff applies."""
    slept: list[float] = []
    bulkhead = Bulkhead(BulkheadConfig(max_concurrent_calls=1, max_wait_duration=0))
    guarded = compose(hinted_retry(3, 0.25, slept.append), bulkhead)(lambda: "done")
    with bulkhead, pytest.raises(BulkheadFullError) as refused:
        guarded()
    assert refused.value.retry_after is None
    assert slept == [0.25, 0.25]
    assert guarded() == "done"
