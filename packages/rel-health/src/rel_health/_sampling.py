"""`ResourceSample`: one psutil snapshot of a process, robust to denied access and exit."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

#: The resources a sample measures, in the order alerts and logs name them.
RESOURCES = ("rss_bytes", "memory_percent", "open_files", "connections", "threads", "children")


@dataclass(frozen=True, slots=True)
class ResourceSample:
    """What a process held at one instant.

    ``memory_percent`` is the process's resident memory as a percentage of
    physical memory; ``system_memory_percent`` the machine's memory in use.
    ``open_files`` counts file descriptors (handles on Windows), sockets and
    pipes included. A field is None when it could not be read (listed in
    ``unavailable`` with the reason); ``alive`` is False once the process is gone.
    """

    pid: int
    monotonic: float
    wall_time: float
    alive: bool = True
    rss_bytes: int | None = None
    memory_percent: float | None = None
    system_memory_percent: float | None = None
    open_files: int | None = None
    connections: int | None = None
    threads: int | None = None
    children: int | None = None
    unavailable: dict[str, str] = field(default_factory=dict)

    def value(self, resource: str) -> float | None:
        """The measured value of ``resource`` (one of :data:`RESOURCES`), or None."""
        found: Any = getattr(self, resource)
        return None if found is None else float(found)

    def as_dict(self) -> dict[str, Any]:
        """The sample as JSON-friendly data."""
        return {
            "pid": self.pid,
            "alive": self.alive,
            "wall_time": self.wall_time,
            **{name: getattr(self, name) for name in RESOURCES},
            "system_memory_percent": self.system_memory_percent,
            "unavailable": dict(self.unavailable),
        }


def descriptor_count(process: psutil.Process) -> int:
    """Open file descriptors of ``process`` (handles on Windows), sockets and pipes included."""
    if sys.platform == "win32":  # pragma: no cover - POSIX CI
        return int(process.num_handles())
    return int(process.num_fds())


def take_sample(process: psutil.Process, *, connections: bool = True) -> ResourceSample:
    """Measure ``process`` now. Never raises for a denied field or a vanished process."""
    values: dict[str, Any] = {}
    unavailable: dict[str, str] = {}
    alive = True

    def read(field_name: str, getter: Any) -> None:
        nonlocal alive
        if not alive:
            return
        try:
            values[field_name] = getter()
        except psutil.NoSuchProcess:
            alive = False
        except (psutil.AccessDenied, psutil.ZombieProcess, OSError, NotImplementedError) as exc:
            unavailable[field_name] = type(exc).__name__

    try:
        with process.oneshot():
            read("rss_bytes", lambda: process.memory_info().rss)
            read("open_files", lambda: descriptor_count(process))
            read("threads", process.num_threads)
            read("children", lambda: len(process.children(recursive=True)))
            if connections:
                read("connections", lambda: len(process.net_connections(kind="inet")))
    except psutil.NoSuchProcess:
        alive = False
    try:
        total = psutil.virtual_memory()
        values["system_memory_percent"] = total.percent
        if "rss_bytes" in values and total.total:
            values["memory_percent"] = 100.0 * values["rss_bytes"] / total.total
    except OSError as exc:  # pragma: no cover - /proc unreadable
        unavailable["system_memory_percent"] = type(exc).__name__
    if not alive:
        values = {k: v for k, v in values.items() if k == "system_memory_percent"}
    return ResourceSample(
        pid=process.pid,
        monotonic=time.monotonic(),
        wall_time=time.time(),
        alive=alive,
        unavailable=unavailable,
        **values,
    )
