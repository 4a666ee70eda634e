"""The exceptions of rel-guard: one root, one class per refusal, all picklable."""

from __future__ import annotations

from typing import Any


class GuardError(Exception):
    """Root of every error rel-guard raises."""


class CircuitBreakerOpenError(GuardError):
    """A call was refused because the circuit breaker ``name`` is open.

    ``retry_after`` is the number of seconds until the breaker lets a probe
    call through (0 while probes are already in flight, None when the breaker
    was forced open and waits for ``reset()``): a retry loop that honours it,
    such as rel-retry's, waits for the probe instead of spinning. ``state`` is
    the breaker's state when it refused. The last failure that counted against
    the breaker, if any, is the ``__cause__``. A fresh instance is raised every
    time.
    """

    # The fields live in ``args`` (read through properties), so the breaker can
    # build a refusal with ``BaseException.__new__`` alone: refusals are frequent
    # and should cost little more than the raise.
    def __init__(self, name: str, state: str, retry_after: float | None) -> None:
        super().__init__(name, state, retry_after)

    @property
    def name(self) -> str:
        """The breaker's name."""
        return self.args[0]  # type: ignore[no-any-return]

    @name.setter
    def name(self, value: str) -> None:
        self.args = (value, *self.args[1:3])

    @property
    def state(self) -> str:
        """The breaker's state when it refused (``"open"``, ``"half_open"``, ``"forced_open"``)."""
        return self.args[1]  # type: ignore[no-any-return]

    @state.setter
    def state(self, value: str) -> None:
        self.args = (self.args[0], value, self.args[2])

    @property
    def retry_after(self) -> float | None:
        """Seconds until the breaker lets a probe through; 0 while probes run; None while forced open."""
        return self.args[2]  # type: ignore[no-any-return]

    @retry_after.setter
    def retry_after(self, value: float | None) -> None:
        self.args = (*self.args[0:2], value)

    def __str__(self) -> str:
        retry_after = self.retry_after
        if retry_after is None:
            when = "it stays open until reset()"
        elif retry_after > 0:
            when = f"it lets a probe call through in {retry_after:.3g} s"
        else:
            when = "its probe calls are in flight"
        return (
            f"circuit breaker {self.name!r} is {self.state} and refused the call; {when}. "
            "Serve a fallback or fail fast instead of calling the dependency."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.name, self.state, self.retry_after))


class BulkheadFullError(GuardError):
    """A call was refused because bulkhead ``name`` had no free slot in time.

    Carries the bulkhead's ``name``, its ``max_concurrent_calls`` and the
    ``max_wait_duration`` the caller waited (0 for fail-fast bulkheads).
    ``retry_after`` is always None: a bulkhead cannot know when a slot frees
    (that depends on how long the calls inside take), so a retry loop that
    reads it, such as rel-retry's, keeps its own backoff.
    """

    retry_after: float | None

    def __init__(self, name: str, max_concurrent_calls: int, max_wait_duration: float | None) -> None:
        self.name = name
        self.retry_after = None
        self.max_concurrent_calls = max_concurrent_calls
        self.max_wait_duration = max_wait_duration
        waited = (
            "without waiting"
            if not max_wait_duration
            else "after waiting without limit"
            if max_wait_duration is None
            else f"after waiting {max_wait_duration:.3g} s"
        )
        super().__init__(
            f"bulkhead {name!r} is full ({max_concurrent_calls} concurrent calls) and refused the call "
            f"{waited}; shed the load, queue it for later or raise max_concurrent_calls."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.name, self.max_concurrent_calls, self.max_wait_duration))


class DeadlineExceededError(GuardError, TimeoutError):
    """A time limit or deadline passed before the work finished.

    A :class:`TimeoutError` (so ``except asyncio.TimeoutError`` and
    ``except TimeoutError`` catch it). ``seconds`` is the limit that expired,
    when known.
    """

    def __init__(self, message: str = "deadline exceeded", *, seconds: float | None = None) -> None:
        super().__init__(message)
        self.seconds = seconds

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "deadline exceeded"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_deadline_error, (str(self), self.seconds))


def _rebuild_deadline_error(message: str, seconds: float | None) -> DeadlineExceededError:
    return DeadlineExceededError(message, seconds=seconds)
