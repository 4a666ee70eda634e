from __future__ import annotations

import asyncio
import sys
import threading
import time

import pytest

from rel_health import HealthCheck, HealthChecker, HealthReport, HealthStatus
from rel_telemetry import deadline_scope
from rel_telemetry.testing import capture_metrics, capture_spans


def _ok(name: str = "ok"):
    async def check() -> HealthCheck:
        return HealthCheck(name=name, status="healthy", message="fine")

    return check


def _make(kind: str, behaviour: str):
    """A sync or async check that hangs, raises, returns a wrong type or succeeds."""
    if kind == "async":

        async def check():
            if behaviour == "hang":
                await asyncio.sleep(60)
            if behaviour == "raise":
                raise ConnectionRefusedError("db down")
            if behaviour == "wrong":
                return {"status": "healthy"}
            return HealthCheck("x", "healthy", "fine")

        return check

    stop = threading.Event()

    def check():
        if behaviour == "hang":
            stop.wait(3)
        if behaviour == "raise":
            raise ConnectionRefusedError("db down")
        if behaviour == "wrong":
            return {"status": "healthy"}
        return HealthCheck("x", "healthy", "fine")

    check.stop = stop  # type: ignore[attr-defined]
    return check


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_hanging_check_times_out_without_delaying_others(kind):
    """A hanging check becomes unhealthy 'timed out after 1.0 s'; the fast one is unaffected."""
    checker = HealthChecker()
    hanging = _make(kind, "hang")
    checker.add_check("hang", hanging, timeout=1.0)
    checker.add_check("fast", _ok("fast"))
    started = time.monotonic()
    report = await checker.check_all()
    elapsed = time.monotonic() - started
    if kind == "sync":
        hanging.stop.set()
    assert report.checks["hang"].status is HealthStatus.UNHEALTHY
    assert report.checks["hang"].message == "timed out after 1.0 s"
    assert report.checks["fast"].status == "healthy"
    assert report.checks["fast"].duration_s < 0.9
    assert elapsed < 4
    assert report.failed_checks == ["hang"]
    assert not report.is_healthy()


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_raising_check_is_unhealthy_with_type_and_message(kind):
    """A raising check reports the exception type and message; check_all does not raise."""
    checker = HealthChecker()
    checker.add_check("db", _make(kind, "raise"))
    report = await checker.check_all()
    result = report.checks["db"]
    assert result.status is HealthStatus.UNHEALTHY
    assert result.message == "ConnectionRefusedError: db down"
    assert result.details["error_type"] == "ConnectionRefusedError"


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_wrong_return_type_is_unhealthy(kind):
    """A check returning something other than a HealthCheck is unhealthy and says what it returned."""
    checker = HealthChecker()
    checker.add_check("bad", _make(kind, "wrong"))
    report = await checker.check_all()
    assert report.checks["bad"].status is HealthStatus.UNHEALTHY
    assert "returned dict, expected HealthCheck" in report.checks["bad"].message


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_passing_check(kind):
    """A passing check gives a healthy report with a duration."""
    checker = HealthChecker()
    checker.add_check("x", _make(kind, "ok"))
    report = await checker.check_all()
    assert report.status is HealthStatus.HEALTHY
    assert report.is_healthy(strict=True)
    assert report.failed_checks == []
    assert report.durations["x"] is not None
    assert report.durations["x"] >= 0


async def test_checks_run_concurrently():
    """Twenty checks sleeping 300 ms each finish well under 3 s together (6 s one after another)."""
    checker = HealthChecker()

    def sleeper(i: int):
        async def check() -> HealthCheck:
            await asyncio.sleep(0.3)
            return HealthCheck(f"s{i}", "healthy")

        return check

    for i in range(20):
        checker.add_check(f"s{i}", sleeper(i))
    started = time.monotonic()
    report = await checker.check_all()
    assert time.monotonic() - started < 3.0
    assert len(report.checks) == 20
    assert report.is_healthy(strict=True)


def test_sync_checks_run_concurrently():
    """Blocking sync checks run in their own threads, so twenty 300 ms sleeps overlap (6 s one after another)."""
    checker = HealthChecker()
    for i in range(20):
        checker.add_check(f"s{i}", lambda: time.sleep(0.3) or HealthCheck("s", "healthy"))
    started = time.monotonic()
    report = checker.check_all_sync()
    assert time.monotonic() - started < 3.0
    assert report.is_healthy(strict=True)


