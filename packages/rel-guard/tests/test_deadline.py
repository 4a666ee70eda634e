"""deadline / timeout / TimeoutManager: ambient deadline, nesting, enforcement."""

from __future__ import annotations

import asyncio
import pickle
import time

import pytest

import rel_telemetry
from rel_guard import (
    DeadlineExceededError,
    GuardError,
    TimeoutManager,
    deadline,
    remaining,
    timeout,
)


def test_deadline_sets_the_ambient_deadline_and_restores_it() -> None:
    """Inside the block rel-telemetry sees the deadline; afterwards it is gone."""
    assert remaining() is None
    with deadline(5) as d:
        left = rel_telemetry.time_remaining()
        assert left is not None
        assert 4 < left <= 5
        assert 4 < d.remaining() <= 5
        assert rel_telemetry.cap_timeout(60) == pytest.approx(left, abs=0.5)
    assert rel_telemetry.get_deadline() is None
    assert remaining() is None


def test_nested_deadlines_keep_the_earliest() -> None:
    """An inner, later deadline does not extend an outer one; an inner, earlier one shortens it."""
    with deadline(1):
        with deadline(100):
            left = remaining()
            assert left is not None
            assert left <= 1
        with deadline(0.5):
            left = remaining()
            assert left is not None
            assert left <= 0.5
        left = remaining()
        assert left is not None
        assert 0.5 < left <= 1


async def test_async_block_is_cancelled_at_the_limit() -> None:
    """async with timeout(s) cancels the block and raises DeadlineExceededError, a TimeoutError."""
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError) as expired:
        async with timeout(0.05):
            await asyncio.sleep(30)
    assert isinstance(expired.value, DeadlineExceededError)
    assert isinstance(expired.value, GuardError)
    assert expired.value.seconds == 0.05
    assert time.monotonic() - started < 10
    assert remaining() is None


async def test_outer_deadline_cancels_an_inner_longer_timeout() -> None:
    """The earliest deadline wins even when the inner limit is longer."""
    with pytest.raises(DeadlineExceededError):
        async with deadline(0.05), timeout(30):
            await asyncio.sleep(30)


async def test_deadline_propagates_to_child_tasks() -> None:
    """Tasks created inside the block inherit the ambient deadline."""
    async with deadline(5):

        async def child() -> float | None:
            return remaining()

        left = await asyncio.create_task(child())
    assert left is not None
    assert 0 < left <= 5


def test_sync_overrun_raises_at_exit_and_check_raises_inside() -> None:
    """Sync code runs to the end; the overrun is reported at exit, and check() stops early."""
    finished = []

    def overrun() -> None:
        with timeout(0.01):
            time.sleep(0.03)
            finished.append(1)

    def cooperative() -> None:
        with deadline(0.01) as d:
            time.sleep(0.03)
            d.check()
            finished.append(2)

    with pytest.raises(DeadlineExceededError):
        overrun()
    assert finished == [1]
    with pytest.raises(DeadlineExceededError):
        cooperative()
    assert finished == [1]


def test_a_block_that_finishes_in_time_returns_normally() -> None:
    """No error when the work ends before the limit; exceptions pass through unchanged."""
    with timeout(5):
        pass
    with pytest.raises(KeyError), timeout(5):
        raise KeyError("x")


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_decorator_and_call_forms(kind: str) -> None:
    """@deadline(s) limits each call afresh; call() limits one call."""
    if kind == "sync":

        @deadline(5)
        def inner() -> float | None:
            return remaining()

        assert 0 < (inner() or 0) <= 5
        assert deadline(5).call(remaining) is not None
        assert remaining() is None
    else:

        @deadline(0.05)
        async def slow() -> None:
            await asyncio.sleep(30)

        with pytest.raises(DeadlineExceededError):
            await slow()
        with pytest.raises(DeadlineExceededError):
            await deadline(0.05).call(slow)


async def test_timeout_manager() -> None:
    """TimeoutManager().timeout and .deadline hand out limits; remaining() reads the ambient one."""
    manager = TimeoutManager()
    async with manager.timeout(5):
        left = manager.remaining()
        assert left is not None
        assert left <= 5
    with pytest.raises(DeadlineExceededError):
        async with manager.deadline(0.01):
            await asyncio.sleep(30)


def test_zero_seconds_is_already_expired() -> None:
    """deadline(0) is allowed, has no time left, and its block reports the overrun."""
    seen = []
    with pytest.raises(DeadlineExceededError), deadline(0) as d:
        seen.append((d.expired(), d.remaining()))
    assert seen == [(True, 0)]


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "5", True, None])
def test_invalid_seconds(bad: object) -> None:
    """Negative, non-finite or non-numeric limits raise ValueError naming the parameter."""
    with pytest.raises(ValueError, match="seconds"):
        deadline(bad)  # type: ignore[arg-type]


def test_deadline_error_message_and_pickling() -> None:
    """DeadlineExceededError takes a message, is an OSError-free TimeoutError subclass, and pickles."""
    error = DeadlineExceededError("Processing deadline exceeded")
    assert str(error) == "Processing deadline exceeded"
    assert isinstance(error, TimeoutError)
    again = pickle.loads(pickle.dumps(DeadlineExceededError("late", seconds=2.0)))
    assert (str(again), again.seconds) == ("late", 2.0)


async def test_deadline_propagates_to_worker_threads() -> None:
    """asyncio.to_thread carries the ambient deadline into the worker thread."""
    async with deadline(5):
        left = await asyncio.to_thread(remaining)
    assert left is not None
    assert 0 < left <= 5
