"""Time limits: ``deadline(seconds)`` / ``timeout(seconds)`` and ``TimeoutManager``.

A :class:`Deadline` sets rel-telemetry's ambient deadline for its block (nested
deadlines keep the earliest), so every rel package inside it caps its waits,
retries and child processes by the time left. Enforcement differs by kind of
code, honestly:

* async code is cancelled at the limit (``asyncio.timeout``), and
  :class:`DeadlineExceededError` is raised;
* sync code cannot be interrupted safely from outside (a signal could strike
  inside a ``finally`` or while a lock is held), so the block runs to its end;
  if the limit passed meanwhile, :class:`DeadlineExceededError` is raised at
  the exit and the block's result is discarded. Cooperative code calls
  :meth:`Deadline.check` or relies on rel packages honouring the ambient
  deadline to stop early.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from rel_guard._entries import pop_entry, push_entry
from rel_guard._errors import DeadlineExceededError
from rel_guard._validate import non_negative_seconds
from rel_telemetry import get_deadline, pop_deadline, push_deadline, time_remaining

P = ParamSpec("P")
R = TypeVar("R")


def remaining() -> float | None:
    """Seconds left before the ambient deadline (0 once passed), or None when none is set."""
    left = time_remaining()
    return None if left is None else max(0.0, left)


class Deadline:
    """A limit of ``seconds`` on a block or call: ``with``, ``async with``, decorator or :meth:`call`.

    The limit starts when the block is entered (for a decorator: at each
    call). One object may be used by many threads and tasks at once. Raises
    ValueError at construction unless ``seconds`` is a finite number >= 0.
    """

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        checked = non_negative_seconds("seconds", seconds)
        assert checked is not None
        self.seconds = checked

    def __repr__(self) -> str:
        return f"Deadline({self.seconds!r})"

    def remaining(self) -> float:
        """Seconds left inside the block (earliest enclosing deadline), else the full limit."""
        left = remaining()
        return self.seconds if left is None else left

    def expired(self) -> bool:
        """True once the ambient deadline in force has passed."""
        left = time_remaining()
        return left is not None and left <= 0

    def check(self) -> None:
        """Raise :class:`DeadlineExceededError` if the deadline in force has passed."""
        if self.expired():
            raise self._error()

    def _error(self) -> DeadlineExceededError:
        return DeadlineExceededError(
            f"deadline of {self.seconds:g} s exceeded (or an enclosing, earlier one); "
            "the work was stopped or its result discarded",
            seconds=self.seconds,
        )

    # -- sync --------------------------------------------------------------------
    def __enter__(self) -> Deadline:
        push_entry(self, push_deadline(self.seconds))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        token, _ = pop_entry(self)
        at = get_deadline()
        pop_deadline(token)
        if exc is None and at is not None and time.monotonic() >= at:
            raise self._error()

    # -- async -------------------------------------------------------------------
    async def __aenter__(self) -> Deadline:
        token = push_deadline(self.seconds)
        at = get_deadline()
        assert at is not None
        loop = asyncio.get_running_loop()
        scope = asyncio.timeout_at(loop.time() + (at - time.monotonic()))
        try:
            await scope.__aenter__()
        except BaseException:
            pop_deadline(token)
            raise
        push_entry(self, token, scope)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        token, scope = pop_entry(self)
        try:
            await scope.__aexit__(exc_type, exc, tb)
        except TimeoutError as expired:
            if isinstance(expired, DeadlineExceededError):
                raise
            raise self._error() from expired
        finally:
            pop_deadline(token)

    # -- decorator and direct call ------------------------------------------------
    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Limit every call of ``fn`` (sync or coroutine function) to ``seconds``."""
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                async with self:
                    return await fn(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with self:
                return fn(*args, **kwargs)

        return wrapper

    def call(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
        """Call ``fn(*args, **kwargs)`` under the limit; a coroutine function gives an awaitable."""
        return self(fn)(*args, **kwargs)

    async def call_async(self, fn: Callable[..., Awaitable[R]], /, *args: Any, **kwargs: Any) -> R:
        """Await ``fn(*args, **kwargs)`` under the limit."""
        async with self:
            return await fn(*args, **kwargs)


def deadline(seconds: float) -> Deadline:
    """Return a :class:`Deadline` of ``seconds``: sets the ambient deadline and enforces it.

    Nested deadlines keep the earliest. Raises ValueError unless ``seconds`` is
    a finite number >= 0.
    """
    return Deadline(seconds)


def timeout(seconds: float) -> Deadline:
    """Return a :class:`Deadline` of ``seconds`` (the same object :func:`deadline` returns)."""
    return Deadline(seconds)


class TimeoutManager:
    """Hands out time limits: ``async with TimeoutManager().timeout(30): ...``.

    Kept for code written against the ``TimeoutManager`` API; it holds no
    state, so one instance serves any number of threads and tasks.
    """

    def timeout(self, seconds: float) -> Deadline:
        """A :class:`Deadline` of ``seconds``; raises :class:`DeadlineExceededError` (a TimeoutError)."""
        return Deadline(seconds)

    def deadline(self, seconds: float) -> Deadline:
        """The same as :meth:`timeout`."""
        return Deadline(seconds)

    @staticmethod
    def remaining() -> float | None:
        """Seconds left before the ambient deadline, or None."""
        return remaining()
