"""Built-in checks of the machine and the process: disk, memory, CPU, open files."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Awaitable, Callable

import psutil

from rel_health._check import HealthCheck, HealthStatus
from rel_health._checker import _positive
from rel_health._sampling import descriptor_count

BuiltinCheck = Callable[[], Awaitable[HealthCheck]]


def _thresholds(kind: str, warn: float, fail: float, upper: float) -> None:
    for label, value in ((f"warn_{kind}", warn), (f"fail_{kind}", fail)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= upper:
            raise ValueError(f"{label} must be a number in (0, {upper:g}], got {value!r}")
    if warn > fail:
        raise ValueError(f"warn_{kind} ({warn!r}) must not exceed fail_{kind} ({fail!r})")


def grade(value: float, warn: float, fail: float) -> HealthStatus:
    """Unhealthy at or above ``fail``, degraded at or above ``warn``, healthy below."""
    if value >= fail:
        return HealthStatus.UNHEALTHY
    if value >= warn:
        return HealthStatus.DEGRADED
    return HealthStatus.HEALTHY


def _named(fn: BuiltinCheck, name: str) -> BuiltinCheck:
    fn.__name__ = fn.__qualname__ = f"check_{name}"
    return fn


def disk_space_check(
    path: str | os.PathLike[str] = "/",
    *,
    warn_fraction: float = 0.85,
    fail_fraction: float = 0.95,
    name: str = "disk_space",
) -> BuiltinCheck:
    """A check of the used fraction of the filesystem holding ``path``.

    The fraction is the one ``df`` shows: used / (used + available to
    unprivileged users), so blocks reserved for root count as unavailable and
    1.0 means writes fail with ENOSPC. Degraded from ``warn_fraction`` used,
    unhealthy from ``fail_fraction``. The check raises (and so reports
    unhealthy) if ``path`` does not exist.

    :raises ValueError: fractions outside (0, 1] or warn above fail.
    """
    _thresholds("fraction", warn_fraction, fail_fraction, 1.0)
    target = os.fspath(path)

    async def check() -> HealthCheck:
        usage = await asyncio.to_thread(shutil.disk_usage, target)
        usable = usage.used + usage.free
        used = usage.used / usable if usable else 0.0
        status = grade(used, warn_fraction, fail_fraction)
        return HealthCheck(
            name,
            status,
            f"{used:.1%} of {target} used, {usage.free / 2**30:.2f} GiB free",
            {
                "path": target,
                "used_fraction": round(used, 4),
                "used_bytes": usage.used,
                "free_bytes": usage.free,
                "total_bytes": usage.total,
            },
        )

    return _named(check, name)


def memory_check(
    *,
    warn_percent: float = 85.0,
    fail_percent: float = 95.0,
    max_rss_bytes: int | None = None,
    name: str = "memory",
    warn_rss_bytes: int | None = None,
) -> BuiltinCheck:
    """A check of system memory in use (percent) and, optionally, this process's RSS.

    Degraded from ``warn_percent``, unhealthy from ``fail_percent`` of system
    memory in use; degraded when the process RSS exceeds ``warn_rss_bytes``
    and unhealthy when it exceeds ``max_rss_bytes``. The worse verdict wins.

    :raises ValueError: percents outside (0, 100], warn above fail, RSS
        limits that are not positive integers, or ``warn_rss_bytes`` above
        ``max_rss_bytes``.
    """
    _thresholds("percent", warn_percent, fail_percent, 100.0)
    for label, limit in (("max_rss_bytes", max_rss_bytes), ("warn_rss_bytes", warn_rss_bytes)):
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
            raise ValueError(f"{label} must be a positive integer (bytes), got {limit!r}")
    if warn_rss_bytes is not None and max_rss_bytes is not None and warn_rss_bytes > max_rss_bytes:
        raise ValueError(
            f"warn_rss_bytes ({warn_rss_bytes!r}) must not exceed max_rss_bytes ({max_rss_bytes!r})"
        )
    process = psutil.Process()

    async def check() -> HealthCheck:
        system = psutil.virtual_memory().percent
        rss = process.memory_info().rss
        status = grade(system, warn_percent, fail_percent)
        message = f"system memory {system:.1f}% used, process RSS {rss / 2**20:.1f} MiB"
        if max_rss_bytes is not None and rss > max_rss_bytes:
            status = HealthStatus.UNHEALTHY
            message += f" (over the {max_rss_bytes / 2**20:.1f} MiB limit)"
        elif warn_rss_bytes is not None and rss > warn_rss_bytes:
            status = HealthStatus.worst((status, HealthStatus.DEGRADED))
            message += f" (over the {warn_rss_bytes / 2**20:.1f} MiB warning level)"
        return HealthCheck(
            name,
            status,
            message,
            {
                "system_percent": system,
                "rss_bytes": rss,
                "warn_rss_bytes": warn_rss_bytes,
                "max_rss_bytes": max_rss_bytes,
            },
        )

    return _named(check, name)


def cpu_check(
    *,
    warn_percent: float = 85.0,
    fail_percent: float = 95.0,
    sample_s: float = 0.1,
    name: str = "cpu",
) -> BuiltinCheck:
    """A check of system-wide CPU use, sampled over ``sample_s`` seconds in a worker thread.

    :raises ValueError: percents outside (0, 100], warn above fail, or a
        ``sample_s`` that is not a finite number > 0.
    """
    _thresholds("percent", warn_percent, fail_percent, 100.0)
    sample_s = _positive("sample_s", sample_s)

    async def check() -> HealthCheck:
        percent = await asyncio.to_thread(psutil.cpu_percent, sample_s)
        status = grade(percent, warn_percent, fail_percent)
        return HealthCheck(
            name,
            status,
            f"CPU {percent:.1f}% busy",
            {"cpu_percent": percent, "cpu_count": psutil.cpu_count()},
        )

    return _named(check, name)


def open_file_limit() -> int | None:
    """The soft limit on open file descriptors of this process, or None if unlimited/unknown."""
    if sys.platform == "win32":  # pragma: no cover - no per-process descriptor limit
        return None
    import resource  # noqa: PLC0415 - POSIX only

    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def open_files_check(
    *,
    warn_fraction: float = 0.8,
    fail_fraction: float = 0.95,
    name: str = "open_files",
) -> BuiltinCheck:
    """A check of this process's open file descriptors against its soft limit.

    Degraded from ``warn_fraction`` of the limit, unhealthy from
    ``fail_fraction``; healthy with no limit. On Windows it counts handles.

    :raises ValueError: fractions outside (0, 1] or warn above fail.
    """
    _thresholds("fraction", warn_fraction, fail_fraction, 1.0)
    process = psutil.Process()

    async def check() -> HealthCheck:
        count = descriptor_count(process)
        limit = open_file_limit()
        if limit is None:
            return HealthCheck.healthy(name, f"{count} open files, no limit", open_files=count, limit=None)
        used = count / limit
        return HealthCheck(
            name,
            grade(used, warn_fraction, fail_fraction),
            f"{count} of {limit} file descriptors open ({used:.1%})",
            {"open_files": count, "limit": limit, "used_fraction": round(used, 4)},
        )

    return _named(check, name)
