"""`ResourceSample`: one psutil snapshot of a process, robust to denied access and exit."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psutil

#: The resources a sample measures, in the order alerts and logs name them.
RESOURCES = ("rss_bytes", "memory_percent", "open_files", "connections", "threads", "children")

#: Measured values that are not in ``rel_health.RESOURCES`` (no growth alert) but can have a threshold.
MACHINE_RESOURCES = ("system_memory_percent",)

Gauge = Callable[[], float]
"""A user measurement sampled with the process: a callable taking no arguments, returning a number."""


class SampleInterrupted(Exception):
    """A stop was requested while a sample was being taken; the sample is abandoned."""


@dataclass(frozen=True, slots=True)
class ResourceSample:
    """What a process held at one instant.

    ``memory_percent`` is the process's resident memory as a percentage of
    physical memory; ``system_memory_percent`` the machine's memory in use.
    ``open_files`` counts file descriptors (handles on Windows), sockets and
    pipes included. A field is None when it could not be read (listed in
    ``unavailable`` with the reason); ``alive`` is False once the process is gone.
    ``gauges`` holds the values of the detector's user gauges by name.
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
    gauges: dict[str, float] = field(default_factory=dict)

    def value(self, resource: str) -> float | None:
        """The measured value of ``resource`` (one of ``rel_health.RESOURCES``, ``system_memory_percent``
        or a gauge name), or None when it was not measured.
        """
        if resource in RESOURCES or resource in MACHINE_RESOURCES:
            found: Any = getattr(self, resource)
            return None if found is None else float(found)
        return self.gauges.get(resource)

    def as_dict(self) -> dict[str, Any]:
        """The sample as JSON-friendly data."""
        return {
            "pid": self.pid,
            "alive": self.alive,
            "wall_time": self.wall_time,
            **{name: getattr(self, name) for name in RESOURCES},
            "system_memory_percent": self.system_memory_percent,
            "unavailable": dict(self.unavailable),
            "gauges": dict(self.gauges),
        }


def descriptor_count(process: psutil.Process) -> int:
    """Open file descriptors of ``process`` (handles on Windows), sockets and pipes included."""
    if sys.platform == "win32":  # pragma: no cover - POSIX CI
        return int(process.num_handles())
    return int(process.num_fds())


def take_sample(
    process: psutil.Process,
    *,
    connections: bool = True,
    gauges: Mapping[str, Gauge] | None = None,
    stop: Callable[[], bool] | None = None,
) -> ResourceSample:
    """Measure ``process`` (and the ``gauges``) now.

    Never raises for a denied field, a vanished process or a failing gauge
    (they are listed in ``unavailable``). ``stop`` is consulted before each
    field: when it returns True the sample is abandoned.

    :raises SampleInterrupted: ``stop()`` returned True.
    """
    values: dict[str, Any] = {}
    unavailable: dict[str, str] = {}
    alive = True

    def read(field_name: str, getter: Any) -> None:
        nonlocal alive
        if stop is not None and stop():
            raise SampleInterrupted(field_name)
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
    measured: dict[str, float] = {}
    for name, gauge in (gauges or {}).items():
        if stop is not None and stop():
            raise SampleInterrupted(name)
        try:
            reading = gauge()
            if (
                isinstance(reading, bool)
                or not isinstance(reading, int | float)
                or not math.isfinite(reading)
            ):
                raise TypeError(f"gauge {name!r} returned {reading!r}, not a finite number")
            measured[name] = float(reading)
        except Exception as exc:
            unavailable[name] = type(exc).__name__
    return ResourceSample(
        pid=process.pid,
        monotonic=time.monotonic(),
        wall_time=time.time(),
        alive=alive,
        unavailable=unavailable,
        gauges=measured,
        **values,
    )
