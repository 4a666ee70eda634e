"""`ResourceLeakDetector`: threshold and growth-trend alerts on a process's resources."""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import psutil

from rel_health._check import HealthCheck, HealthStatus
from rel_health._instrumentation import INSTRUMENTATION, leak_alerts
from rel_health._sampling import RESOURCES, ResourceSample, take_sample
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

# Growth rates per second that count as a leak by default: a steady 1 MiB a
# minute of RSS, or one more descriptor, connection or thread a minute.
_DEFAULT_GROWTH = {
    "rss_bytes": 2**20 / 60,
    "open_files": 1 / 60,
    "connections": 1 / 60,
    "threads": 1 / 60,
}


class _Stopped:
    """What :meth:`ResourceLeakDetector.stop_monitoring` returns: already done, and awaitable."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield

    def __repr__(self) -> str:
        return "<monitoring stopped>"


class ResourceLeakDetector:
    """Watch a process (this one by default) for resource leaks.

    Every ``check_interval`` seconds a background thread samples RSS, memory
    percent, open file descriptors, inet connections, threads and child
    processes. It alerts when the process's share of physical memory exceeds
    ``memory_threshold`` (a fraction), descriptors exceed
    ``file_handle_threshold``, connections ``connection_threshold`` (and the
    optional ``rss_threshold_bytes``, ``thread_threshold``,
    ``child_threshold``); and when a resource grows steadily over the last
    ``growth_window`` samples — a least-squares slope above its rate in
    ``growth_rates`` (units per second) with a fit of at least
    ``min_fit`` (R²) — so a slow leak is caught long before any threshold.

    Each alert fires once when its condition starts (again after it clears):
    callbacks (``on_alert`` and :meth:`add_alert_callback`) run, a warning is
    logged on the ``rel_health`` logger, a ``health.leak_alert`` span with a
    ``rel.health.leak`` event is recorded, and the ``rel.health.leak_alerts``
    counter grows. Denied fields and a vanished process are tolerated.

    :raises ValueError: a parameter outside its range (named in the message).
    """

    def __init__(
        self,
        check_interval: float = 60.0,
        memory_threshold: float = 0.8,
        file_handle_threshold: int = 1000,
        connection_threshold: int = 100,
        *,
        rss_threshold_bytes: int | None = None,
        thread_threshold: int | None = None,
        child_threshold: int | None = None,
        growth_window: int = 10,
        growth_rates: Mapping[str, float | None] | None = None,
        min_fit: float = 0.8,
        pid: int | None = None,
        sample_connections: bool = True,
        on_alert: AlertCallback | None = None,
        history_size: int = 120,
    ) -> None:
        if not (
            isinstance(check_interval, int | float) and math.isfinite(check_interval) and check_interval > 0
        ):
            raise ValueError(f"check_interval must be a finite number > 0 (seconds), got {check_interval!r}")
        if not (isinstance(memory_threshold, int | float) and 0 < memory_threshold <= 1):
            raise ValueError(f"memory_threshold must be a fraction in (0, 1], got {memory_threshold!r}")
        for label, count in (
            ("file_handle_threshold", file_handle_threshold),
            ("connection_threshold", connection_threshold),
            ("rss_threshold_bytes", rss_threshold_bytes),
            ("thread_threshold", thread_threshold),
            ("child_threshold", child_threshold),
        ):
            if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count <= 0):
                raise ValueError(f"{label} must be a positive integer, got {count!r}")
        if isinstance(growth_window, bool) or not isinstance(growth_window, int) or growth_window < 3:
            raise ValueError(f"growth_window must be an integer >= 3 (samples), got {growth_window!r}")
        if not (isinstance(min_fit, int | float) and 0 <= min_fit <= 1):
            raise ValueError(f"min_fit must be in [0, 1], got {min_fit!r}")
        rates: dict[str, float | None] = dict(_DEFAULT_GROWTH)
        for resource, rate in (growth_rates or {}).items():
            if resource not in RESOURCES:
                raise ValueError(f"growth_rates key must be one of {RESOURCES}, got {resource!r}")
            if rate is not None and not (isinstance(rate, int | float) and rate > 0):
                raise ValueError(f"growth_rates[{resource!r}] must be > 0 (per second) or None, got {rate!r}")
            rates[resource] = rate
        self.check_interval = float(check_interval)
        self.memory_threshold = float(memory_threshold)
        self.file_handle_threshold = file_handle_threshold
        self.connection_threshold = connection_threshold
        self.growth_window = growth_window
        self.min_fit = float(min_fit)
        self.growth_rates: dict[str, float] = {k: float(v) for k, v in rates.items() if v is not None}
        self.thresholds: dict[str, float] = {
            "memory_percent": self.memory_threshold * 100.0,
            "open_files": file_handle_threshold,
            "connections": connection_threshold,
        }
        for resource, limit in (
            ("rss_bytes", rss_threshold_bytes),
            ("threads", thread_threshold),
            ("children", child_threshold),
        ):
            if limit is not None:
                self.thresholds[resource] = limit
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

    # -- sampling and evaluation ---------------------------------------------
    def sample(self) -> ResourceSample:
        """Measure the process now, without recording or alerting. Never raises for denied fields.

        :raises psutil.NoSuchProcess: the watched ``pid`` did not exist when first sampled.
        """
        if self._process is None:
            self._process = psutil.Process(self.pid)
        return take_sample(self._process, connections=self.sample_connections)

    def check_now(self) -> list[LeakAlert]:
        """Sample, record the sample and return (and dispatch) the alerts that just started."""
        sample = self.sample()
        with self._lock:
            self._history.append(sample)
            window = list(self._history)[-self.growth_window :]
            conditions = self._conditions(sample, window) if sample.alive else {}
            fresh = [alert for key, alert in conditions.items() if key not in self._active]
            self._active = set(conditions)
            self._alerts.extend(fresh)
        for alert in fresh:
            self._dispatch(alert)
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

    def _dispatch(self, alert: LeakAlert) -> None:
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
            try:
                callback(alert)
            except Exception:
                logger.exception("leak alert callback %r failed", callback)

    # -- observation ---------------------------------------------------------
    def add_alert_callback(self, callback: AlertCallback) -> None:
        """Call ``callback(alert)`` for every new alert (from the monitoring thread)."""
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
        """True while the monitoring thread runs."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start_monitoring(self) -> None:
        """Start the background thread (a daemon) that checks every ``check_interval`` seconds.

        Idempotent. Callable from sync code and from inside an event loop.
        """
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._monitor, args=(self._stop,), name="rel-health-leak-detector", daemon=True
            )
            self._thread.start()

    def stop_monitoring(self, timeout: float = 5.0) -> _Stopped:
        """Stop the monitoring thread and wait (up to ``timeout`` s) for it to exit.

        The work is done before this returns, so both ``detector.stop_monitoring()``
        and ``await detector.stop_monitoring()`` work: the return value is an
        awaitable that completes at once. The thread exits within one sample's
        time (milliseconds). Idempotent.
        """
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        return _Stopped()

    def _monitor(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.check_now()
            except psutil.NoSuchProcess:
                logger.warning("resource leak detector: pid %s does not exist; monitoring stops", self.pid)
                return
            except Exception:
                logger.exception("resource leak detector: sampling failed; will retry")
            stop.wait(self.check_interval)

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
        self.stop_monitoring()


def _show(resource: str, value: float) -> str:
    if resource == "rss_bytes":
        return f"{value / 2**20:.1f} MiB"
    if resource == "memory_percent":
        return f"{value:.1f}%"
    return f"{value:g}"
