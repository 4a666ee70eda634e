"""`RetryBudget`: retries as a bounded fraction of calls, so failures cannot snowball."""

from __future__ import annotations

import math
import threading
import time

_SLOTS = 10


class RetryBudget:
    """A retry allowance shared by any number of call sites and threads.

    Over a sliding window of ``window_seconds``, retries may not exceed
    ``min_retries_per_second * window_seconds + ratio * calls``: a service
    that starts failing everywhere stops retrying after a small surplus
    instead of multiplying its load. Every call made under a policy holding
    the budget deposits, every retry withdraws. Thread-safe.
    Raises ValueError for a ratio outside [0, 1000], or a negative rate or
    non-positive window.
    """

    __slots__ = (
        "_calls",
        "_lock",
        "_retries",
        "_slot",
        "_slot_width",
        "min_retries_per_second",
        "ratio",
        "window_seconds",
    )

    def __init__(
        self, ratio: float = 0.2, *, min_retries_per_second: float = 1.0, window_seconds: float = 10.0
    ) -> None:
        for name, value, low in (
            ("ratio", ratio, 0.0),
            ("min_retries_per_second", min_retries_per_second, 0.0),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < low
            ):
                raise ValueError(f"{name} must be a finite number >= {low}, got {value!r}")
        if ratio > 1000:
            raise ValueError(f"ratio must be <= 1000, got {ratio!r}")
        if (
            isinstance(window_seconds, bool)
            or not isinstance(window_seconds, int | float)
            or not (math.isfinite(window_seconds) and window_seconds > 0)
        ):
            raise ValueError(f"window_seconds must be a finite number > 0, got {window_seconds!r}")
        self.ratio = float(ratio)
        self.min_retries_per_second = float(min_retries_per_second)
        self.window_seconds = float(window_seconds)
        self._slot_width = self.window_seconds / _SLOTS
        self._lock = threading.Lock()
        self._calls = [0] * _SLOTS
        self._retries = [0] * _SLOTS
        self._slot = int(time.monotonic() / self._slot_width)

    def _advance(self) -> int:
        now_slot = int(time.monotonic() / self._slot_width)
        gap = now_slot - self._slot
        if gap > 0:
            for i in range(1, min(gap, _SLOTS) + 1):
                index = (self._slot + i) % _SLOTS
                self._calls[index] = 0
                self._retries[index] = 0
            self._slot = now_slot
        return now_slot % _SLOTS

    def record_call(self) -> None:
        """Deposit one call (made automatically by every call under the policy)."""
        with self._lock:
            self._calls[self._advance()] += 1

    def try_spend(self) -> bool:
        """Withdraw one retry if the budget allows it; False when it is spent."""
        with self._lock:
            index = self._advance()
            allowed = self.min_retries_per_second * self.window_seconds + self.ratio * sum(self._calls)
            if sum(self._retries) + 1 > allowed:
                return False
            self._retries[index] += 1
            return True

    def available(self) -> float:
        """Retries that could still be made now, in the current window."""
        with self._lock:
            self._advance()
            allowed = self.min_retries_per_second * self.window_seconds + self.ratio * sum(self._calls)
            return max(0.0, allowed - sum(self._retries))

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ratio={self.ratio}, min_retries_per_second={self.min_retries_per_second}, "
            f"window_seconds={self.window_seconds})"
        )
