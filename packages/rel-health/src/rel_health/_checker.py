"""`HealthChecker`: run registered checks concurrently, each under its own timeout."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import inspect
import math
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

from rel_health._check import HealthCheck, HealthStatus
from rel_health._instrumentation import INSTRUMENTATION, check_counter, check_duration
from rel_health._report import HealthReport
from rel_telemetry import attributes, cap_timeout, record_failure, start_span, tracing_enabled

CheckFunction: TypeAlias = Callable[[], "HealthCheck | Awaitable[HealthCheck]"]
"""A health check: a sync or async callable taking no arguments and returning a HealthCheck."""

_CacheKey: TypeAlias = tuple[str | None, tuple[str, ...] | None]
_FlightKey: TypeAlias = tuple[int, int, _CacheKey]  # (id of the loop, registry generation, selection)


@dataclass(eq=False, slots=True)
class _Registration:
    name: str
    fn: CheckFunction
    timeout: float
    critical: bool
    groups: frozenset[str]
    is_async: bool
    # When a sync check's thread is still running (it hung past its timeout),
    # the monotonic time it started; no second thread is started meanwhile.
    running_since: float | None = None


def _positive(name: str, value: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a finite number > 0 (seconds), got {value!r}")
    return float(value)


class HealthChecker:
    """A registry of health checks run together.

    ``default_timeout`` bounds every check that sets no ``timeout`` (seconds).
    ``cache_ttl`` (seconds, 0 disables) is the minimum interval between two
    real runs of the same selection: calls within it get the previous report
    (with ``cached=True``), so a storm of probes does not hammer the
    dependencies. Concurrent calls on one event loop share one run.

    :raises ValueError: a timeout that is not a finite number > 0, or a
        negative ``cache_ttl``.
    """

    def __init__(self, *, default_timeout: float = 5.0, cache_ttl: float = 0.0) -> None:
        self.default_timeout = _positive("default_timeout", default_timeout)
        if isinstance(cache_ttl, bool) or not isinstance(cache_ttl, int | float) or not cache_ttl >= 0:
            raise ValueError(f"cache_ttl must be a number >= 0 (seconds), got {cache_ttl!r}")
        self.cache_ttl = float(cache_ttl)
        self._checks: dict[str, _Registration] = {}
        self._lock = threading.Lock()
        self._cache: dict[_CacheKey, tuple[float, HealthReport]] = {}
        self._inflight: dict[_FlightKey, asyncio.Task[HealthReport]] = {}
        # Bumped whenever the registry or cache changes, so that a run started
        # before the change is neither joined by later calls nor cached.
        self._generation = 0

    # -- registry ----------------------------------------------------------
    def add_check(
        self,
        name: str,
        fn: CheckFunction,
        *,
        timeout: float | None = None,
        critical: bool = True,
        groups: Iterable[str] = (),
    ) -> None:
        """Register ``fn`` as the check called ``name``.

        ``fn`` takes no arguments and returns (or, if async, resolves to) a
        :class:`HealthCheck`. ``timeout`` (seconds) defaults to the checker's
        ``default_timeout``. A failing non-critical check makes the report
        degraded, never unhealthy. ``groups`` tags the check (``"readiness"``,
        ``"liveness"``) for :meth:`check_all` and the probe endpoints.

        :raises ValueError: empty or duplicate ``name``, or a bad ``timeout``.
        :raises TypeError: ``fn`` is not callable.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"check name must be a non-empty string, got {name!r}")
        if not callable(fn):
            raise TypeError(f"check {name!r} must be a callable taking no arguments, got {fn!r}")
        limit = self.default_timeout if timeout is None else _positive("timeout", timeout)
        group_set = frozenset([groups] if isinstance(groups, str) else groups)
        registration = _Registration(
            name, fn, limit, bool(critical), group_set, inspect.iscoroutinefunction(fn)
        )
        with self._lock:
            if name in self._checks:
                raise ValueError(f"a check named {name!r} is already registered; remove_check() it first")
            self._checks[name] = registration
            self._cache.clear()
            self._generation += 1

    def remove_check(self, name: str) -> None:
        """Unregister the check ``name``.

        :raises KeyError: no check has that name.
        """
        with self._lock:
            if name not in self._checks:
                raise KeyError(f"no health check named {name!r}")
            del self._checks[name]
            self._cache.clear()
            self._generation += 1

    # The readers below take the lock: the probe server calls them from its
    # threads while the application may be adding or removing checks.
    @property
    def check_names(self) -> list[str]:
        """Names of the registered checks, in registration order."""
        with self._lock:
            return list(self._checks)

    @property
    def longest_timeout(self) -> float:
        """The longest timeout of any registered check (the default with none registered)."""
        with self._lock:
            return max((r.timeout for r in self._checks.values()), default=self.default_timeout)

    def names_in_group(self, group: str) -> list[str]:
        """Names of the checks tagged with ``group``, in registration order."""
        with self._lock:
            return [r.name for r in self._checks.values() if group in r.groups]

    def critical_names(self) -> list[str]:
        """Names of the critical checks, in registration order."""
        with self._lock:
            return [r.name for r in self._checks.values() if r.critical]

    def clear_cache(self) -> None:
        """Forget cached reports, so the next call runs the checks."""
        with self._lock:
            self._cache.clear()
            self._generation += 1

    # -- running -----------------------------------------------------------
    async def check_all(
        self,
        group: str | None = None,
        *,
        names: Iterable[str] | None = None,
        use_cache: bool = True,
    ) -> HealthReport:
        """Run the selected checks concurrently and return a :class:`HealthReport`.

        All checks run by default; ``group`` keeps those tagged with it and
        ``names`` those named. Each check runs under its own timeout (capped by
        the ambient deadline). A check that times out, raises or returns
        something other than a :class:`HealthCheck` becomes an unhealthy result
        saying so; it never delays the others beyond its own timeout, and this
        method never raises for a failing check.

        :raises KeyError: ``names`` contains an unknown check.
        """
        key: _CacheKey = (group, None if names is None else tuple(names))
        with self._lock:  # the selection and its generation are read together
            selected = self._select(key)
            generation = self._generation
            hit = self._cache.get(key) if use_cache and self.cache_ttl > 0 else None
        if hit is not None and time.monotonic() - hit[0] < self.cache_ttl:
            return dataclasses.replace(hit[1], cached=True)
        loop = asyncio.get_running_loop()
        flight_key = (id(loop), generation, key)
        with self._lock:
            task = self._inflight.get(flight_key)
            if task is None or task.done() or task.get_loop() is not loop:
                task = loop.create_task(self._run(selected))
                self._inflight[flight_key] = task
                task.add_done_callback(lambda t: self._landed(flight_key, key, t, generation))
        return await asyncio.shield(task)

    def check_all_sync(
        self,
        group: str | None = None,
        *,
        names: Iterable[str] | None = None,
        use_cache: bool = True,
    ) -> HealthReport:
        """Blocking :meth:`check_all` for code with no event loop (runs one briefly).

        :raises RuntimeError: called from a thread whose event loop is running;
            ``await check_all()`` there instead.
        :raises KeyError: ``names`` contains an unknown check.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.check_all(group, names=names, use_cache=use_cache))
        raise RuntimeError("check_all_sync() called inside a running event loop; use 'await check_all()'")

    async def check(self, name: str) -> HealthCheck:
        """Run the single check ``name`` (no cache) under its timeout and return its result.

        :raises KeyError: no check has that name.
        """
        registration = self._checks.get(name)
        if registration is None:
            raise KeyError(f"no health check named {name!r}")
        return await self._run_one(registration)

    def _select(self, key: _CacheKey) -> list[_Registration]:
        group, names = key
        checks = list(self._checks.values())
        if names is not None:
            unknown = [n for n in names if n not in self._checks]
            if unknown:
                raise KeyError(f"no health check named {unknown[0]!r}; registered: {list(self._checks)}")
            wanted = set(names)
            checks = [r for r in checks if r.name in wanted]
        if group is not None:
            checks = [r for r in checks if group in r.groups]
        return checks

    def _landed(
        self, flight_key: _FlightKey, key: _CacheKey, task: asyncio.Task[Any], generation: int
    ) -> None:
        with self._lock:
            if self._inflight.get(flight_key) is task:
                del self._inflight[flight_key]
            fresh = generation == self._generation
            if fresh and not task.cancelled() and task.exception() is None and self.cache_ttl > 0:
                self._cache[key] = (time.monotonic(), task.result())

    async def _run(self, selected: list[_Registration]) -> HealthReport:
        started = time.perf_counter()
        checked_at = time.time()
        span = start_span(INSTRUMENTATION, "health.check_all") if tracing_enabled() else None
        try:
            results = await asyncio.gather(*(self._run_one(r) for r in selected))
            critical = frozenset(r.name for r in selected if r.critical)
            overall = HealthStatus.HEALTHY
            for registration, result in zip(selected, results, strict=True):
                status = result.status
                if status is not HealthStatus.HEALTHY and not registration.critical:
                    status = HealthStatus.DEGRADED
                overall = HealthStatus.worst((overall, status))
            report = HealthReport(
                status=overall,
                checks={r.name: result for r, result in zip(selected, results, strict=True)},
                critical=critical,
                duration_s=time.perf_counter() - started,
                checked_at=checked_at,
            )
        except BaseException as exc:
            if span is not None:
                record_failure(span, exc)
                span.end()
            raise
        if span is not None:
            span.set_attribute(attributes.HEALTH_STATUS, overall.value)
            for name, result in report.checks.items():
                if result.status is not HealthStatus.HEALTHY:
                    span.add_event(
                        "health.check",
                        {
                            attributes.HEALTH_CHECK: name,
                            attributes.HEALTH_STATUS: result.status.value,
                            "rel.health.message": result.message,
                        },
                    )
            span.end()
        return report

    async def _run_one(self, registration: _Registration) -> HealthCheck:
        started = time.perf_counter()
        checked_at = time.time()
        limit = cap_timeout(registration.timeout)
        assert limit is not None
        result = await self._outcome(registration, limit)
        duration = time.perf_counter() - started
        result = dataclasses.replace(result, duration_s=duration, checked_at=checked_at)
        check_counter.add(
            1, {attributes.HEALTH_CHECK: registration.name, attributes.HEALTH_STATUS: result.status.value}
        )
        check_duration.record(duration, {attributes.HEALTH_CHECK: registration.name})
        return result

    async def _outcome(self, registration: _Registration, limit: float) -> HealthCheck:
        name = registration.name
        deadline = time.monotonic() + limit
        try:
            if registration.is_async:
                result: object = await _bounded(registration.fn(), limit)  # type: ignore[arg-type]
            else:
                result = await _bounded(self._call_in_thread(registration), limit)
            if inspect.isawaitable(result):
                result = await _bounded(result, max(0.0, deadline - time.monotonic()))
        except _TimedOut:
            why = "" if limit >= registration.timeout else " (the ambient deadline)"
            return HealthCheck.unhealthy(name, f"timed out after {_seconds(limit)} s{why}", timeout_s=limit)
        except _StillRunning as still:
            return HealthCheck.unhealthy(
                name, f"still running from a previous run started {still.seconds:.1f} s ago"
            )
        except Exception as exc:
            return HealthCheck.unhealthy(name, f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__)
        if not isinstance(result, HealthCheck):
            return HealthCheck.unhealthy(
                name, f"check returned {type(result).__name__}, expected HealthCheck: {result!r:.200}"
            )
        return result

    async def _call_in_thread(self, registration: _Registration) -> object:
        # One short-lived thread per call rather than a shared pool: a hung sync
        # check must not starve the others of workers. A check still hung from
        # an earlier run is reported, not started again, so threads cannot pile up.
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        with self._lock:
            if registration.running_since is not None:
                raise _StillRunning(now - registration.running_since)
            registration.running_since = now
        future: asyncio.Future[object] = loop.create_future()
        context = contextvars.copy_context()

        def settle(ok: bool, value: Any) -> None:
            if future.done():
                return
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

        def target() -> None:
            value: object
            try:
                value, ok = context.run(registration.fn), True
            except BaseException as exc:
                value, ok = exc, False
            finally:
                with self._lock:
                    registration.running_since = None
            # The loop may have closed while the check ran: nobody waits any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, ok, value)

        try:
            threading.Thread(target=target, name=f"rel-health-check:{registration.name}", daemon=True).start()
        except BaseException:
            # No thread runs the check ("can't start new thread"): it must not read as still running.
            with self._lock:
                registration.running_since = None
            raise
        return await future


class _TimedOut(Exception):
    """The check did not finish within its timeout."""


async def _bounded(awaitable: Awaitable[object], limit: float) -> object:
    """Await ``awaitable`` for at most ``limit`` seconds, even if it ignores cancellation.

    It runs as a task of its own: on timeout the task is cancelled and left
    to finish in the background (its outcome is discarded), so a check that
    swallows ``CancelledError`` cannot hold up the report.

    :raises _TimedOut: the time ran out.
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=limit)
    except asyncio.CancelledError:
        task.cancel()
        task.add_done_callback(_discard)
        raise
    if not done:
        task.cancel()
        task.add_done_callback(_discard)
        raise _TimedOut
    return task.result()


def _discard(task: asyncio.Future[object]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never retrieved


def _seconds(value: float) -> str:
    return f"{value:.1f}" if value >= 0.1 else f"{value:.2g}"


class _StillRunning(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds
