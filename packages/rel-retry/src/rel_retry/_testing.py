"""The testing switch: no waits, optionally fewer attempts, and a record of every attempt."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType


@dataclass(frozen=True, slots=True)
class RecordedAttempt:
    """One attempt seen while testing mode was on; ``error`` is None for a success."""

    name: str
    number: int
    error: BaseException | None
    wait: float | None


@dataclass(slots=True)
class TestingRecord:
    """What happened under :func:`testing`: every attempt, in order."""

    __test__ = False  # not a pytest test class

    attempts_cap: int | None = None
    attempts: list[RecordedAttempt] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, attempt: RecordedAttempt) -> None:
        with self._lock:
            self.attempts.append(attempt)

    def for_name(self, name: str) -> list[RecordedAttempt]:
        """Attempts of the operation called ``name`` (a function's qualified name)."""
        with self._lock:
            return [a for a in self.attempts if a.name == name]

    @property
    def failures(self) -> list[RecordedAttempt]:
        """The attempts that raised."""
        with self._lock:
            return [a for a in self.attempts if a.error is not None]

    def clear(self) -> None:
        """Forget the attempts recorded so far."""
        with self._lock:
            self.attempts.clear()


class _Switch:
    """Process-wide testing state, read by the retry loop on every call."""

    __slots__ = ("record",)

    def __init__(self) -> None:
        self.record: TestingRecord | None = None


SWITCH = _Switch()


class _Restore:
    """Returned by :func:`set_testing`; as a context manager it restores the previous state."""

    __slots__ = ("_previous",)

    def __init__(self, previous: TestingRecord | None) -> None:
        self._previous = previous

    def __enter__(self) -> TestingRecord | None:
        return SWITCH.record

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        SWITCH.record = self._previous


def set_testing(testing: bool = True, *, attempts: int | None = None) -> _Restore:
    """Turn testing mode on (every wait is zero) or off, process-wide.

    ``attempts`` caps the total attempts of every call (>= 1). Usable as a
    context manager that restores the previous mode on exit. Raises ValueError
    for ``attempts`` < 1.
    """
    if attempts is not None and (isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1):
        raise ValueError(f"attempts must be an int >= 1 or None, got {attempts!r}")
    previous = SWITCH.record
    SWITCH.record = TestingRecord(attempts_cap=attempts) if testing else None
    return _Restore(previous)


def is_testing() -> bool:
    """True while testing mode is on."""
    return SWITCH.record is not None


@contextmanager
def testing(attempts: int | None = None) -> Iterator[TestingRecord]:  # noqa: PT028 - not a test
    """Within the block every retry wait is zero and attempts are recorded.

    ``attempts`` caps the total attempts of every call. Yields the
    :class:`TestingRecord`; the previous mode is restored on exit.
    """
    with set_testing(True, attempts=attempts) as record:
        assert record is not None
        yield record


# pytest collects functions named test*; this one must never be collected from a test module.
testing.__test__ = False  # type: ignore[attr-defined]
