"""A live progress line on a terminal, periodic plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Shows ``done/total`` with a bar, rate and counters; cheap to update often."""

    def __init__(self, total: int, *, stream: TextIO | None = None, width: int = 30) -> None:
        self.total = max(total, 0)
        self.stream = stream or sys.stderr
        self.width = width
        self.done = 0
        self.counters: dict[str, int] = {}
        self._start = time.monotonic()
        self._last = 0.0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def advance(self, n: int = 1, **counters: int) -> None:
        """Count ``n`` more items done and set the named counters."""
        self.done += n
        self.counters.update(counters)
        self._render(final=False)

    def finish(self) -> None:
        """Draw the final state and end the line."""
        self._render(final=True)

    def _render(self, *, final: bool) -> None:
        now = time.monotonic()
        interval = 0.1 if self._tty else 2.0
        if not final and now - self._last < interval:
            return
        self._last = now
        frac = self.done / self.total if self.total else 1.0
        filled = int(frac * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = now - self._start
        extra = " ".join(f"{k}={v}" for k, v in self.counters.items())
        line = f"[{bar}] {self.done}/{self.total} {frac:4.0%} {elapsed:5.1f}s {extra}"
        if self._tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
