"""Built-in checks against real resources: a small filesystem, allocations, CPU load, rlimits, sockets, TLS."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import psutil
import pytest

from rel_health import (
    HealthStatus,
    cpu_check,
    disk_space_check,
    event_loop_lag_check,
    http_check,
    memory_check,
    tcp_check,
)

MiB = 2**20


@pytest.fixture
def small_fs(tmp_path):
    """A real 4 MiB tmpfs (needs root and the mount capability; skipped elsewhere)."""
    if sys.platform != "linux" or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root on Linux")
    point = tmp_path / "fs"
    point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(point)],
        check=False,
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False, capture_output=True)


async def test_disk_check_grades_a_filling_filesystem(small_fs):
    """On a real 4 MiB filesystem: healthy when empty, degraded at half, unhealthy near full and at ENOSPC."""
    check = disk_space_check(small_fs, warn_fraction=0.4, fail_fraction=0.9)
    empty = await check()
    (small_fs / "half").write_bytes(b"\0" * (2 * MiB))
    half = await check()
    (small_fs / "more").write_bytes(b"\0" * (MiB + 768 * 1024))
    nearly = await check()
    failure = None
    with open(small_fs / "rest", "wb", buffering=0) as rest:
        for _ in range(64):  # 4 MiB in 64 KiB writes: more than there is room for
            try:
                rest.write(b"\0" * (64 * 1024))
            except OSError as exc:
                failure = exc.errno
                break
    assert failure == errno.ENOSPC
    full = await check()
    assert [r.status for r in (empty, half, nearly, full)] == [
        HealthStatus.HEALTHY,
        HealthStatus.DEGRADED,
        HealthStatus.UNHEALTHY,
        HealthStatus.UNHEALTHY,
    ]
    assert 0.45 < half.details["used_fraction"] < 0.6
    assert full.details["used_fraction"] == 1.0
    assert full.details["free_bytes"] == 0
    assert "100.0% of" in full.message


async def test_disk_fraction_is_what_df_shows(tmp_path):
    """The used fraction is used / (used + available), as df shows it: reserved blocks are not free."""
    result = await disk_space_check(tmp_path)()
    stat = os.statvfs(tmp_path)
    used = (stat.f_blocks - stat.f_bfree) * stat.f_frsize
    available = stat.f_bavail * stat.f_frsize
    assert result.details["used_fraction"] == pytest.approx(used / (used + available), abs=0.01)


async def test_memory_check_follows_a_real_allocation():
    """Process RSS crossing warn_rss_bytes degrades the check, crossing max_rss_bytes fails it."""
    rss = psutil.Process().memory_info().rss
    check = memory_check(
        warn_percent=100, fail_percent=100, warn_rss_bytes=rss + 32 * MiB, max_rss_bytes=rss + 96 * MiB
    )
    before = await check()
    first = b"\x01" * (64 * MiB)
    warned = await check()
    second = b"\x01" * (64 * MiB)
    failed = await check()
    del first, second
    assert before.status is HealthStatus.HEALTHY
    assert warned.status is HealthStatus.DEGRADED
    assert "warning level" in warned.message
    assert failed.status is HealthStatus.UNHEALTHY
    assert failed.details["rss_bytes"] > rss + 96 * MiB


async def test_memory_check_system_thresholds():
    """System memory in use above fail_percent is unhealthy, above warn_percent degraded."""
    percent = psutil.virtual_memory().percent
    failed = await memory_check(warn_percent=percent / 3, fail_percent=percent / 2)()
    assert failed.status is HealthStatus.UNHEALTHY
    assert failed.details["system_percent"] == pytest.approx(percent, abs=10)


async def test_cpu_check_sees_real_load():
    """With a busy process on every CPU, the check measures high CPU use and grades it."""
    burn = "import time\nend = time.monotonic() + 20\nwhile time.monotonic() < end:\n    pass\n"
    burners = [subprocess.Popen([sys.executable, "-c", burn]) for _ in range(psutil.cpu_count() or 1)]
    try:
        await asyncio.sleep(0.3)
        result = await cpu_check(warn_percent=30, fail_percent=100, sample_s=0.5)()
    finally:
        for burner in burners:
            burner.kill()
            burner.wait(10)
    assert result.details["cpu_percent"] >= 30
    assert result.status in (HealthStatus.DEGRADED, HealthStatus.UNHEALTHY)


RLIMIT_CHILD = textwrap.dedent(
    """
    import asyncio, json, resource, sys
    import psutil
    from rel_health import open_files_check

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    check = open_files_check(warn_fraction=0.5, fail_fraction=0.9)
    held, results = [], []

    def measure():
        result = asyncio.run(check())
        results.append([result.status.value, result.details["open_files"], result.details["limit"]])

    def hold_until(count):
        while psutil.Process().num_fds() < count:
            held.append(open(sys.executable, "rb"))

    measure()
    hold_until(36)
    measure()
    hold_until(60)
    measure()
    try:
        hold_until(70)
    except OSError as exc:
        results.append(exc.errno)
    print(json.dumps(results))
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_NOFILE is POSIX")
def test_open_files_check_against_a_lowered_rlimit():
    """In a child whose descriptor limit is lowered to 64, the check follows the real count to degraded and unhealthy."""
    done = subprocess.run(
        [sys.executable, "-c", RLIMIT_CHILD], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    healthy, degraded, unhealthy, refused = json.loads(done.stdout)
    assert healthy[0] == "healthy"
    assert healthy[2] == 64
    assert degraded[0] == "degraded"
    assert 32 <= degraded[1] < 58
    assert unhealthy[0] == "unhealthy"
    assert unhealthy[1] >= 58
    assert refused == errno.EMFILE  # the limit the check measured against is the real one


async def test_tcp_check_connects_then_closes():
    """The TCP check completes a real handshake and closes its connection (the server reads EOF)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        host, port = listener.getsockname()
        result = await tcp_check(host, port)()
        listener.settimeout(5)
        accepted, _ = listener.accept()
        with accepted:
            accepted.settimeout(5)
            assert accepted.recv(1) == b""
    assert result.status is HealthStatus.HEALTHY
    assert result.details == {"host": "127.0.0.1", "port": port}


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, dict[str, str]]]] = []

    def _answer(self) -> None:
        self.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        code = int(self.path.split("?")[0].strip("/") or 200)
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = _answer

    def log_message(self, *args: object) -> None:
        pass


def _serve(context: ssl.SSLContext | None = None):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


def _stop(server, thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(5)


async def test_http_check_sends_method_path_query_and_headers():
    """The HTTP check sends its method, path with query string, Host and custom headers."""
    _Recorder.seen = []
    server, thread = _serve()
    port = server.server_address[1]
    try:
        got = await http_check(
            f"http://127.0.0.1:{port}/204?probe=1", expected_status=204, headers={"X-Probe": "rel"}
        )()
        head = await http_check(f"http://127.0.0.1:{port}/200", method="HEAD")()
    finally:
        _stop(server, thread)
    assert got.status is HealthStatus.HEALTHY
    assert head.status is HealthStatus.HEALTHY
    (method, path, headers), (head_method, _, _) = _Recorder.seen
    assert (method, path, head_method) == ("GET", "/204?probe=1", "HEAD")
    assert headers["host"] == f"127.0.0.1:{port}"
    assert headers["x-probe"] == "rel"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"openssl cannot make a certificate: {made.stderr.strip()[:200]}")
    return cert, key


async def test_https_check_verifies_the_certificate(tls_files):
    """An https check is healthy with a context trusting the server's certificate, unhealthy with the default one."""
    cert, key = tls_files
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    server, thread = _serve(server_context)
    port = server.server_address[1]
    trusting = ssl.create_default_context(cafile=str(cert))
    try:
        trusted = await http_check(f"https://127.0.0.1:{port}/200", ssl_context=trusting)()
        untrusted = await http_check(f"https://127.0.0.1:{port}/200")()
    finally:
        _stop(server, thread)
    assert trusted.status is HealthStatus.HEALTHY
    assert untrusted.status is HealthStatus.UNHEALTHY
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.message


async def test_event_loop_lag_of_the_checking_loop_itself():
    """A callback that blocks the loop the check runs on shows up as lag on that loop."""
    asyncio.get_running_loop().call_soon(time.sleep, 0.4)
    result = await event_loop_lag_check(warn_s=0.1, fail_s=0.3)()
    assert result.status is HealthStatus.UNHEALTHY
    assert result.details["lag_s"] >= 0.3
