"""Leak detector: slow leaks, prompt stops, async use and every threshold, on real resources."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import subprocess
import sys
import threading
import time

import psutil
import pytest

from rel_health import LeakAlert, ResourceLeakDetector

SLOW_LEAKER = r"""
import sys, time
held = []
print("ready", flush=True)
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    held.append(open(sys.argv[1]))
    time.sleep(0.25)
"""

# Growth alerts off, so that only the condition under test can fire.
NO_GROWTH = dict.fromkeys(("rss_bytes", "open_files", "connections", "threads"))


def _wait_stopped(stopping) -> None:
    """Wait (up to 20 s, for a loaded machine) until the monitoring thread has exited."""
    deadline = time.monotonic() + 20
    while not stopping.stopped and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stopping.stopped


def test_slow_leak_caught_by_trend_long_before_the_default_thresholds(tmp_path, no_thread_left):
    """A process leaking one descriptor every 250 ms is flagged by its trend at a few dozen, not at 1000."""
    target = tmp_path / "data"
    target.write_text("x")
    child = subprocess.Popen(
        [sys.executable, "-c", SLOW_LEAKER, str(target)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    caught = threading.Event()
    alerts: list[LeakAlert] = []

    def on_alert(alert: LeakAlert) -> None:
        alerts.append(alert)
        if alert.resource == "open_files":
            caught.set()

    detector = ResourceLeakDetector(
        check_interval=0.2,
        memory_threshold=None,  # the machine's memory is not this test's business
        growth_window=8,
        growth_rates={"open_files": 1.0, "rss_bytes": None},
        pid=child.pid,
        on_alert=on_alert,
    )
    try:
        detector.start_monitoring()
        assert caught.wait(20), f"no growth alert; got {alerts}"
    finally:
        detector.stop_monitoring()
        child.kill()
        child.wait(10)
        child.stdout.close()
    leak = next(a for a in alerts if a.resource == "open_files")
    assert leak.kind == "growth"
    assert leak.value < 200 < detector.file_handle_threshold
    assert [a for a in alerts if a.kind == "threshold"] == []


def test_stop_returns_promptly_in_the_middle_of_a_slow_sample(no_thread_left):
    """stop_monitoring() returns within its timeout while a gauge is stuck; the sample is dropped and the thread exits."""
    entered, release = threading.Event(), threading.Event()
    later_gauge_calls = 0

    def stuck() -> float:
        entered.set()
        release.wait(20)
        return 1.0

    def later() -> float:
        nonlocal later_gauge_calls
        later_gauge_calls += 1
        return 1.0

    detector = ResourceLeakDetector(check_interval=0.05, gauges={"stuck": stuck, "later": later})
    detector.start_monitoring()
    try:
        assert entered.wait(10)
        started = time.monotonic()
        stopping = detector.stop_monitoring(timeout=0.2)
        assert time.monotonic() - started < 3
        assert not detector.is_monitoring
        assert not stopping.stopped  # still inside the stuck gauge
    finally:
        release.set()
    _wait_stopped(stopping)
    assert later_gauge_calls == 0  # the stop was seen before the next field
    assert detector.history == []  # the interrupted sample is not recorded


def test_stop_during_a_slow_callback_runs_no_further_callback(no_thread_left):
    """A stop requested while an alert callback is busy returns promptly; the remaining callbacks never run."""
    entered, release = threading.Event(), threading.Event()
    second: list[LeakAlert] = []

    def slow(alert: LeakAlert) -> None:
        entered.set()
        release.wait(20)

    base = psutil.Process().num_fds()
    detector = ResourceLeakDetector(
        check_interval=0.05, file_handle_threshold=max(1, base - 1), growth_rates=NO_GROWTH, on_alert=slow
    )
    detector.add_alert_callback(second.append)
    detector.start_monitoring()
    try:
        assert entered.wait(10)
        started = time.monotonic()
        stopping = detector.stop_monitoring(timeout=0.2)
        assert time.monotonic() - started < 3
    finally:
        release.set()
    _wait_stopped(stopping)
    assert second == []


def test_sampling_keeps_a_fixed_rate(no_thread_left):
    """The time a sample takes comes off the wait: a sample slower than check_interval is followed at once."""
    entries: list[float] = []
    exits: list[float] = []
    second = threading.Event()

    def slow() -> float:
        entries.append(time.monotonic())
        if len(entries) == 2:
            second.set()
        time.sleep(1.1)  # longer than check_interval
        exits.append(time.monotonic())
        return 0.0

    detector = ResourceLeakDetector(
        check_interval=1.0, memory_threshold=None, gauges={"slow": slow}, sample_connections=False
    )
    detector.start_monitoring()
    try:
        assert second.wait(20)
    finally:
        detector.stop_monitoring(timeout=10)
    # Waiting check_interval after each sample would put a gap of at least 1 s here.
    assert entries[1] - exits[0] < 0.8


async def test_stop_monitoring_never_blocks_the_event_loop(no_thread_left):
    """Inside a loop, stop_monitoring() returns at once and awaiting it lets other tasks run until the thread exits."""
    entered, release = threading.Event(), threading.Event()

    def stuck() -> float:
        entered.set()
        release.wait(20)
        return 0.0

    detector = ResourceLeakDetector(check_interval=0.05, gauges={"stuck": stuck})
    detector.start_monitoring()
    assert await asyncio.to_thread(entered.wait, 10)
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    beating = asyncio.create_task(heartbeat())
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, release.set)
    try:
        stopping = detector.stop_monitoring(timeout=10)
        assert not stopping.stopped  # it did not wait for the thread
        await stopping
    finally:
        release.set()
        beating.cancel()
    assert stopping.stopped
    assert ticks >= 3  # the loop kept running while the thread finished its gauge


async def test_async_alert_callback_runs_on_the_monitoring_loop(no_thread_left):
    """A coroutine-function callback is awaited on the loop that started monitoring."""
    got: asyncio.Queue[tuple[LeakAlert, asyncio.AbstractEventLoop]] = asyncio.Queue()

    async def on_alert(alert: LeakAlert) -> None:
        await got.put((alert, asyncio.get_running_loop()))

    base = psutil.Process().num_fds()
    detector = ResourceLeakDetector(
        check_interval=0.05, file_handle_threshold=max(1, base - 1), growth_rates=NO_GROWTH, on_alert=on_alert
    )
    async with detector:
        alert, loop = await asyncio.wait_for(got.get(), 10)
    assert loop is asyncio.get_running_loop()
    assert (alert.resource, alert.kind) == ("open_files", "threshold")
    assert not detector.is_monitoring


async def test_async_callback_from_check_now_and_its_errors(caplog):
    """check_now() inside a loop schedules async callbacks there; one that raises is logged."""
    done = asyncio.Event()

    async def fine(alert: LeakAlert) -> None:
        done.set()

    async def broken(alert: LeakAlert) -> None:
        raise RuntimeError("pager down")

    detector = ResourceLeakDetector(file_handle_threshold=1, growth_rates=NO_GROWTH, on_alert=broken)
    detector.add_alert_callback(fine)
    with caplog.at_level(logging.ERROR, "rel_health"):
        assert len(detector.check_now()) == 1
        await asyncio.wait_for(done.wait(), 5)
        await asyncio.sleep(0.05)
    assert "pager down" in caplog.text


def test_async_callback_without_a_loop_is_reported(caplog):
    """An async callback with no event loop to run on is closed (no 'never awaited' warning) and logged."""

    async def on_alert(alert: LeakAlert) -> None:  # pragma: no cover - never runs
        raise AssertionError

    detector = ResourceLeakDetector(file_handle_threshold=1, growth_rates=NO_GROWTH, on_alert=on_alert)
    with caplog.at_level(logging.WARNING, "rel_health"):
        detector.check_now()
    assert "no event loop" in caplog.text


def test_memory_threshold_is_the_machines_memory_in_use():
    """memory_threshold compares the machine's memory in use, as seed 002's 'alert if memory usage > 80%'."""
    used = psutil.virtual_memory().percent / 100
    over = ResourceLeakDetector(memory_threshold=used / 2, growth_rates=NO_GROWTH).check_now()
    assert [(a.resource, a.kind) for a in over] == [("system_memory_percent", "threshold")]
    assert over[0].limit == pytest.approx(used * 50)
    assert ResourceLeakDetector(memory_threshold=1.0, growth_rates=NO_GROWTH).check_now() == []
    assert ResourceLeakDetector(memory_threshold=None).thresholds.get("system_memory_percent") is None


def test_process_memory_threshold_is_this_processes_share():
    """process_memory_threshold compares this process's RSS as a share of physical memory."""
    sample = ResourceLeakDetector().sample()
    share = sample.memory_percent / 100
    detector = ResourceLeakDetector(
        memory_threshold=None, process_memory_threshold=share / 2, growth_rates=NO_GROWTH
    )
    assert [(a.resource, a.kind) for a in detector.check_now()] == [("memory_percent", "threshold")]


