"""Sliding windows of call outcomes for the rate-based trip rules.

Both keep running totals so recording and reading are O(1) (the time window
is O(buckets) only when it skips idle seconds). They are not thread-safe on
their own: the breaker core calls them under its lock.
"""

from __future__ import annotations

import math

_NEVER = -(2**62)  # the "second" of a bucket that was never used


class CountWindow:
    """The outcomes of the last ``size`` calls."""

    __slots__ = ("_failed", "_index", "_slow", "calls", "failures", "size", "slow")

    def __init__(self, size: int) -> None:
        self.size = size
        self._failed = [False] * size
        self._slow = [False] * size
        self._index = 0
        self.calls = 0
        self.failures = 0
        self.slow = 0

    def record(self, failed: bool, slow: bool, now: float) -> None:
        """Add one call's outcome, evicting the oldest when full; the totals are then current."""
        i = self._index
        if self.calls == self.size:
            self.failures -= self._failed[i]
            self.slow -= self._slow[i]
        else:
            self.calls += 1
        self._failed[i] = failed
        self._slow[i] = slow
        self.failures += failed
        self.slow += slow
        self._index = (i + 1) % self.size

    def totals(self, now: float) -> tuple[int, int, int]:
        """(calls, failures, slow calls) currently in the window."""
        return self.calls, self.failures, self.slow

    def clear(self) -> None:
        """Forget every outcome."""
        self._index = self.calls = self.failures = self.slow = 0
        self._failed = [False] * self.size
        self._slow = [False] * self.size


class TimeWindow:
    """The outcomes of the calls of the last ``size`` seconds, in one-second buckets.

    A call recorded at time ``t`` lands in bucket ``floor(t)``; at time ``now``
    the window holds the buckets ``floor(now) - size + 1 .. floor(now)``.
    """

    __slots__ = ("_buckets", "_head", "calls", "failures", "size", "slow")

    def __init__(self, size: int) -> None:
        self.size = size
        # bucket = [second, calls, failures, slow]
        self._buckets = [[_NEVER, 0, 0, 0] for _ in range(size)]
        self._head = _NEVER
        self.calls = 0
        self.failures = 0
        self.slow = 0

    def _advance(self, second: int) -> None:
        if second <= self._head:
            return
        start = max(self._head + 1, second - self.size + 1)
        for s in range(start, second + 1):
            bucket = self._buckets[s % self.size]
            self.calls -= bucket[1]
            self.failures -= bucket[2]
            self.slow -= bucket[3]
            bucket[0], bucket[1], bucket[2], bucket[3] = s, 0, 0, 0
        self._head = second

    def record(self, failed: bool, slow: bool, now: float) -> None:
        """Add one call's outcome at time ``now``; the totals are then as of ``now``."""
        second = math.floor(now)
        if second > self._head:
            self._advance(second)
        bucket = self._buckets[second % self.size]
        if bucket[0] != second:
            return  # a clock that went backwards past the window: nothing to add to
        bucket[1] += 1
        bucket[2] += failed
        bucket[3] += slow
        self.calls += 1
        self.failures += failed
        self.slow += slow

    def totals(self, now: float) -> tuple[int, int, int]:
        """(calls, failures, slow calls) in the window as of ``now``."""
        self._advance(math.floor(now))
        return self.calls, self.failures, self.slow

    def clear(self) -> None:
        """Forget every outcome."""
        self._buckets = [[_NEVER, 0, 0, 0] for _ in range(self.size)]
        self._head = _NEVER
        self.calls = self.failures = self.slow = 0