async def test_all_twenty_checks_are_in_flight_at_once():
    """Each of twenty async checks waits until all twenty have started: they pass only if none waits for another."""
    barrier = asyncio.Barrier(20)
    checker = HealthChecker(default_timeout=10)

    def gathering(i: int):
        async def check() -> HealthCheck:
            await barrier.wait()
            return HealthCheck(f"g{i}", "healthy")

        return check

    for i in range(20):
        checker.add_check(f"g{i}", gathering(i))
    report = await asyncio.wait_for(checker.check_all(), 40)  # fails, rather than hangs, if run in turn
    assert report.is_healthy(strict=True), report.failed_checks


def test_all_twenty_sync_checks_are_in_flight_at_once():
    """Twenty blocking checks meet at a thread barrier: they pass only if each runs in a thread of its own at once."""
    barrier = threading.Barrier(20, timeout=20)  # broken, and every waiter raises, if not all arrive

    def gathering() -> HealthCheck:
        barrier.wait()
        return HealthCheck("g", "healthy")

    checker = HealthChecker(default_timeout=30)
    for i in range(20):
        checker.add_check(f"g{i}", gathering)
    report = checker.check_all_sync()
    assert report.is_healthy(strict=True), report.failed_checks


@pytest.mark.parametrize(
    ("critical", "status", "overall"),
    [
        (True, "unhealthy", HealthStatus.UNHEALTHY),
        (False, "unhealthy", HealthStatus.DEGRADED),
        (True, "degraded", HealthStatus.DEGRADED),
        (False, "degraded", HealthStatus.DEGRADED),
        (True, "healthy", HealthStatus.HEALTHY),
    ],
)
async def test_overall_status(critical, status, overall):
    """A failing critical check makes the report unhealthy; a non-critical one only degraded."""
    checker = HealthChecker()
    checker.add_check("base", _ok("base"))

    async def check() -> HealthCheck:
        return HealthCheck("c", status, "m")

    checker.add_check("c", check, critical=critical)
    report = await checker.check_all()
    assert report.status is overall
    assert report.is_healthy() is (overall is not HealthStatus.UNHEALTHY)
    assert report.http_status == (503 if overall is HealthStatus.UNHEALTHY else 200)


async def test_cache_serves_repeat_calls_within_ttl():
    """Within cache_ttl the checks run once; after it they run again."""
    calls = 0

    async def counted() -> HealthCheck:
        nonlocal calls
        calls += 1
        return HealthCheck("c", "healthy")

    # Wide enough that the first two calls fall within it even on a busy machine.
    checker = HealthChecker(cache_ttl=2.0)
    checker.add_check("c", counted)
    first = await checker.check_all()
    second = await checker.check_all()
    assert calls == 1
    assert not first.cached
    assert second.cached
    await checker.check_all(use_cache=False)
    assert calls == 2
    await asyncio.sleep(2.05)
    await checker.check_all()
    assert calls == 3


async def test_concurrent_calls_share_one_run():
    """Concurrent check_all calls on one loop share a single run of the checks."""
    calls = 0

    async def slow() -> HealthCheck:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.1)
        return HealthCheck("c", "healthy")

    checker = HealthChecker()
    checker.add_check("c", slow)
    reports = await asyncio.gather(*(checker.check_all() for _ in range(10)))
    assert calls == 1
    assert all(isinstance(r, HealthReport) for r in reports)


async def test_hung_sync_check_is_not_started_twice():
    """While a sync check is still hung from a previous run, no new thread is started for it."""
    release = threading.Event()
    started = 0

    def hung() -> HealthCheck:
        nonlocal started
        started += 1
        release.wait(5)
        return HealthCheck("h", "healthy")

    checker = HealthChecker()
    checker.add_check("h", hung, timeout=0.1)
    first = await checker.check_all()
    second = await checker.check_all()
    release.set()
    assert started == 1
    assert first.checks["h"].message == "timed out after 0.1 s"
    assert "still running from a previous run" in second.checks["h"].message
    deadline = time.monotonic() + 20
    while not (report := await checker.check_all()).is_healthy() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert report.checks["h"].status is HealthStatus.HEALTHY


async def test_sync_check_whose_thread_cannot_start_is_not_left_running(monkeypatch):
    """When no thread can be started for a sync check, that run fails and the next one runs the check again."""
    real_start = threading.Thread.start

    def refuse(thread: threading.Thread) -> None:
        if thread.name.startswith("rel-health-check"):
            raise RuntimeError("can't start new thread")
        real_start(thread)

    checker = HealthChecker()
    checker.add_check("s", lambda: HealthCheck("s", "healthy"))
    monkeypatch.setattr(threading.Thread, "start", refuse)
    failed = await checker.check_all()
    monkeypatch.undo()
    assert failed.checks["s"].message == "RuntimeError: can't start new thread"
    assert (await checker.check_all()).checks["s"].status is HealthStatus.HEALTHY


