"""Retries of transient OS errors and time limits on calls that may hang.

Transient errnos are the ones a second attempt can cure: an interrupted call,
a busy or temporarily unavailable resource, a stale NFS handle, a timed-out
network filesystem. A failed fsync is never among them (see ``_durable``).
A call given a ``timeout`` (or made under an ambient deadline) runs in a
daemon thread; a caller that stops waiting gets :class:`IOTimeoutError` while
the thread stays blocked in the kernel (a dead network mount). The thread
knows it was abandoned: a write then removes its temp instead of renaming it
over the target.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import math
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

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
    """Call ``fn``, retrying transient OS errors up to ``max_retries`` times with backoff.

    Inside an abandoned bounded call no further attempt starts.
    """
    if max_retries == 0:
        return fn()

    def attempt() -> T:
        check_abandoned()
        return fn()

    return retry_transient(attempt, max_retries, is_transient)


_ABANDONED: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "rel_io_abandoned", default=None
)


def check_abandoned() -> None:
    """Raise IOTimeoutError if this runs inside a bounded call whose caller stopped waiting.

    Writes call it just before their rename, so a write given up on by its
    caller removes its temp instead of landing later over newer content.
    """
    event = _ABANDONED.get()
    if event is not None and event.is_set():
        raise IOTimeoutError(
            "abandoned: the caller stopped waiting (timeout or deadline) before this step",
            errno=errno.ETIMEDOUT,
        )


def _timed_out(operation: str, path: str | os.PathLike[str], limit: float) -> IOTimeoutError:
    where = os.fspath(path)
    if limit <= 0:
        what = "was not started: the ambient deadline had already passed"
        todo = "give the enclosing deadline more time"
    else:
        what = f"did not finish within {limit:.2f} s; the filesystem may be hung (a dead network mount?)"
        todo = "check it, or raise timeout= (or the enclosing deadline)"
    return IOTimeoutError(
        f"{operation} of {where!r} {what}: {todo}",
        path=where,
        operation=operation,
        errno=errno.ETIMEDOUT,
    )


class _Outcome:
    __slots__ = ("done", "error", "finished", "value")

    def __init__(self) -> None:
        self.done = False
        self.finished = threading.Event()
        self.error: BaseException | None = None
        self.value: Any = None


class _Worker:
    """A daemon thread running bounded calls, parked for reuse between them.

    Starting a thread costs far more than handing a call to a waiting one.
    A call that hangs keeps its thread; the others stay free.
    """

    __slots__ = ("jobs",)

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="rel-io worker", daemon=True).start()

    def _serve(self) -> None:
        while True:
            job = self.jobs.get()
            job()  # never raises: bounded's target keeps every exception for its caller
            del job  # an idle thread must not keep the last call's data alive
            with _IDLE_LOCK:
                if len(_IDLE) >= _MAX_IDLE:
                    return
                _IDLE.append(self)


_MAX_IDLE = 4
_IDLE: list[_Worker] = []
_IDLE_LOCK = threading.Lock()


def _forget_workers() -> None:
    global _IDLE_LOCK
    _IDLE.clear()  # their threads did not survive the fork
    _IDLE_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)


def _submit(job: Callable[[], None]) -> None:
    with _IDLE_LOCK:
        worker = _IDLE.pop() if _IDLE else None
    if worker is None:
        worker = _Worker()
    worker.jobs.put(job)


def bounded(
    fn: Callable[[], T],
    timeout: float | None,
    operation: str,
    path: str | os.PathLike[str],
    *,
    release: Callable[[], None] | None = None,
) -> T:
    """Call ``fn``; if it has not returned within ``timeout`` s (capped by the ambient deadline) raise IOTimeoutError.

    With no limit ``fn`` runs in the caller's thread at no extra cost. With
    one it runs in a (reused) daemon thread; a caller that stops waiting marks the call
    abandoned (see :func:`check_abandoned`). A deadline already passed raises
    at once without calling ``fn``. ``release`` (e.g. unlocking what the
    caller holds for ``fn``) is called exactly once: by the caller when ``fn``
    finished or never started, else by the worker thread when ``fn`` finally
    returns, so what ``fn`` relies on is held until it stops.
    """
    handed_over = False
    try:
        limit = cap_timeout(timeout)
        if limit is None:
            return fn()
        if limit <= 0:
            raise _timed_out(operation, path, limit)
        outcome = _Outcome()
        abandoned = threading.Event()
        guard = threading.Lock()
        context = contextvars.copy_context()  # the span and the deadline follow the call

        def target() -> None:
            _ABANDONED.set(abandoned)
            try:
                outcome.value = fn()
            except BaseException as exc:  # handed to the waiting caller below
                outcome.error = exc
            finally:
                with guard:
                    outcome.done = True
                    late = abandoned.is_set()
                outcome.finished.set()
                if late and release is not None:
                    with contextlib.suppress(Exception):  # nobody is left to tell
                        release()

        _submit(lambda: context.run(target))
        try:
            outcome.finished.wait(limit)
        finally:  # also on KeyboardInterrupt while waiting
            with guard:
                if not outcome.done:
                    abandoned.set()
                    handed_over = True
        if handed_over:
            raise _timed_out(operation, path, limit)
        if outcome.error is not None:
            raise outcome.error
        return outcome.value  # type: ignore[no-any-return]
    finally:
        if release is not None and not handed_over:
            release()
