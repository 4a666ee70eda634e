from __future__ import annotations

import sys
import time

import pytest

from rel_guard import DeadlineExceededError, deadline
from rel_proc import ProcessTimeoutError, run, run_sync
from rel_retry import RetryConfig, async_retry_with_backoff, retry_with_backoff


def _always_fails() -> None:
    raise ConnectionError("down")


def test_deadline_caps_retry_waits() -> None:
    """Retries stop at the rel-guard deadline instead of sleeping through 10 s waits."""
    config = RetryConfig(max_retries=10, base_delay_seconds=10.0, max_delay_seconds=10.0, jitter="none")
    start = time.monotonic()
    with pytest.raises(ConnectionError) as info, deadline(0.5):
        retry_with_backoff(_always_fails, config)
    assert time.monotonic() - start < 3.0
    assert any("deadline" in note for note in info.value.__notes__)


async def test_deadline_caps_async_retry_waits() -> None:
    """The async retry loop honours the deadline set by rel-guard too."""

    async def fails() -> None:
        raise TimeoutError("slow upstream")

    config = RetryConfig(max_retries=10, base_delay_seconds=10.0, max_delay_seconds=10.0, jitter="none")
    start = time.monotonic()
    with pytest.raises((TimeoutError, DeadlineExceededError)):
        async with deadline(0.5):
            await async_retry_with_backoff(fails, config)
    assert time.monotonic() - start < 3.0


def test_deadline_caps_process_timeout() -> None:
    """A child that would sleep 30 s is ended near the 0.5 s deadline (timeout=60 asked)."""
    start = time.monotonic()
    with pytest.raises(ProcessTimeoutError), deadline(0.5):
        run_sync(sys.executable, "-c", "import time; time.sleep(30)", timeout=60, grace=0.2)
    assert time.monotonic() - start < 5.0


async def test_deadline_caps_async_process_without_timeout() -> None:
    """With no timeout at all, the ambient deadline still bounds an async run."""
    start = time.monotonic()
    with pytest.raises((ProcessTimeoutError, DeadlineExceededError)):
        async with deadline(0.5):
            await run(sys.executable, "-c", "import time; time.sleep(30)", grace=0.2)
    assert time.monotonic() - start < 5.0
