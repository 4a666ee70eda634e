"""`ResourceLeakDetector`: threshold and growth-trend alerts on a process's resources."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import psutil

from rel_health._check import HealthCheck, HealthStatus
from rel_health._checker import _positive
from rel_health._instrumentation import INSTRUMENTATION, leak_alerts
from rel_health._sampling import (
    MACHINE_RESOURCES,
    RESOURCES,
    Gauge,
    ResourceSample,
    SampleInterrupted,
    take_sample,
)
from rel_health._trend import linear_trend
from rel_telemetry import attributes, start_span, tracing_enabled

logger = logging.getLogger("rel_health")

AlertKind = Literal["threshold", "growth"]


@dataclass(frozen=True, slots=True)
class LeakAlert:
    """One alert: ``resource`` crossed its threshold or grew steadily.

    ``value`` is the latest measurement and ``limit`` the threshold (for
    ``kind="threshold"``) or the growth rate per second it exceeded (for
    ``kind="growth"``, where ``rate`` is the fitted slope per second).
    """

    resource: str
    kind: AlertKind
    value: float
    limit: float
    message: str
    sample: ResourceSample
    rate: float | None = None


AlertCallback = Callable[[LeakAlert], object]
"""Called with each new alert; may be a coroutine function (see :class:`ResourceLeakDetector`)."""

# Growth rates per second that count as a leak by default: a steady 1 MiB a
# minute of RSS, or one more descriptor, connection or thread a minute.
_DEFAULT_GROWTH = {
    "rss_bytes": 2**20 / 60,
    "open_files": 1 / 60,
    "connections": 1 / 60,
    "threads": 1 / 60,
}


class _Stopping:
    """What :meth:`ResourceLeakDetector.stop_monitoring` returns: awaiting it waits for the thread.

    Awaiting never blocks the event loop: it polls the thread every few
    milliseconds, for at most the ``timeout`` given to ``stop_monitoring``.
    """

    __slots__ = ("_deadline", "_thread")

    def __init__(self, thread: threading.Thread | None, timeout: float) -> None:
        self._thread = thread
        self._deadline = time.monotonic() + timeout

    @property
    def stopped(self) -> bool:
        """True once the monitoring thread has exited (or there was none)."""
        return self._thread is None or not self._thread.is_alive()

    def __await__(self) -> Generator[Any, None, None]:
        return self._wait().__await__()

    async def _wait(self) -> None:
        # A thread's exit cannot be awaited directly; polling is bounded by the timeout.
        while not self.stopped and time.monotonic() < self._deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)

    def __repr__(self) -> str:
        return f"<monitoring {'stopped' if self.stopped else 'stopping'}>"


class ResourceLeakDetector:
    """Watch a process (this one by default) for resource leaks.

    Every ``check_interval`` seconds a background thread samples RSS, memory
    percent, open file descriptors, inet connections, threads and child
    processes, plus the optional user ``gauges`` (name to a callable returning
    a number: a pool size, a cache length, a task count). It alerts when the
    machine's memory in use exceeds ``memory_threshold`` (a fraction, as in
    "alert if memory usage > 80%"; None turns it off), this process's share
    of physical memory exceeds ``process_memory_threshold``, descriptors
    exceed ``file_handle_threshold``, connections ``connection_threshold``
    (and the optional ``rss_threshold_bytes``, ``thread_threshold``,
    ``child_threshold`` and ``gauge_thresholds``); and when a resource grows
    steadily over the last ``growth_window`` samples — a least-squares slope
    above its rate in ``growth_rates`` (units per second; gauges included)
    with a fit of at least ``min_fit`` (R²) — so a slow leak is caught long
    before any threshold.

    Each alert fires once when its condition starts (again after it clears):
    callbacks (``on_alert`` and :meth:`add_alert_callback`) run, a warning is
    logged on the ``rel_health`` logger, a ``health.leak_alert`` span with a
    ``rel.health.leak`` event is recorded, and the ``rel.health.leak_alerts``
    counter grows. A callback that returns an awaitable (a coroutine
    function) has it scheduled on the event loop that was running when
    :meth:`start_monitoring` was called, or on the caller's loop for
    :meth:`check_now`. Denied fields, failing gauges and a vanished process
    are tolerated.

    :raises ValueError: a parameter outside its range (named in the message).
    """

    def __init__(
        self,
        check_interval: float = 60.0,
        memory_threshold: float | None = 0.8,
        file_handle_threshold: int | None = 1000,
        connection_threshold: int | None = 100,
        *,
        process_memory_threshold: float | None = None,
        rss_threshold_bytes: int | None = None,
        thread_threshold: int | None = None,
        child_threshold: int | None = None,
        gauges: Mapping[str, Gauge] | None = None,
        gauge_thresholds: Mapping[str, float] | None = None,
        growth_window: int = 10,
        growth_rates: Mapping[str, float | None] | None = None,
        min_fit: float = 0.8,
        pid: int | None = None,
        sample_connections: bool = True,
        on_alert: AlertCallback | None = None,
        history_size: int = 120,
    ) -> None:
        interval = _positive("check_interval", check_interval)
        for label, fraction in (
            ("memory_threshold", memory_threshold),
            ("process_memory_threshold", process_memory_threshold),
        ):
            if fraction is not None and not (
                isinstance(fraction, int | float) and not isinstance(fraction, bool) and 0 < fraction <= 1
            ):
                raise ValueError(f"{label} must be a fraction in (0, 1] or None, got {fraction!r}")
        for label, count in (
            ("file_handle_threshold", file_handle_threshold),
            ("connection_threshold", connection_threshold),
            ("rss_threshold_bytes", rss_threshold_bytes),
            ("thread_threshold", thread_threshold),
            ("child_threshold", child_threshold),
        ):
            if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count <= 0):
                raise ValueError(f"{label} must be a positive integer or None, got {count!r}")
        if isinstance(growth_window, bool) or not isinstance(growth_window, int) or growth_window < 3:
            raise ValueError(f"growth_window must be an integer >= 3 (samples), got {growth_window!r}")
        if not (isinstance(min_fit, int | float) and 0 <= min_fit <= 1):
            raise ValueError(f"min_fit must be in [0, 1], got {min_fit!r}")
        if isinstance(history_size, bool) or not isinstance(history_size, int) or history_size < 1:
            raise ValueError(f"history_size must be an integer >= 1 (samples), got {history_size!r}")
        gauge_map: dict[str, Gauge] = dict(gauges or {})
        for gauge_name, gauge in gauge_map.items():
            if (
                not isinstance(gauge_name, str)
                or not gauge_name
                or gauge_name in RESOURCES + MACHINE_RESOURCES
            ):
                raise ValueError(
                    f"gauges key must be a non-empty name other than {RESOURCES + MACHINE_RESOURCES}, "
                    f"got {gauge_name!r}"
                )
            if not callable(gauge):
                raise ValueError(
                    f"gauges[{gauge_name!r}] must be a callable returning a number, got {gauge!r}"
                )
        rates: dict[str, float | None] = dict(_DEFAULT_GROWTH)
        for resource, rate in (growth_rates or {}).items():
            if resource not in RESOURCES and resource not in gauge_map:
                raise ValueError(
                    f"growth_rates key must be one of {RESOURCES} or a gauge name, got {resource!r}"
                )
            if rate is not None and not (isinstance(rate, int | float) and rate > 0):
                raise ValueError(f"growth_rates[{resource!r}] must be > 0 (per second) or None, got {rate!r}")
            rates[resource] = rate
        self.check_interval = interval
        self.memory_threshold = None if memory_threshold is None else float(memory_threshold)
        self.process_memory_threshold = (
            None if process_memory_threshold is None else float(process_memory_threshold)
        )
        self.file_handle_threshold = file_handle_threshold
        self.connection_threshold = connection_threshold
        self.growth_window = growth_window
        self.min_fit = float(min_fit)
        self.gauges = gauge_map
        self.growth_rates: dict[str, float] = {k: float(v) for k, v in rates.items() if v is not None}
        self.thresholds: dict[str, float] = {}
        for resource, limit in (
            ("system_memory_percent", None if memory_threshold is None else memory_threshold * 100.0),
            (
                "memory_percent",
                None if process_memory_threshold is None else process_memory_threshold * 100.0,
            ),
            ("open_files", file_handle_threshold),
            ("connections", connection_threshold),
            ("rss_bytes", rss_threshold_bytes),
            ("threads", thread_threshold),
            ("children", child_threshold),
        ):
            if limit is not None:
                self.thresholds[resource] = float(limit)
        for gauge_name, limit in (gauge_thresholds or {}).items():
            if gauge_name not in gauge_map:
                raise ValueError(f"gauge_thresholds key must be a gauge name, got {gauge_name!r}")
            if isinstance(limit, bool) or not isinstance(limit, int | float) or not math.isfinite(limit):
                raise ValueError(f"gauge_thresholds[{gauge_name!r}] must be a finite number, got {limit!r}")
            self.thresholds[gauge_name] = float(limit)
        self.pid = pid
        self.sample_connections = sample_connections
        self._process: psutil.Process | None = None
        self._callbacks: list[AlertCallback] = [on_alert] if on_alert is not None else []
        self._history: deque[ResourceSample] = deque(maxlen=max(history_size, growth_window))
        self._alerts: deque[LeakAlert] = deque(maxlen=history_size)
        self._active: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[asyncio.Task[None]] = set()

    # -- sampling and evaluation ---------------------------------------------
    def sample(self) -> ResourceSample:
        """Measure the process now, without recording or alerting. Never raises for denied fields.

        :raises psutil.NoSuchProcess: the watched ``pid`` did not exist when first sampled.
        """
        return self._sample(None)

    def _sample(self, stop: threading.Event | None) -> ResourceSample:
        if self._process is None:
            self._process = psutil.Process(self.pid)
        return take_sample(
            self._process,
            connections=self.sample_connections,
            gauges=self.gauges,
            stop=None if stop is None else stop.is_set,
        )

    def check_now(self) -> list[LeakAlert]:
        """Sample, record the sample and return (and dispatch) the alerts that just started.

        :raises psutil.NoSuchProcess: the watched ``pid`` did not exist when first sampled.
        """
        return self._check(None)

    def _check(self, stop: threading.Event | None) -> list[LeakAlert]:
        sample = self._sample(stop)
        with self._lock:
            if stop is not None and stop.is_set():
                return []
            self._history.append(sample)
            window = list(self._history)[-self.growth_window :]
            conditions = self._conditions(sample, window) if sample.alive else {}
            fresh = [alert for key, alert in conditions.items() if key not in self._active]
            self._active = set(conditions)
            self._alerts.extend(fresh)
        for alert in fresh:
            self._dispatch(alert, stop)
        return fresh

    def _conditions(
        self, sample: ResourceSample, window: list[ResourceSample]
    ) -> dict[tuple[str, str], LeakAlert]:
        found: dict[tuple[str, str], LeakAlert] = {}
        for resource, limit in self.thresholds.items():
            value = sample.value(resource)
            if value is not None and value > limit:
                found[(resource, "threshold")] = LeakAlert(
                    resource,
                    "threshold",
                    value,
                    limit,
                    f"pid {sample.pid}: {resource} is {_show(resource, value)}, over the limit of {_show(resource, limit)}",
                    sample,
                )
        if len(window) < self.growth_window:
            return found
        for resource, rate in self.growth_rates.items():
            points = [(s.monotonic, v) for s in window if (v := s.value(resource)) is not None]
            if len(points) < self.growth_window:
                continue
            trend = linear_trend(points)
            if trend is None or trend.increase <= 0 or trend.slope < rate or trend.r_squared < self.min_fit:
                continue
            value = points[-1][1]
            found[(resource, "growth")] = LeakAlert(
                resource,
                "growth",
                value,
                rate,
                f"pid {sample.pid}: {resource} grew steadily over {len(points)} samples "
                f"({_show(resource, trend.slope * 60)}/min, R²={trend.r_squared:.2f}) to {_show(resource, value)}",
                sample,
                trend.slope,
            )
        return found

    def _dispatch(self, alert: LeakAlert, stop: threading.Event | None) -> None:
        logger.warning("resource leak suspected: %s", alert.message)
        labels = {attributes.HEALTH_RESOURCE: alert.resource, "rel.health.leak.kind": alert.kind}
        leak_alerts.add(1, labels)
        if tracing_enabled():
            span = start_span(INSTRUMENTATION, "health.leak_alert", labels)
            span.add_event(
                "rel.health.leak",
                {
                    **labels,
                    "rel.health.leak.value": alert.value,
                    "rel.health.leak.limit": alert.limit,
                    "rel.health.pid": alert.sample.pid,
                },
            )
            span.end()
        for callback in list(self._callbacks):
            if stop is not None and stop.is_set():
                # Monitoring was stopped: the application may be tearing down
                # what the callbacks touch.
                return
            try:
                result = callback(alert)
            except Exception:
                logger.exception("leak alert callback %r failed", callback)
                continue
            if inspect.isawaitable(result):
                self._schedule(result, callback)

    def _schedule(self, awaitable: Awaitable[Any], callback: AlertCallback) -> None:
        async def run() -> None:
            await awaitable

        def report(future: asyncio.Future[None] | concurrent.futures.Future[None]) -> None:
            if not future.cancelled() and future.exception() is not None:
                logger.error("leak alert callback %r failed", callback, exc_info=future.exception())

        try:
            here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is not None:
            task = here.create_task(run())
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
            task.add_done_callback(report)
            return
        loop = self._loop
        coroutine = run()
        try:
            if loop is None or loop.is_closed():
                raise RuntimeError("no event loop")
            asyncio.run_coroutine_threadsafe(coroutine, loop).add_done_callback(report)
        except RuntimeError:
            coroutine.close()
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            logger.warning(
                "leak alert callback %r is async but no event loop is running to await it; "
                "call start_monitoring() from inside the event loop",
                callback,
            )

    # -- observation ---------------------------------------------------------
    def add_alert_callback(self, callback: AlertCallback) -> None:
        """Call ``callback(alert)`` for every new alert (from the monitoring thread).

        A callback returning an awaitable is awaited on the event loop that
        was running when monitoring started.
        """
        self._callbacks.append(callback)

    @property
    def history(self) -> list[ResourceSample]:
        """The recorded samples, oldest first (bounded by ``history_size``)."""
        with self._lock:
            return list(self._history)

    @property
    def alerts(self) -> list[LeakAlert]:
        """The alerts raised so far, oldest first (bounded by ``history_size``)."""
        with self._lock:
            return list(self._alerts)

    @property
    def active_alerts(self) -> list[tuple[str, str]]:
        """``(resource, kind)`` of the conditions present at the last check."""
        with self._lock:
            return sorted(self._active)

    def as_health_check(self, name: str = "resource_leaks") -> Callable[[], HealthCheck]:
        """A check for :class:`~rel_health.HealthChecker`: unhealthy while a threshold is
        exceeded, degraded while a resource grows steadily, healthy otherwise.
        It reads the last check's state and never samples itself.
        """

        def check() -> HealthCheck:
            active = self.active_alerts
            if any(kind == "threshold" for _, kind in active):
                status = HealthStatus.UNHEALTHY
            elif active:
                status = HealthStatus.DEGRADED
            else:
                status = HealthStatus.HEALTHY
            text = ", ".join(f"{resource} {kind}" for resource, kind in active) or "no leak suspected"
            return HealthCheck(name, status, text, {"active": [list(a) for a in active]})

        return check

    # -- background monitoring -----------------------------------------------
    @property
    def is_monitoring(self) -> bool:
        """True from :meth:`start_monitoring` until :meth:`stop_monitoring` (or the ``pid`` did not exist)."""
        thread = self._thread
        return thread is not None and thread.is_alive() and not self._stop.is_set()

    def start_monitoring(self) -> None:
        """Start the background thread (a daemon) that checks every ``check_interval`` seconds.

        The first sample is taken at once. Idempotent. Callable from sync code
        and from inside an event loop; in the latter case async alert
        callbacks run on that loop.
        """
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        with self._lock:
            if running is not None:
                self._loop = running
            if self._thread is not None and self._thread.is_alive() and not self._stop.is_set():
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._monitor, args=(self._stop,), name="rel-health-leak-detector", daemon=True
            )
            self._thread.start()

    def stop_monitoring(self, timeout: float = 1.0) -> _Stopping:
        """Stop the monitoring thread; ``await`` the result to wait for it without blocking the loop.

        The thread checks for the stop between the fields of a sample (gauges
        included) and before each callback, so it exits within milliseconds
        unless it is inside one slow step (a slow gauge, a slow callback);
        then it exits as soon as that step returns, records nothing and runs no
        further callback. From sync code this waits up to ``timeout`` seconds
        for the exit; inside a running event loop it returns at once, and
        ``await detector.stop_monitoring()`` waits up to ``timeout`` while the
        loop keeps running. ``result.stopped`` tells whether the thread has
        exited. Idempotent.
        """
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is None or thread is threading.current_thread():
            return _Stopping(None, 0.0)
        waiter = _Stopping(thread, timeout)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            thread.join(timeout)
        return waiter

    def _monitor(self, stop: threading.Event) -> None:
        while not stop.is_set():
            began = time.monotonic()
            try:
                self._check(stop)
            except SampleInterrupted:
                return
            except psutil.NoSuchProcess:
                logger.warning("resource leak detector: pid %s does not exist; monitoring stops", self.pid)
                return
            except Exception:
                logger.exception("resource leak detector: sampling failed; will retry")
            # A fixed rate: the time a sample took comes off the wait.
            stop.wait(max(0.0, self.check_interval - (time.monotonic() - began)))

    def __enter__(self) -> ResourceLeakDetector:
        self.start_monitoring()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_monitoring()

    async def __aenter__(self) -> ResourceLeakDetector:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop_monitoring()


def _show(resource: str, value: float) -> str:
    if resource == "rss_bytes":
        return f"{value / 2**20:.1f} MiB"
    if resource in ("memory_percent", "system_memory_percent"):
        return f"{value:.1f}%"
    return f"{value:g}"
