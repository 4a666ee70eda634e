"""The ambient deadline: one absolute time every rel package honours.

rel-guard's ``deadline(seconds)`` sets it; rel-retry never sleeps past it and
rel-proc caps its timeouts by it. It lives here, in the package everything
depends on, so no package needs another to respect it. Times are
``time.monotonic()`` seconds; nested deadlines keep the earliest.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

_deadline: ContextVar[float | None] = ContextVar("rel_deadline", default=None)


def get_deadline() -> float | None:
    """Return the ambient deadline as a ``time.monotonic()`` instant, or None."""
    return _deadline.get()


def time_remaining() -> float | None:
    """Seconds left before the ambient deadline (may be <= 0), or None if unset."""
    at = _deadline.get()
    return None if at is None else at - time.monotonic()


def push_deadline(seconds: float) -> Token[float | None]:
    """Set the ambient deadline ``seconds`` from now, keeping an earlier one.

    Returns a token for :func:`pop_deadline`. ``seconds`` must be a finite number >= 0.
    """
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or seconds < 0
    ):
        raise ValueError(f"deadline seconds must be a finite number >= 0, got {seconds!r}")
    at = time.monotonic() + seconds
    current = _deadline.get()
    return _deadline.set(at if current is None else min(current, at))


def pop_deadline(token: Token[float | None]) -> None:
    """Restore the ambient deadline that was in force before :func:`push_deadline`."""
    _deadline.reset(token)


@contextmanager
def deadline_scope(seconds: float) -> Iterator[float]:
    """Hold an ambient deadline ``seconds`` from now for the block; yields its instant.

    This only sets the budget; enforcing it (cancelling, raising) is rel-guard's job.
    """
    token = push_deadline(seconds)
    try:
        at = _deadline.get()
        assert at is not None
        yield at
    finally:
        _deadline.reset(token)


def cap_timeout(timeout: float | None) -> float | None:
    """Return ``timeout`` shortened to the time left before the ambient deadline.

    None means "no limit"; the result is never negative.
    """
    left = time_remaining()
    if left is None:
        return timeout
    left = max(0.0, left)
    return left if timeout is None else min(timeout, left)
