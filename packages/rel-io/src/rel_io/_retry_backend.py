"""The retry loop behind rel-io's transient-error retries."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from rel_telemetry import time_remaining

T = TypeVar("T")

BASE_DELAY_SECONDS = 0.05
MAX_DELAY_SECONDS = 1.0


def retry_transient(fn: Callable[[], T], max_retries: int, retryable: Callable[[BaseException], bool]) -> T:
    """Call ``fn``; on a ``retryable`` error wait (exponential backoff) and try again."""
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            if attempt >= max_retries or not retryable(exc):
                raise
            delay = min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * (2**attempt))
            left = time_remaining()
            if left is not None and left <= delay:
                raise
            attempt += 1
            time.sleep(delay)
