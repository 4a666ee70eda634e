from __future__ import annotations

import asyncio

import pytest
from retry_helpers import Flaky

from rel_retry import Attempt, RetryConfig, retry_context
from rel_telemetry.testing import capture_spans

FAST = RetryConfig(base_delay_seconds=0.001, max_delay_seconds=0.01)


def _run_block(fn: Flaky, block: retry_context) -> None:
    for attempt in block:
        with attempt:
            fn()


def test_block_is_retried_until_it_succeeds() -> None:
    """`for attempt in retry_context(...): with attempt:` re-runs the block on transient errors."""
    fn = Flaky(ConnectionError("a"), ConnectionError("b"), result=3)
    seen: list[int] = []
    for attempt in retry_context(FAST):
        with attempt:
            seen.append(attempt.number)
            value = fn()
    assert value == 3
    assert seen == [1, 2, 3]


def test_block_exhaustion_reraises_with_a_note() -> None:
    """A block that keeps failing raises its last exception with a note naming the block."""
    errors = [ConnectionError(str(i)) for i in range(3)]
    fn = Flaky(*errors)
    with pytest.raises(ConnectionError) as info:
        _run_block(fn, retry_context(FAST, max_retries=2, name="sync orders"))
    assert info.value is errors[-1]
    assert info.value.__notes__[0].startswith("rel_retry: sync orders failed after 3 attempt(s)")


def test_block_permanent_error_is_not_retried() -> None:
    """A ValueError in the block fails at once."""
    fn = Flaky(ValueError("bad"), result=1)
    with pytest.raises(ValueError, match="bad"):
        _run_block(fn, retry_context(FAST))
    assert fn.calls == 1


def test_block_interrupt_propagates() -> None:
    """KeyboardInterrupt inside the block is never swallowed."""
    fn = Flaky(ConnectionError("a"), KeyboardInterrupt(), result=1)
    with pytest.raises(KeyboardInterrupt):
        _run_block(fn, retry_context(FAST))
    assert fn.calls == 2


async def test_async_block_is_retried() -> None:
    """`async for` with `async with attempt` retries in a coroutine."""
    fn = Flaky(TimeoutError("a"), result=5)
    async for attempt in retry_context(FAST):
        async with attempt:
            value = fn()
    assert value == 5
    assert isinstance(attempt, Attempt)
    assert attempt.number == 2
    assert attempt.context is not None
    assert attempt.context.attempts == 2


async def test_async_block_wait_is_cancellable() -> None:
    """A cancelled task stops waiting between block attempts at once."""
    fn = Flaky(*[ConnectionError("x")] * 5)

    async def run() -> None:
        async for attempt in retry_context(
            RetryConfig(base_delay_seconds=30, max_delay_seconds=30, jitter="none")
        ):
            async with attempt:
                fn()

    task = asyncio.create_task(run())
    while fn.calls == 0:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=5)
    assert fn.calls == 1


def test_block_span_only_after_a_failure() -> None:
    """A block that succeeds first time has no span; a retried one has one."""
    with capture_spans() as spans:
        for attempt in retry_context(FAST, name="quiet"):
            with attempt:
                pass
        fn = Flaky(ConnectionError("a"), result=1)
        for attempt in retry_context(FAST, name="noisy"):
            with attempt:
                fn()
    assert spans.names() == ["retry noisy"]


def test_retry_context_tracks_the_call() -> None:
    """The RetryContext exposes attempts, errors, waits and elapsed time."""
    errors = [ConnectionError("a"), ConnectionError("b")]
    fn = Flaky(*errors, result=1)
    contexts = []
    for attempt in retry_context(FAST):
        with attempt:
            contexts.append(attempt.context)
            fn()
    ctx = contexts[-1]
    assert ctx is not None
    assert ctx.attempts == 3
    assert ctx.last_error is errors[-1]
    assert len(ctx.delays) == 2
    assert ctx.total_delay == pytest.approx(sum(ctx.delays))
    assert ctx.elapsed >= ctx.total_delay


@pytest.mark.parametrize("jitter", ["full", "equal", "decorrelated", "none"])
def test_seeded_waits_repeat_exactly(jitter: str) -> None:
    """Two runs of the same seeded policy wait exactly the same amounts."""
    config = RetryConfig(base_delay_seconds=0.001, max_delay_seconds=0.02, jitter_seed=99, jitter=jitter)  # type: ignore[arg-type]

    def waits() -> list[float]:
        fn = Flaky(*[ConnectionError("x")] * 3, result=1)
        ctx = None
        for attempt in retry_context(config):
            with attempt:
                ctx = attempt.context
                fn()
        assert ctx is not None
        return list(ctx.delays)

    first = waits()
    assert len(first) == 3
    assert first == waits()
    assert all(0.0 <= w <= 0.02 for w in first)
