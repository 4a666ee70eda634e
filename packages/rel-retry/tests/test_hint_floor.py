from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from rel_retry import RetryConfig, async_retry_with_backoff, retry_with_backoff


class RetryNow(Exception):
    """A callee that says "retry now" (a circuit breaker whose probes are in flight does)."""

    retry_after = 0.0


def _flaky(failures: int) -> tuple[list[float], object]:
    calls: list[float] = []

    def fn() -> str:
        calls.append(time.monotonic())
        if len(calls) <= failures:
            raise RetryNow("busy")
        return "ok"

    return calls, fn


def test_zero_hint_keeps_the_backoff() -> None:
    """A hint of 0 never shortens the computed backoff: no busy loop of immediate retries."""
    calls, fn = _flaky(3)
    config = RetryConfig(
        base_delay_seconds=0.05, multiplier=1.0, jitter="none", retryable_exceptions=(RetryNow,)
    )
    assert retry_with_backoff(fn, config) == "ok"
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert len(gaps) == 3
    assert all(gap >= 0.04 for gap in gaps)


def test_longer_hint_still_lengthens_the_wait() -> None:
    """A hint longer than the backoff is honoured."""

    class Later(Exception):
        retry_after = 0.3

    calls: list[float] = []

    def fn() -> str:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise Later
        return "ok"

    config = RetryConfig(base_delay_seconds=0.001, jitter="none", retryable_exceptions=(Later,))
    assert retry_with_backoff(fn, config) == "ok"
    assert calls[1] - calls[0] >= 0.25


async def test_zero_hint_keeps_the_backoff_async() -> None:
    """The async loop follows the same rule."""
    calls, fn = _flaky(2)

    async def afn() -> object:
        await asyncio.sleep(0)
        return fn()  # type: ignore[operator]

    config = RetryConfig(
        base_delay_seconds=0.05, multiplier=1.0, jitter="none", retryable_exceptions=(RetryNow,)
    )
    assert await async_retry_with_backoff(afn, config) == "ok"
    assert calls[2] - calls[0] >= 0.08


@pytest.mark.parametrize("hint", [0.0, -5.0])
def test_hint_in_the_past_is_not_a_shortcut(hint: float) -> None:
    """A hint at or before now is treated as "no earlier than the backoff"."""

    class Past(Exception):
        retry_after = hint

    calls: list[float] = []

    def fn() -> str:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise Past
        return "ok"

    config = RetryConfig(base_delay_seconds=0.05, jitter="none", retryable_exceptions=(Past,))
    assert retry_with_backoff(fn, config) == "ok"
    assert calls[1] - calls[0] >= 0.04
