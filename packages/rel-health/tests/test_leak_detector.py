from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time

import psutil
import pytest

from rel_health import HealthChecker, HealthStatus, LeakAlert, ResourceLeakDetector, linear_trend
from rel_telemetry.testing import capture_metrics, capture_spans

LEAKER = r"""
import os, sys, time
directory = sys.argv[1]
held, blobs = [], []
print("ready", flush=True)
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    if sys.argv[2] == "leak":
        held.append(open(os.path.join(directory, f"f{len(held)}"), "w"))
        blobs.append(bytearray(256 * 1024))
    time.sleep(0.05)
"""


def _spawn(tmp_path, mode: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", LEAKER, str(tmp_path), mode], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    return child


def _stop(child: subprocess.Popen[str]) -> None:
    child.kill()
    child.wait(10)
    if child.stdout is not None:
        child.stdout.close()


def test_real_leak_caught_by_trend_before_threshold(tmp_path, no_thread_left):
    """A child process that keeps opening files and growing memory is flagged by growth, far below its thresholds."""
    child = _spawn(tmp_path, "leak")
    caught = threading.Event()
    alerts: list[LeakAlert] = []

    def on_alert(alert: LeakAlert) -> None:
        alerts.append(alert)
        if alert.resource == "open_files" and alert.kind == "growth":
            caught.set()

    detector = ResourceLeakDetector(
        check_interval=0.1,
        memory_threshold=1.0,
        file_handle_threshold=100_000,
        connection_threshold=10_000,
        growth_window=8,
        growth_rates={"open_files": 1.0, "rss_bytes": 256 * 1024},
        pid=child.pid,
        on_alert=on_alert,
    )
    try:
        detector.start_monitoring()
        assert caught.wait(15), f"no growth alert; got {alerts}"
    finally:
        detector.stop_monitoring()
        _stop(child)
    growth = next(a for a in alerts if a.resource == "open_files" and a.kind == "growth")
    assert growth.value < 1000
    assert growth.rate is not None
    assert growth.rate > 1.0
    assert "grew steadily" in growth.message
    assert all(a.kind == "growth" for a in alerts)


def test_steady_process_raises_no_growth_alert(tmp_path):
    """A child holding a constant set of resources gives no growth alert over a full window."""
    child = _spawn(tmp_path, "steady")
    detector = ResourceLeakDetector(
        check_interval=0.05, growth_window=8, growth_rates={"open_files": 0.1, "threads": 0.1}, pid=child.pid
    )
    try:
        found = []
        for _ in range(12):
            found += detector.check_now()
            time.sleep(0.05)
    finally:
        _stop(child)
    assert [a for a in found if a.kind == "growth" and a.resource in ("open_files", "threads")] == []
    assert len(detector.history) == 12


def test_threshold_alert_fires_once_and_rearms(caplog):
    """Crossing the descriptor threshold alerts once (callback, log, span, metric), and again after clearing."""
    base = psutil.Process().num_fds()
    detector = ResourceLeakDetector(
        file_handle_threshold=base + 5,
        growth_rates=dict.fromkeys(("rss_bytes", "open_files", "connections", "threads")),
    )
    seen: list[LeakAlert] = []
    detector.add_alert_callback(seen.append)
    with (
        capture_spans() as spans,
        capture_metrics() as metrics,
        caplog.at_level(logging.WARNING, "rel_health"),
    ):
        assert detector.check_now() == []
        with contextlib.ExitStack() as stack:
            for _ in range(10):
                stack.enter_context(tempfile.TemporaryFile())
            first = detector.check_now()
            again = detector.check_now()
        cleared = detector.check_now()
        with contextlib.ExitStack() as stack:
            for _ in range(10):
                stack.enter_context(tempfile.TemporaryFile())
            rearmed = detector.check_now()
    assert [(a.resource, a.kind) for a in first] == [("open_files", "threshold")]
    assert again == []
    assert cleared == []
    assert [(a.resource, a.kind) for a in rearmed] == [("open_files", "threshold")]
    assert len(seen) == 2
    assert first[0].value > first[0].limit == base + 5
    assert "resource leak suspected" in caplog.text
    assert "open_files" in caplog.text
    leak_spans = spans.named("health.leak_alert")
    assert len(leak_spans) == 2
    assert leak_spans[0].events[0].name == "rel.health.leak"
    assert leak_spans[0].events[0].attributes["rel.health.resource"] == "open_files"
    assert metrics.value("rel.health.leak_alerts", **{"rel.health.resource": "open_files"}) == 2


def test_failing_callback_does_not_stop_alerts(caplog):
    """A callback that raises is logged; the others still run."""
    base = psutil.Process().num_fds()
    got: list[LeakAlert] = []

    def broken(alert: LeakAlert) -> None:
        raise RuntimeError("boom")

    detector = ResourceLeakDetector(file_handle_threshold=max(1, base - 1), on_alert=broken)
    detector.add_alert_callback(got.append)
    with caplog.at_level(logging.ERROR, "rel_health"):
        detector.check_now()
    assert len(got) == 1
    assert "callback" in caplog.text


def test_vanished_process_is_survived(tmp_path, no_thread_left):
    """When the watched process exits, samples report alive=False and the monitor keeps running quietly."""
    child = _spawn(tmp_path, "steady")
    detector = ResourceLeakDetector(check_interval=0.05, pid=child.pid)
    detector.start_monitoring()
    try:
        time.sleep(0.2)
        _stop(child)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (not detector.history or detector.history[-1].alive):
            time.sleep(0.05)
        assert detector.history[-1].alive is False
        assert detector.history[-1].rss_bytes is None
        assert detector.is_monitoring
    finally:
        detector.stop_monitoring()
    assert detector.alerts == []


def test_missing_pid_stops_the_monitor(no_thread_left, caplog):
    """Watching a pid that does not exist logs a warning and ends the thread; sample() raises NoSuchProcess."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(10)
    detector = ResourceLeakDetector(check_interval=0.05, pid=child.pid)
    with pytest.raises(psutil.NoSuchProcess):
        detector.sample()
    with caplog.at_level(logging.WARNING, "rel_health"):
        detector.start_monitoring()
        deadline = time.monotonic() + 20
        while detector.is_monitoring and time.monotonic() < deadline:
            time.sleep(0.02)
    assert not detector.is_monitoring
    assert "does not exist" in caplog.text
    detector.stop_monitoring()


def _denied_target() -> int | None:
    """A process this test (as an unprivileged user) may not inspect fully."""
    if os.geteuid() == 0:
        return None  # the test spawns a root-owned one and drops privileges in a fork
    try:
        return 1 if psutil.Process(1).uids().real != os.getuid() else None
    except psutil.Error:
        return None


@pytest.mark.skipif(sys.platform == "win32", reason="uses fork and setuid")
def test_access_denied_fields_are_reported_not_raised():
    """Sampling a process we may not inspect records the denied fields and raises nothing."""
    target_proc = None
    target = _denied_target()
    if target is None:
        if os.geteuid() != 0:
            pytest.skip("no process owned by another user to inspect")
        target_proc = subprocess.Popen(["sleep", "30"])
        target = target_proc.pid
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            try:
                os.close(read_end)
                if os.geteuid() == 0:
                    os.setgid(65534)
                    os.setuid(65534)
                detector = ResourceLeakDetector(pid=target)
                alerts = detector.check_now()
                sample = detector.history[-1]
                out = {
                    "alive": sample.alive,
                    "unavailable": sample.unavailable,
                    "alerts": len(alerts),
                    "rss": sample.rss_bytes,
                }
                os.write(write_end, json.dumps(out).encode())
                os._exit(0)
            except BaseException as exc:
                os.write(write_end, json.dumps({"error": repr(exc)}).encode())
                os._exit(1)
        os.close(write_end)
        ready, _, _ = select.select([read_end], [], [], 20)
        if not ready:  # pragma: no cover - a wedged child must not hang the suite
            os.kill(pid, signal.SIGKILL)
        with os.fdopen(read_end) as reader:
            raw = reader.read() if ready else ""
        _, status = os.waitpid(pid, 0)
        assert raw, "the unprivileged child did not answer within 20 s"
        result = json.loads(raw)
    finally:
        if target_proc is not None:
            target_proc.kill()
            target_proc.wait()
    assert os.waitstatus_to_exitcode(status) == 0, result
    assert result["alive"] is True
    assert result["unavailable"].get("open_files") == "AccessDenied"


def test_start_stop_leaves_no_thread(no_thread_left):
    """start/stop is idempotent and the thread exits promptly even with a long interval."""
    detector = ResourceLeakDetector(check_interval=3600)
    detector.start_monitoring()
    detector.start_monitoring()
    assert sum(t.name == "rel-health-leak-detector" for t in threading.enumerate()) == 1
    time.sleep(0.05)
    started = time.monotonic()
    detector.stop_monitoring()
    assert time.monotonic() - started < 2
    assert not detector.is_monitoring
    detector.stop_monitoring()
    detector.start_monitoring()
    assert detector.is_monitoring
    detector.stop_monitoring()


@pytest.mark.parametrize("style", ["with", "async with"])
async def test_context_manager_monitoring(style, no_thread_left):
    """The detector monitors inside with / async with and stops at the end."""
    detector = ResourceLeakDetector(check_interval=0.05)

    async def first_sample() -> None:
        # A sample scans every process for children: slow on a busy machine.
        deadline = time.monotonic() + 20
        while not detector.history and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert detector.is_monitoring

    if style == "with":
        with detector:
            await first_sample()
    else:
        async with detector:
            await first_sample()
    assert not detector.is_monitoring
    assert len(detector.history) >= 1


async def test_as_health_check_reflects_alerts():
    """The detector's health check is unhealthy while a threshold is exceeded."""
    base = psutil.Process().num_fds()
    detector = ResourceLeakDetector(file_handle_threshold=max(1, base - 1))
    checker = HealthChecker()
    checker.add_check("leaks", detector.as_health_check())
    assert (await checker.check_all()).checks["leaks"].status is HealthStatus.HEALTHY
    detector.check_now()
    report = await checker.check_all()
    assert report.checks["leaks"].status is HealthStatus.UNHEALTHY
    assert "open_files threshold" in report.checks["leaks"].message


def test_sample_fields():
    """A sample of this process has every field and JSON-friendly data."""
    sample = ResourceLeakDetector().sample()
    assert sample.alive
    assert sample.pid == os.getpid()
    assert sample.rss_bytes > 0
    assert 0 < sample.memory_percent < 100
    assert sample.open_files >= 3
    assert sample.threads >= 1
    assert sample.children == 0
    assert sample.connections is not None
    json.dumps(sample.as_dict())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"check_interval": 0}, "check_interval"),
        ({"check_interval": True}, "check_interval"),
        ({"check_interval": float("inf")}, "check_interval"),
        ({"memory_threshold": 80}, "memory_threshold"),
        ({"file_handle_threshold": 0}, "file_handle_threshold"),
        ({"connection_threshold": 1.5}, "connection_threshold"),
        ({"growth_window": 2}, "growth_window"),
        ({"growth_rates": {"disk": 1}}, "growth_rates"),
        ({"growth_rates": {"open_files": -1}}, "growth_rates"),
        ({"min_fit": 2}, "min_fit"),
    ],
)
def test_invalid_detector_configuration(kwargs, match):
    """Out-of-range parameters raise ValueError naming the parameter."""
    with pytest.raises(ValueError, match=match):
        ResourceLeakDetector(**kwargs)


def test_linear_trend():
    """The fit finds the slope of a straight line with R² 1, and R² 0 for a flat series."""
    line = linear_trend([(t, 3 + 2 * t) for t in range(10)])
    assert line is not None
    assert line.slope == pytest.approx(2)
    assert line.r_squared == pytest.approx(1)
    assert line.increase == 18
    flat = linear_trend([(t, 5.0) for t in range(5)])
    assert flat is not None
    assert (flat.slope, flat.r_squared) == (0, 0)
    assert linear_trend([(1, 1)]) is None
    assert linear_trend([(1, 1), (1, 2)]) is None
