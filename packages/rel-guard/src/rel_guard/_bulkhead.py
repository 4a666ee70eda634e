"""`Bulkhead`: at most N calls inside at once, for threads and asyncio tasks alike.

One instance serves threads and any number of event loops together: its
state is a counter and a FIFO queue behind a short ``threading.Lock`` (held
for a few attribute updates, never while waiting). The uncontended path is
the lock plus a counter, cheaper than ``threading.Semaphore``'s condition
variable. A leaving caller hands its slot directly to the oldest waiter, so
newcomers never overtake the queue. A waiter that times out or is cancelled
either leaves the queue or, if a slot reached it in the same instant, passes
that slot on: permits never leak.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast

from rel_guard._errors import BulkheadFullError, DeadlineExceededError
from rel_guard._telemetry import BULKHEAD_REJECTIONS, BULKHEAD_WAIT, add_span_event, metrics_enabled
from rel_guard._validate import non_negative_seconds, positive_int
from rel_telemetry import attributes, cap_timeout

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class BulkheadConfig:
    """How many calls a :class:`Bulkhead` admits and how long others queue.

    ``max_concurrent_calls`` (>= 1) calls run at once; others wait in FIFO
    order up to ``max_wait_duration`` seconds (0: refuse at once; None: wait
    without limit, still capped by the ambient deadline) and then get
    :class:`BulkheadFullError`. Raises ValueError naming a bad parameter.
    """

    max_concurrent_calls: int = 10
    max_wait_duration: float | None = 0.0
    name: str | None = None

    def __post_init__(self) -> None:
        positive_int("max_concurrent_calls", self.max_concurrent_calls)
        non_negative_seconds("max_wait_duration", self.max_wait_duration, allow_none=True)
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise ValueError(f"name must be a non-empty string or None, got {self.name!r}")


@dataclass(frozen=True, slots=True)
class BulkheadStats:
    """A consistent snapshot: calls inside, queued, admitted and refused so far."""

    name: str
    max_concurrent_calls: int
    active: int
    waiting: int
    accepted: int
    rejected: int


class _ThreadWaiter:
    __slots__ = ("granted", "signal")

    def __init__(self) -> None:
        self.granted = False
        self.signal = threading.Lock()
        self.signal.acquire()

    def wake(self) -> bool:
        self.signal.release()
        return True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _TaskWaiter:
    __slots__ = ("future", "granted", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.granted = False
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()

    def wake(self) -> bool:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            _resolve(self.future)
            return True
        try:
            self.loop.call_soon_threadsafe(_resolve, self.future)
        except RuntimeError:
            return False  # its loop is closed: nobody will take the slot
        return True


_Waiter = _ThreadWaiter | _TaskWaiter


class Bulkhead:
    """Limit concurrent calls: decorator, ``with``, ``async with`` or :meth:`call`.

    ``Bulkhead(BulkheadConfig(max_concurrent_calls=4, max_wait_duration=10, name="cpu"))``.
    Raises :class:`BulkheadFullError` when no slot frees up in time, or
    :class:`DeadlineExceededError` when the ambient deadline ends the wait first.
    """

    __slots__ = (
        "_accepted",
        "_active",
        "_lock",
        "_max",
        "_max_wait",
        "_rejected",
        "_waiters",
        "config",
        "name",
    )

    def __init__(self, config: BulkheadConfig | None = None, *, name: str | None = None) -> None:
        if config is None:
            config = BulkheadConfig()
        elif not isinstance(config, BulkheadConfig):
            raise ValueError(f"config must be a BulkheadConfig, got {config!r}")
        self.config = config
        self.name: str = name or config.name or "bulkhead"
        self._max = config.max_concurrent_calls
        self._max_wait = config.max_wait_duration
        self._lock = threading.Lock()
        self._active = 0
        self._accepted = 0
        self._rejected = 0
        self._waiters: deque[_Waiter] = deque()

    def __repr__(self) -> str:
        return f"Bulkhead(name={self.name!r}, active={self._active}, max_concurrent_calls={self._max})"

    def stats(self) -> BulkheadStats:
        """Calls inside, waiting, admitted and refused, read together."""
        with self._lock:
            return BulkheadStats(
                self.name, self._max, self._active, len(self._waiters), self._accepted, self._rejected
            )

    # -- permits -----------------------------------------------------------------------
    def _wait_budget(self) -> tuple[float | None, bool]:
        """Seconds to queue and whether the ambient deadline is what limits them."""
        budget = cap_timeout(self._max_wait)
        by_deadline = budget is not None and (self._max_wait is None or budget < self._max_wait)
        return budget, by_deadline

    def _refuse(self, by_deadline: bool) -> Exception:
        error: Exception
        if by_deadline:
            error = DeadlineExceededError(
                f"the deadline passed while waiting for a slot in bulkhead {self.name!r}"
            )
        else:
            error = BulkheadFullError(self.name, self._max, self._max_wait)
        attrs = {attributes.GUARD_NAME: self.name}
        if metrics_enabled():
            BULKHEAD_REJECTIONS.add(1, attrs)
        add_span_event(
            "rel.guard.bulkhead.rejected",
            {
                **attrs,
                attributes.GUARD_BULKHEAD_ACTIVE: self._active,
                attributes.GUARD_BULKHEAD_WAITING: len(self._waiters),
            },
        )
        return error

    def _abandon(self, waiter: _Waiter, count_rejection: bool) -> bool:
        """Take ``waiter`` out of the queue; True if a slot already reached it."""
        with self._lock:
            if waiter.granted:
                return True
            self._waiters.remove(waiter)
            if count_rejection:
                self._rejected += 1
            return False

    def acquire(self) -> None:
        """Take a slot, queueing up to ``max_wait_duration``; pair with :meth:`release`."""
        lock = self._lock
        lock.acquire()
        if self._active < self._max and not self._waiters:
            self._active += 1
            self._accepted += 1
            lock.release()
            return
        budget, by_deadline = self._wait_budget()
        if budget is not None and budget <= 0:
            self._rejected += 1
            lock.release()
            raise self._refuse(by_deadline)
        waiter = _ThreadWaiter()
        self._waiters.append(waiter)
        lock.release()
        started = time.monotonic()
        try:
            got = waiter.signal.acquire(timeout=-1 if budget is None else budget)
        except BaseException:
            if self._abandon(waiter, count_rejection=False):
                self.release()
            raise
        if got or self._abandon(waiter, count_rejection=True):
            self._note_wait(started)
            return
        raise self._refuse(by_deadline)

    async def acquire_async(self) -> None:
        """Take a slot without blocking the event loop; cancellation never leaks it."""
        lock = self._lock
        lock.acquire()
        if self._active < self._max and not self._waiters:
            self._active += 1
            self._accepted += 1
            lock.release()
            return
        budget, by_deadline = self._wait_budget()
        if budget is not None and budget <= 0:
            self._rejected += 1
            lock.release()
            raise self._refuse(by_deadline)
        try:
            waiter = _TaskWaiter(asyncio.get_running_loop())
        except BaseException:
            lock.release()
            raise
        self._waiters.append(waiter)
        lock.release()
        started = time.monotonic()
        try:
            if budget is None:
                await waiter.future
            else:
                async with asyncio.timeout(budget):
                    await waiter.future
        except TimeoutError:
            if not self._abandon(waiter, count_rejection=True):
                raise self._refuse(by_deadline) from None
        except BaseException:
            if self._abandon(waiter, count_rejection=False):
                self.release()
            raise
        self._note_wait(started)

    def _note_wait(self, started: float) -> None:
        with self._lock:
            self._accepted += 1
        if metrics_enabled():
            BULKHEAD_WAIT.record(time.monotonic() - started, {attributes.GUARD_NAME: self.name})

    def release(self) -> None:
        """Give a slot back, handing it to the oldest waiter if any.

        Raises RuntimeError if no slot is held.
        """
        lock = self._lock
        while True:
            lock.acquire()
            waiters = self._waiters
            if not waiters:
                if self._active <= 0:
                    lock.release()
                    raise RuntimeError(f"bulkhead {self.name!r} released more often than acquired")
                self._active -= 1
                lock.release()
                return
            waiter = waiters.popleft()
            waiter.granted = True
            lock.release()
            if waiter.wake():
                return

    # -- context managers ----------------------------------------------------------------
    def __enter__(self) -> Bulkhead:
        lock = self._lock
        lock.acquire()
        if self._active < self._max and not self._waiters:
            self._active += 1
            self._accepted += 1
            lock.release()
            return self
        lock.release()
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    async def __aenter__(self) -> Bulkhead:
        lock = self._lock
        lock.acquire()
        if self._active < self._max and not self._waiters:
            self._active += 1
            self._accepted += 1
            lock.release()
            return self
        lock.release()
        await self.acquire_async()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    # -- decorator and direct calls --------------------------------------------------------
    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Run every call of ``fn`` (sync or coroutine function) inside the bulkhead."""
        # The uncontended admission is inlined: no context-manager calls per call.
        lock = self._lock
        release = self.release
        if inspect.iscoroutinefunction(fn):
            acquire_async = self.acquire_async

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                lock.acquire()
                if self._active < self._max and not self._waiters:
                    self._active += 1
                    self._accepted += 1
                    lock.release()
                else:
                    lock.release()
                    await acquire_async()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    release()

            return async_wrapper  # type: ignore[return-value]

        acquire = self.acquire

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            lock.acquire()
            if self._active < self._max and not self._waiters:
                self._active += 1
                self._accepted += 1
                lock.release()
            else:
                lock.release()
                acquire()
            try:
                return fn(*args, **kwargs)
            finally:
                release()

        return wrapper

    def call(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
        """Call ``fn(*args, **kwargs)`` inside the bulkhead; a coroutine function gives an awaitable."""
        if inspect.iscoroutinefunction(fn):
            return cast(R, self.call_async(fn, *args, **kwargs))
        with self:
            return fn(*args, **kwargs)

    async def call_async(self, fn: Callable[..., Awaitable[R]], /, *args: Any, **kwargs: Any) -> R:
        """Await ``fn(*args, **kwargs)`` inside the bulkhead."""
        async with self:
            return await fn(*args, **kwargs)
