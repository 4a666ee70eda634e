from __future__ import annotations

import time

import pytest

from rel_guard import (
    Bulkhead,
    BulkheadConfig,
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitState,
    compose,
    deadline,
)
from rel_retry import RetryConfig, retry_with_backoff


def test_retry_outside_breaker_waits_for_the_probe() -> None:
    """compose(retry, bulkhead, breaker): the retry honours the open breaker's retry_after and
    succeeds through the half-open probe once the dependency recovers."""
    calls: list[float] = []
    recovered_at = time.monotonic() + 0.3

    def dependency() -> str:
        calls.append(time.monotonic())
        if time.monotonic() < recovered_at:
            raise ConnectionError("dependency down")
        return "ok"

    breaker = CircuitBreaker(
        CircuitBreakerConfig(failure_threshold=2, recovery_timeout=0.4, expected_exception=ConnectionError)
    )
    guarded = compose(
        retry_with_backoff(RetryConfig(max_retries=10, base_delay_seconds=0.01, max_delay_seconds=1.0)),
        Bulkhead(BulkheadConfig(max_concurrent_calls=1)),
        breaker,
    )(dependency)
    assert guarded() == "ok"
    # Two failures opened the breaker; the retry then waited for the probe instead of
    # hammering: the dependency saw only the failures that count plus the probe.
    assert len(calls) == 3
    assert calls[2] - calls[1] >= 0.3
    assert breaker.state is CircuitState.CLOSED


def test_deadline_outermost_bounds_the_whole_stack() -> None:
    """A deadline outside retry + breaker ends the call at the deadline, not after 10 retries."""
    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=100, expected_exception=ConnectionError))

    def down() -> None:
        raise ConnectionError("down")

    guarded = compose(
        deadline(0.4),
        retry_with_backoff(RetryConfig(max_retries=10, base_delay_seconds=1.0, jitter="none")),
        breaker,
    )(down)
    start = time.monotonic()
    with pytest.raises((ConnectionError, TimeoutError)):
        guarded()
    assert time.monotonic() - start < 3.0
    assert breaker.stats().failures >= 1