def _fire(detector: ResourceLeakDetector, hold) -> list[tuple[str, str]]:
    """Check once at rest (no alert), once while ``hold()`` holds resources; return the second's alerts."""
    assert detector.check_now() == []
    with hold():
        return [(a.resource, a.kind) for a in detector.check_now()]


def test_connection_threshold_with_real_sockets():
    """Loopback TCP connections held by this process cross connection_threshold."""
    base = len(psutil.Process().net_connections(kind="inet"))
    detector = ResourceLeakDetector(
        memory_threshold=None,
        file_handle_threshold=None,
        connection_threshold=base + 4,
        growth_rates=NO_GROWTH,
    )

    @contextlib.contextmanager
    def hold():
        with contextlib.ExitStack() as stack:
            listener = stack.enter_context(socket.create_server(("127.0.0.1", 0)))
            for _ in range(3):
                stack.enter_context(socket.create_connection(listener.getsockname(), timeout=5))
                stack.enter_context(listener.accept()[0])
            yield

    assert _fire(detector, hold) == [("connections", "threshold")]


def test_thread_threshold_with_real_threads():
    """Started threads cross thread_threshold."""
    base = psutil.Process().num_threads()
    detector = ResourceLeakDetector(
        memory_threshold=None, thread_threshold=base + 3, growth_rates=NO_GROWTH, sample_connections=False
    )

    @contextlib.contextmanager
    def hold():
        release = threading.Event()
        threads = [threading.Thread(target=release.wait, args=(10,)) for _ in range(5)]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            release.set()
            for thread in threads:
                thread.join(10)

    assert _fire(detector, hold) == [("threads", "threshold")]


