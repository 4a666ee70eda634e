"""The retry loop behind rel-io's transient-error retries: rel-retry, one policy per retry count."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from rel_retry import RetryConfig, retry_with_backoff

T = TypeVar("T")

BASE_DELAY_SECONDS = 0.05
MAX_DELAY_SECONDS = 1.0


@functools.lru_cache(maxsize=32)
def _policy(max_retries: int, retryable: Callable[[BaseException], bool]) -> RetryConfig:
    return RetryConfig(
        max_retries=max_retries,
        base_delay_seconds=BASE_DELAY_SECONDS,
        multiplier=2.0,
        max_delay_seconds=MAX_DELAY_SECONDS,
        retry_on=retryable,
        name="rel_io transient",
    )


def retry_transient(fn: Callable[[], T], max_retries: int, retryable: Callable[[BaseException], bool]) -> T:
    """Call ``fn``; on a ``retryable`` error wait (jittered exponential backoff) and try again.

    The final failure is the original exception, with a note of the attempts.
    """
    if max_retries == 0:
        return fn()
    result: T = retry_with_backoff(fn, _policy(max_retries, retryable))
    return result