async def test_check_all_sync_refuses_inside_a_running_loop():
    """check_all_sync inside an event loop raises RuntimeError pointing to check_all."""
    checker = HealthChecker()
    with pytest.raises(RuntimeError, match="await check_all"):
        checker.check_all_sync()


def test_check_all_sync_without_loop():
    """check_all_sync runs async checks from plain code."""
    checker = HealthChecker()
    checker.add_check("a", _ok("a"))
    assert checker.check_all_sync().is_healthy(strict=True)


async def test_groups_and_names_select_checks():
    """group= and names= run only the selected checks; unknown names raise KeyError."""
    checker = HealthChecker()
    checker.add_check("a", _ok("a"), groups=["readiness"])
    checker.add_check("b", _ok("b"), groups="liveness", critical=False)
    assert list((await checker.check_all("readiness")).checks) == ["a"]
    assert list((await checker.check_all(names=["b"])).checks) == ["b"]
    assert checker.names_in_group("liveness") == ["b"]
    assert checker.critical_names() == ["a"]
    with pytest.raises(KeyError, match="nope"):
        await checker.check_all(names=["nope"])
    assert (await checker.check("a")).status is HealthStatus.HEALTHY


def test_invalid_configuration_fails_at_construction():
    """Bad timeouts, names, callables and duplicates raise at registration."""
    with pytest.raises(ValueError, match="default_timeout"):
        HealthChecker(default_timeout=0)
    with pytest.raises(ValueError, match="cache_ttl"):
        HealthChecker(cache_ttl=-1)
    checker = HealthChecker()
    with pytest.raises(ValueError, match="timeout"):
        checker.add_check("a", _ok(), timeout=float("inf"))
    with pytest.raises(TypeError, match="callable"):
        checker.add_check("a", 42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty"):
        checker.add_check("", _ok())
    checker.add_check("a", _ok())
    with pytest.raises(ValueError, match="already registered"):
        checker.add_check("a", _ok())
    checker.remove_check("a")
    with pytest.raises(KeyError):
        checker.remove_check("a")


def test_health_check_status_accepts_strings():
    """HealthCheck takes a plain string status and stores the str-enum; bad ones raise."""
    result = HealthCheck(name="db", status="Degraded", message="slow")
    assert result.status is HealthStatus.DEGRADED
    assert result.status == "degraded"
    assert str(result.status) == "degraded"
    with pytest.raises(ValueError, match="status must be one of"):
        HealthCheck(name="db", status="fine", message="?")


async def test_ambient_deadline_caps_check_timeouts():
    """An ambient deadline shorter than a check's timeout bounds the check."""
    checker = HealthChecker()

    async def slow() -> HealthCheck:
        await asyncio.sleep(30)
        return HealthCheck("s", "healthy")

    checker.add_check("s", slow, timeout=20)
    started = time.monotonic()
    with deadline_scope(0.2):
        report = await checker.check_all()
    assert time.monotonic() - started < 5
    assert "ambient deadline" in report.checks["s"].message


async def test_timeout_error_raised_by_a_check_is_not_a_timeout():
    """A check that itself raises TimeoutError reports that error, not the checker's timeout."""

    async def raises() -> HealthCheck:
        raise TimeoutError("socket read")

    checker = HealthChecker()
    checker.add_check("t", raises, timeout=5)
    report = await checker.check_all()
    assert report.checks["t"].message == "TimeoutError: socket read"


async def test_check_all_records_span_and_metrics():
    """check_all emits a health.check_all span with failing-check events and a per-check counter."""

    async def bad() -> HealthCheck:
        return HealthCheck("bad", "unhealthy", "down")

    checker = HealthChecker()
    checker.add_check("good", _ok("good"))
    checker.add_check("bad", bad)
    with capture_spans() as spans, capture_metrics() as metrics:
        await checker.check_all()
    span = spans.one("health.check_all")
    assert span.attributes["rel.health.status"] == "unhealthy"
    assert [e.attributes["rel.health.check"] for e in span.events] == ["bad"]
    assert (
        metrics.value("rel.health.checks", **{"rel.health.check": "bad", "rel.health.status": "unhealthy"})
        == 1
    )
    assert (
        metrics.value("rel.health.checks", **{"rel.health.check": "good", "rel.health.status": "healthy"})
        == 1
    )


async def test_check_that_swallows_cancellation_cannot_hold_up_the_report():
    """A check that ignores cancellation still times out on schedule; it finishes in the background, unobserved."""
    release, finished = asyncio.Event(), asyncio.Event()

    async def stubborn() -> HealthCheck:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await release.wait()  # refuses to stop until the report is in
        finished.set()
        return HealthCheck("stubborn", "healthy")

    checker = HealthChecker()
    checker.add_check("stubborn", stubborn, timeout=0.2)
    checker.add_check("fast", _ok("fast"))
    report = await asyncio.wait_for(checker.check_all(), 10)  # fails, rather than hangs, if it waits
    assert not finished.is_set()  # the report did not wait for it
    assert report.checks["stubborn"].message == "timed out after 0.2 s"
    assert report.checks["fast"].status is HealthStatus.HEALTHY
    release.set()
    await asyncio.wait_for(finished.wait(), 5)


async def test_cancelled_run_cancels_its_checks():
    """Cancelling a run (as closing the probe server does) cancels the check tasks it started."""
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def slow() -> HealthCheck:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return HealthCheck("slow", "healthy")  # pragma: no cover

    checker = HealthChecker()
    checker.add_check("slow", slow, timeout=20)
    run = asyncio.ensure_future(checker._run([checker._checks["slow"]]))
    await asyncio.wait_for(started.wait(), 5)
    run.cancel()
    await asyncio.wait_for(cancelled.wait(), 5)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(run, 5)
    assert cancelled.is_set()


async def test_cancelled_check_all_leaves_the_shared_run_going():
    """A caller that goes away does not cancel the run other concurrent callers share."""
    started, release = asyncio.Event(), asyncio.Event()

    async def gated() -> HealthCheck:
        started.set()
        await release.wait()
        return HealthCheck("gated", "healthy")

    checker = HealthChecker()
    checker.add_check("gated", gated, timeout=20)
    leaving = asyncio.ensure_future(checker.check_all())
    staying = asyncio.ensure_future(checker.check_all())
    await asyncio.wait_for(started.wait(), 5)
    leaving.cancel()
    await asyncio.sleep(0)
    release.set()
    report = await asyncio.wait_for(staying, 5)
    assert report.checks["gated"].status is HealthStatus.HEALTHY
    assert leaving.cancelled()


async def test_run_started_before_add_check_is_neither_joined_nor_cached():
    """A run in flight when a check is added is not shared with later calls nor cached: they see the new check."""
    entered, release = asyncio.Event(), asyncio.Event()

    async def gated() -> HealthCheck:
        entered.set()
        await release.wait()
        return HealthCheck("gated", "healthy")

    checker = HealthChecker(cache_ttl=60)
    checker.add_check("gated", gated)
    first = asyncio.ensure_future(checker.check_all())
    await asyncio.wait_for(entered.wait(), 5)
    checker.add_check("late", _ok("late"))
    during = asyncio.ensure_future(checker.check_all())
    await asyncio.sleep(0)
    release.set()
    assert list((await first).checks) == ["gated"]
    assert list((await during).checks) == ["gated", "late"]
    assert list((await checker.check_all()).checks) == ["gated", "late"]


async def test_sub_decisecond_timeouts_are_reported_readably():
    """A 20 ms timeout reads 'timed out after 0.02 s', not '0.0 s'."""

    async def hang() -> HealthCheck:
        await asyncio.sleep(5)
        return HealthCheck("h", "healthy")  # pragma: no cover

    checker = HealthChecker()
    checker.add_check("h", hang, timeout=0.02)
    assert (await checker.check_all()).checks["h"].message == "timed out after 0.02 s"


def test_registry_readers_are_safe_while_checks_change():
    """The readers the probe server calls from its threads never fail while another thread adds and removes checks."""
    checker = HealthChecker()
    for i in range(200):
        checker.add_check(f"c{i}", lambda: HealthCheck("c", "healthy"), groups=["readiness"])
    stop = threading.Event()

    def churn() -> None:
        i = 0
        while not stop.is_set():
            checker.add_check(f"x{i}", lambda: HealthCheck("x", "healthy"))
            checker.remove_check(f"x{i}")
            i += 1

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so that a reader meets a change mid-iteration
    worker = threading.Thread(target=churn)
    worker.start()
    try:
        for _ in range(10_000):
            assert len(checker.names_in_group("readiness")) == 200
            assert len(checker.critical_names()) in (200, 201)
            assert checker.longest_timeout == checker.default_timeout
            assert len(checker.check_names) in (200, 201)
    finally:
        stop.set()
        worker.join(10)
        sys.setswitchinterval(interval)