def test_child_threshold_with_real_children():
    """Spawned child processes cross child_threshold."""
    detector = ResourceLeakDetector(
        memory_threshold=None, child_threshold=2, growth_rates=NO_GROWTH, sample_connections=False
    )

    @contextlib.contextmanager
    def hold():
        children = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) for _ in range(3)]
        try:
            yield
        finally:
            for child in children:
                child.kill()
                child.wait(10)

    assert _fire(detector, hold) == [("children", "threshold")]


def test_rss_threshold_with_a_real_allocation():
    """Allocating (and touching) 96 MiB crosses an RSS threshold set 48 MiB above the current RSS."""
    rss = psutil.Process().memory_info().rss
    detector = ResourceLeakDetector(
        memory_threshold=None,
        rss_threshold_bytes=rss + 48 * 2**20,
        growth_rates=NO_GROWTH,
        sample_connections=False,
    )

    @contextlib.contextmanager
    def hold():
        blob = b"\x01" * (96 * 2**20)
        try:
            yield
        finally:
            del blob

    assert _fire(detector, hold) == [("rss_bytes", "threshold")]


def test_gauges_threshold_growth_and_failures():
    """User gauges are sampled, alert on threshold and on steady growth; a failing gauge is recorded, not raised."""
    queue: list[int] = []
    detector = ResourceLeakDetector(
        memory_threshold=None,
        gauges={"queue": lambda: len(queue), "broken": lambda: 1 / 0, "text": lambda: "many"},  # type: ignore[dict-item]
        gauge_thresholds={"queue": 50},
        growth_window=5,
        growth_rates={**NO_GROWTH, "queue": 1.0},
        min_fit=0.0,  # a stalled sleep on a loaded machine bends the line; the slope still shows
        sample_connections=False,
    )
    found: list[tuple[str, str]] = []
    for _ in range(5):
        queue.extend(range(12))
        found += [(a.resource, a.kind) for a in detector.check_now()]
        time.sleep(0.05)
    sample = detector.history[-1]
    assert sample.gauges == {"queue": 60.0}
    assert sample.unavailable["broken"] == "ZeroDivisionError"
    assert sample.unavailable["text"] == "TypeError"
    assert ("queue", "growth") in found
    assert ("queue", "threshold") in found
    assert sample.as_dict()["gauges"] == {"queue": 60.0}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"process_memory_threshold": 0}, "process_memory_threshold"),
        ({"gauges": {"rss_bytes": lambda: 1}}, "gauges"),
        ({"gauges": {"q": 3}}, "gauges"),
        ({"gauge_thresholds": {"q": 3}}, "gauge_thresholds"),
        ({"gauges": {"q": lambda: 1}, "gauge_thresholds": {"q": float("nan")}}, "gauge_thresholds"),
        ({"growth_rates": {"q": 1}}, "growth_rates"),
        ({"history_size": 0}, "history_size"),
    ],
)
def test_invalid_gauge_and_memory_configuration(kwargs, match):
    """Gauge and memory parameters are validated at construction."""
    with pytest.raises(ValueError, match=match):
        ResourceLeakDetector(**kwargs)
