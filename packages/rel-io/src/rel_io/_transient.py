"""Retries of transient OS errors and time limits on calls that may hang.

Transient errnos are the ones a second attempt can cure: an interrupted call,
a busy or temporarily unavailable resource, a stale NFS handle, a timed-out
network filesystem. A failed fsync is never among them (see ``_durable``).
A call given a ``timeout`` runs in a daemon thread; a caller that stops
waiting gets :class:`IOTimeoutError` while the thread stays blocked in the
kernel (a dead network mount), harmlessly.
"""

from __future__ import annotations

import contextvars
import errno
import math
import os
import threading
from collections.abc import Callable
from typing import TypeVar

from rel_io._errors import IOTimeoutError
from rel_io._retry_backend import retry_transient
from rel_telemetry import cap_timeout

T = TypeVar("T")

DEFAULT_MAX_RETRIES = 3

TRANSIENT_ERRNOS: frozenset[int] = frozenset(
    code
    for code in (
        errno.EINTR,
        errno.EAGAIN,
        errno.EWOULDBLOCK,
        errno.EBUSY,
        getattr(errno, "ESTALE", None),
        errno.ETIMEDOUT,
        errno.ENOLCK,
        errno.EDEADLK,
    )
    if code is not None
)


def is_transient(exc: BaseException) -> bool:
    """True for an OSError a retry may cure; never for a failed fsync or a timeout of ours."""
    return (
        isinstance(exc, OSError)
        and exc.errno in TRANSIENT_ERRNOS
        and not getattr(exc, "fsync_failed", False)
        and not isinstance(exc, IOTimeoutError)
    )


def check_retry_args(max_retries: int, timeout: float | None) -> None:
    """Raise ValueError for a bad ``max_retries`` or ``timeout`` (naming the accepted range)."""
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or not 0 <= max_retries <= 100:
        raise ValueError(f"max_retries must be an int in [0, 100], got {max_retries!r}")
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or math.isnan(timeout)
        or timeout <= 0
    ):
        raise ValueError(f"timeout must be None or a number of seconds > 0, got {timeout!r}")


def with_retries(fn: Callable[[], T], max_retries: int) -> T:
    """Call ``fn``, retrying transient OS errors up to ``max_retries`` times with backoff."""
    return retry_transient(fn, max_retries, is_transient)


def bounded(fn: Callable[[], T], timeout: float | None, operation: str, path: str | os.PathLike[str]) -> T:
    """Call ``fn``; if it has not returned within ``timeout`` s (capped by the ambient deadline) raise IOTimeoutError."""
    limit = cap_timeout(timeout)
    if limit is None:
        return fn()
    results: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            results.append(fn())
        except BaseException as exc:  # handed to the waiting caller below
            errors.append(exc)

    context = contextvars.copy_context()  # the span and the deadline follow the call into the thread
    worker = threading.Thread(target=context.run, args=(target,), name=f"rel-io {operation}", daemon=True)
    worker.start()
    worker.join(limit)
    if not results and not errors:
        where = os.fspath(path)
        raise IOTimeoutError(
            f"{operation} of {where!r} did not finish within {limit:.2f} s; the filesystem may be hung "
            "(a dead network mount?): check it, or raise timeout=",
            path=where,
            operation=operation,
            errno=errno.ETIMEDOUT,
        )
    if errors:
        raise errors[0]
    return results[0]
