"""A small harness for side-by-side benchmarks: medians of repeated runs, ratios to a reference.

Each ``bench_*.py`` module defines ``run(quick: bool) -> list[Group]``. A
:class:`Group` times rel and its peers in the same process run; the report
shows every median next to the reference's and, where a ``baseline`` (such as a
bare call) is named, the overhead over it. Numbers are never asserted.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import timeit
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


def measure(fn: Callable[[], object], *, repeat: int = 7, min_time: float = 0.2) -> float:
    """Median seconds per call of ``fn`` over ``repeat`` runs of an auto-ranged loop."""
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    number = max(1, int(number * min_time / 0.2))
    runs = timer.repeat(repeat=repeat, number=number)
    return statistics.median(runs) / number


def measure_async(
    fn: Callable[[], Awaitable[object]], *, repeat: int = 7, number: int | None = None
) -> float:
    """Median seconds per await of ``fn()`` inside one event loop."""

    async def loop(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            await fn()
        return time.perf_counter() - start

    async def main() -> float:
        n = number
        if n is None:
            n = 1
            while await loop(n) < 0.1:
                n *= 4
        samples = [await loop(n) for _ in range(repeat)]
        return statistics.median(samples) / n

    return asyncio.run(main())


def measure_once(fn: Callable[[], object], *, repeat: int = 5) -> float:
    """Median seconds of ``repeat`` single calls of a slow operation."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


@dataclass
class Group:
    """One comparison: several implementations of the same operation."""

    title: str
    reference: str
    goal: str = ""
    baseline: str | None = None
    results: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def time(self, name: str, fn: Callable[[], object], **kwargs: float) -> None:
        """Time a sync callable (fast operations)."""
        self.results[name] = measure(fn, **kwargs)  # type: ignore[arg-type]

    def time_async(self, name: str, fn: Callable[[], Awaitable[object]], **kwargs: int) -> None:
        """Time an async callable."""
        self.results[name] = measure_async(fn, **kwargs)

    def time_slow(self, name: str, fn: Callable[[], object], *, repeat: int = 5) -> None:
        """Time an operation that takes milliseconds or more, one call at a time."""
        self.results[name] = measure_once(fn, repeat=repeat)

    def record(self, name: str, seconds: float) -> None:
        """Record a measurement taken by the benchmark itself."""
        self.results[name] = seconds

    def skip(self, name: str, why: str) -> None:
        """Note a peer that could not be measured in this run."""
        self.notes.append(f"{name}: not measured ({why})")

    def to_markdown(self) -> str:
        """Render the group as a markdown table."""
        ref = self.results.get(self.reference)
        base = self.results.get(self.baseline) if self.baseline else None
        lines = [f"### {self.title}", ""]
        if self.goal:
            lines += [f"Goal: {self.goal}", ""]
        header = "| implementation | median | ratio to " + self.reference + " |"
        sep = "|---|---:|---:|"
        if base is not None:
            header += f" overhead over {self.baseline} |"
            sep += "---:|"
        lines += [header, sep]
        for name, secs in self.results.items():
            ratio = f"{secs / ref:.2f}x" if ref else "n/a"
            row = f"| {name} | {_fmt(secs)} | {ratio} |"
            if base is not None:
                row += f" {_fmt(secs - base)} |" if name != self.baseline else " - |"
            lines.append(row)
        lines += [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def _fmt(seconds: float) -> str:
    if abs(seconds) < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if abs(seconds) < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    if abs(seconds) < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"
