from __future__ import annotations

import asyncio
import shutil
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
import pytest

from rel_health import (
    HealthChecker,
    HealthStatus,
    cpu_check,
    disk_space_check,
    event_loop_lag_check,
    http_check,
    memory_check,
    open_files_check,
    tcp_check,
)


async def test_disk_space_check_grades_by_used_fraction(tmp_path):
    """The disk check is healthy, degraded or unhealthy as the used fraction crosses warn and fail."""
    usage = shutil.disk_usage(tmp_path)
    used = usage.used / usage.total
    healthy = await disk_space_check(tmp_path, warn_fraction=1.0, fail_fraction=1.0)()
    degraded = await disk_space_check(tmp_path, warn_fraction=max(used / 2, 1e-9), fail_fraction=1.0)()
    unhealthy = await disk_space_check(tmp_path, warn_fraction=1e-9, fail_fraction=max(used / 2, 1e-9))()
    assert healthy.status is HealthStatus.HEALTHY
    assert degraded.status is HealthStatus.DEGRADED
    assert unhealthy.status is HealthStatus.UNHEALTHY
    assert healthy.details["path"] == str(tmp_path)
    assert healthy.details["total_bytes"] == usage.total


async def test_disk_space_check_on_missing_path_is_unhealthy(tmp_path):
    """A path that does not exist makes the check raise, which the checker reports unhealthy."""
    checker = HealthChecker()
    checker.add_check("disk", disk_space_check(tmp_path / "missing"))
    report = await checker.check_all()
    assert report.checks["disk"].status is HealthStatus.UNHEALTHY
    assert "FileNotFoundError" in report.checks["disk"].message


async def test_memory_check():
    """The memory check reports system percent and RSS, and fails over max_rss_bytes."""
    percent = psutil.virtual_memory().percent
    fine = await memory_check(warn_percent=100, fail_percent=100)()
    assert fine.status is HealthStatus.HEALTHY
    assert fine.details["rss_bytes"] > 0
    over = await memory_check(warn_percent=100, fail_percent=100, max_rss_bytes=1)()
    assert over.status is HealthStatus.UNHEALTHY
    assert "limit" in over.message
    low = await memory_check(warn_percent=max(percent / 2, 1e-6), fail_percent=100)()
    assert low.status is HealthStatus.DEGRADED


async def test_cpu_check_is_consistent():
    """The CPU check grades the percentage it reports."""
    result = await cpu_check(warn_percent=50, fail_percent=80, sample_s=0.05)()
    percent = result.details["cpu_percent"]
    assert 0 <= percent <= 100
    expected = "unhealthy" if percent >= 80 else "degraded" if percent >= 50 else "healthy"
    assert result.status == expected


async def test_open_files_check():
    """The descriptor check compares this process's open files with its soft limit."""
    result = await open_files_check()()
    assert result.details["open_files"] == psutil.Process().num_fds()
    assert result.status is HealthStatus.HEALTHY
    tight = await open_files_check(warn_fraction=1e-9, fail_fraction=1e-9)()
    assert tight.status is HealthStatus.UNHEALTHY


async def test_tcp_check_open_and_refused():
    """A listening port is healthy; a closed one unhealthy."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    try:
        up = await tcp_check("127.0.0.1", port)()
    finally:
        listener.close()
    down = await tcp_check("127.0.0.1", port, name="db")()
    assert up.status is HealthStatus.HEALTHY
    assert up.name == f"tcp:127.0.0.1:{port}"
    assert down.status is HealthStatus.UNHEALTHY
    assert down.name == "db"
    assert "cannot connect" in down.message


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = int(self.path.strip("/") or 200)
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


async def test_http_check_statuses(http_server):
    """Expected status is healthy; a degraded_status is degraded; any other status unhealthy."""
    ok = await http_check(f"{http_server}/200")()
    created = await http_check(f"{http_server}/201", expected_status=[200, 201])()
    busy = await http_check(f"{http_server}/429", degraded_status=[429])()
    broken = await http_check(f"{http_server}/500")()
    assert ok.status is HealthStatus.HEALTHY
    assert ok.details["http_status"] == 200
    assert created.status is HealthStatus.HEALTHY
    assert busy.status is HealthStatus.DEGRADED
    assert broken.status is HealthStatus.UNHEALTHY
    assert broken.message.endswith("returned 500, expected 200")


async def test_http_check_refused_and_silent_servers():
    """A refused connection is unhealthy; a server that never answers is cut off by the checker's timeout."""
    silent = socket.create_server(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    checker = HealthChecker()
    checker.add_check("silent", http_check(f"http://127.0.0.1:{port}/"), timeout=0.3)
    started = time.monotonic()
    try:
        report = await checker.check_all()
    finally:
        silent.close()
    assert time.monotonic() - started < 3
    assert report.checks["silent"].message == "timed out after 0.3 s"
    refused = await http_check(f"http://127.0.0.1:{port}/")()
    assert refused.status is HealthStatus.UNHEALTHY
    assert "cannot connect" in refused.message


async def test_http_check_rejects_non_http_response():
    """A server answering garbage is unhealthy, not an exception."""
    server = await asyncio.start_server(_garbage, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        result = await http_check(f"http://127.0.0.1:{port}/")()
    assert result.status is HealthStatus.UNHEALTHY
    assert "not an HTTP response" in result.message


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readline()
    writer.write(b"SSH-2.0-OpenSSH\r\n")
    await writer.drain()
    writer.close()


async def test_event_loop_lag_on_own_loop():
    """On an idle loop the lag is small and healthy."""
    result = await event_loop_lag_check(warn_s=1, fail_s=2)()
    assert result.status is HealthStatus.HEALTHY
    assert result.details["lag_s"] < 1


async def test_event_loop_lag_of_a_blocked_loop():
    """A blocked application loop is reported unhealthy from the checking loop."""
    other = asyncio.new_event_loop()
    thread = threading.Thread(target=other.run_forever, daemon=True)
    thread.start()
    try:
        other.call_soon_threadsafe(time.sleep, 1.0)
        result = await event_loop_lag_check(warn_s=0.05, fail_s=0.2, loop=other)()
    finally:
        other.call_soon_threadsafe(other.stop)
        thread.join(5)
        other.close()
    assert result.status is HealthStatus.UNHEALTHY
    assert result.details["lag_s"] >= 0.2


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: disk_space_check(warn_fraction=0.9, fail_fraction=0.5), "warn_fraction"),
        (lambda: disk_space_check(fail_fraction=1.5), "fail_fraction"),
        (lambda: memory_check(warn_percent=0), "warn_percent"),
        (lambda: memory_check(max_rss_bytes=-1), "max_rss_bytes"),
        (lambda: cpu_check(sample_s=0), "sample_s"),
        (lambda: open_files_check(warn_fraction=2), "warn_fraction"),
        (lambda: tcp_check("localhost", 70000), "port"),
        (lambda: http_check("ftp://example.com/"), "url"),
        (lambda: event_loop_lag_check(warn_s=1, fail_s=0.5), "warn_s"),
    ],
)
def test_builtin_check_validation(factory, match):
    """Built-in check factories reject bad configuration at construction."""
    with pytest.raises(ValueError, match=match):
        factory()
