"""The probe server under the faults an orchestrator's network produces: stalls, storms, shutdowns."""

from __future__ import annotations

import asyncio
import errno
import http.client
import json
import select
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from health_http_support import CountingCheck, get

from rel_health import HealthCheck, HealthChecker, serve_health


def _fast_checker(cache_ttl: float = 0.0) -> HealthChecker:
    checker = HealthChecker(cache_ttl=cache_ttl)

    async def db() -> HealthCheck:
        return HealthCheck("db", "healthy", "ok")

    checker.add_check("db", db, groups=["readiness", "liveness"])
    return checker


def _cut_off(sock: socket.socket, within: float) -> bool:
    """True when the server closes ``sock`` (EOF or reset) within ``within`` seconds."""
    sock.settimeout(within)
    try:
        while True:
            if not sock.recv(4096):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def _wait_for(condition: Callable[[], bool], what: str, within: float = 20.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _connections(server) -> int:
    """Connections the server has accepted (those still in the backlog are reset by close())."""
    with server._httpd.state:
        return len(server._httpd.connections)


def _probes_in_flight(server) -> int:
    """Probes whose request was read and that wait for the checks."""
    with server._lock:
        return len(server._pending)


def test_half_request_line_stalls_only_its_own_connection(no_thread_left):
    """A client that sends half a request line and stalls is cut off after request_timeout; others are served meanwhile."""
    with serve_health(_fast_checker(), request_timeout=1.0) as server:
        stalled = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        silent = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        try:
            stalled.sendall(b"GET /hea")
            for path in ("/livez", "/readyz", "/healthz", "/livez", "/readyz"):
                assert get(server.port, path, timeout=5)[0] == 200
            assert _cut_off(stalled, 8)
            assert _cut_off(silent, 8)
        finally:
            stalled.close()
            silent.close()


def test_drip_fed_request_is_cut_off_by_the_head_deadline(no_thread_left):
    """A client dripping one byte every 0.2 s dodges the per-read timeout but not the deadline for the whole head."""
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 200 + b"\r\n\r\n"
    with serve_health(_fast_checker(), request_timeout=1.0) as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        started = time.monotonic()
        cut_after = None
        try:
            for byte in request:  # the whole drip would take 45 s
                try:
                    sock.sendall(bytes([byte]))
                except (ConnectionResetError, BrokenPipeError):
                    cut_after = time.monotonic() - started
                    break
                readable, _, _ = select.select([sock], [], [], 0.2)
                if readable and _cut_off(sock, 1):
                    cut_after = time.monotonic() - started
                    break
                if time.monotonic() - started > 12:
                    break
        finally:
            sock.close()
        assert cut_after is not None, "the dripping client was never cut off"
        assert cut_after < 10
        assert get(server.port, "/livez", timeout=5)[0] == 200


def test_hundred_concurrent_probes_without_cache_share_runs(no_thread_left):
    """100 concurrent probes with no cache all get 200; concurrent probes share runs of the checks."""
    slow = CountingCheck("slow", 0.2)
    checker = HealthChecker()
    checker.add_check("slow", slow.check)
    with serve_health(checker) as server:
        silent = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        try:
            with ThreadPoolExecutor(100) as pool:
                results = list(pool.map(lambda _: get(server.port, "/healthz", timeout=30), range(100)))
        finally:
            silent.close()
    assert [status for status, _, _ in results] == [200] * 100
    assert slow.calls < 100


def test_connection_flood_is_capped(no_thread_left):
    """Beyond max_connections, a new client gets 503 at once instead of a thread; capacity returns when they leave."""
    with serve_health(_fast_checker(), request_timeout=30, max_connections=4) as server:
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(4)]
        try:
            _wait_for(lambda: _connections(server) >= 4, "4 connections")
            status, headers, body = get(server.port, "/livez", timeout=5)
            assert status == 503
            assert headers["content-type"] == "application/health+json"
            assert body["output"] == "too many connections to the health server"
            assert sum(t.name == "rel-health-http-conn" for t in threading.enumerate()) == 4
        finally:
            for sock in idle:
                sock.close()
        for _ in range(100):
            if get(server.port, "/livez", timeout=5)[0] == 200:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("capacity did not come back after the idle clients left")


def _probe_in_thread(port: int, path: str, out: list) -> threading.Thread:
    def run() -> None:
        try:
            out.append(get(port, path, timeout=20))
        except Exception as exc:  # recorded for the assertion below
            out.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_close_with_probes_in_flight_answers_them_503(no_thread_left):
    """close() with probes stuck in a check cancels them after its timeout: every client gets 503 'shutting down'."""
    entered = threading.Event()

    async def stuck() -> HealthCheck:
        entered.set()
        await asyncio.sleep(60)
        return HealthCheck("stuck", "healthy")  # pragma: no cover - cancelled

    checker = HealthChecker()
    checker.add_check("stuck", stuck, timeout=30)
    server = serve_health(checker)
    answers: list = []
    clients = [_probe_in_thread(server.port, "/healthz", answers) for _ in range(5)]
    assert entered.wait(10)
    # Every request read, so that close() has five probes in flight to cancel.
    _wait_for(lambda: _probes_in_flight(server) == 5, "5 probes in flight")
    started = time.monotonic()
    server.close(timeout=0.3)
    took = time.monotonic() - started
    for client in clients:
        client.join(10)
    assert took < 5
    assert len(answers) == 5
    for answer in answers:
        assert not isinstance(answer, Exception), answer
        status, _, body = answer
        assert status == 503
        assert body["output"] == "the health server is shutting down"
    assert server._loop.is_closed()


def test_close_lets_quick_probes_in_flight_finish(no_thread_left):
    """Probes in flight that finish within close()'s timeout get their real answer."""
    release = threading.Event()

    async def brief() -> HealthCheck:
        while not release.is_set():  # held until close() has begun
            await asyncio.sleep(0.01)
        return HealthCheck("brief", "healthy", "done")

    checker = HealthChecker()
    checker.add_check("brief", brief, timeout=20)
    server = serve_health(checker)
    answers: list = []
    clients = [_probe_in_thread(server.port, "/healthz", answers) for _ in range(3)]
    _wait_for(lambda: _probes_in_flight(server) == 3, "3 probes in flight")
    threading.Timer(0.3, release.set).start()
    server.close(timeout=10)
    for client in clients:
        client.join(10)
    assert [a[0] for a in answers] == [200, 200, 200]
    assert all(a[2]["checks"]["brief"][0]["output"] == "done" for a in answers)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()


def test_close_stops_the_check_loops_worker_threads(no_thread_left):
    """Worker threads a check started with asyncio.to_thread have exited when close() returns."""
    before = set(threading.enumerate())

    async def threaded() -> HealthCheck:
        await asyncio.to_thread(time.sleep, 0.01)
        return HealthCheck("threaded", "healthy")

    checker = HealthChecker()
    checker.add_check("threaded", threaded)
    server = serve_health(checker)
    assert get(server.port, "/healthz")[0] == 200
    workers = [t for t in threading.enumerate() if t not in before and t.name.startswith("asyncio")]
    assert workers  # the check ran in the loop's default executor
    server.close()
    assert [t.name for t in workers if t.is_alive()] == []


def test_close_does_not_wait_for_a_silent_client(no_thread_left):
    """close() hangs up on a client still sending its request instead of waiting out request_timeout."""
    server = serve_health(_fast_checker(), request_timeout=30)
    silent = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        assert get(server.port, "/livez")[0] == 200
        started = time.monotonic()
        server.close()
        assert time.monotonic() - started < 10
        assert _cut_off(silent, 5)
    finally:
        silent.close()


def _request(port: int, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_methods_paths_and_query_strings(no_thread_left):
    """HEAD mirrors GET without a body; other methods get 405 with Allow; query strings and a trailing slash are ignored; unknown paths 404 in JSON."""
    with serve_health(_fast_checker(cache_ttl=60)) as server:  # GET and HEAD render one report
        status, headers, body = _request(server.port, "GET", "/healthz?verbose=1&x=%2F")
        assert status == 200
        assert json.loads(body)["checks"]["db"][0]["output"] == "ok"
        head_status, head_headers, head_body = _request(server.port, "HEAD", "/healthz")
        assert (head_status, head_body) == (200, b"")
        assert head_headers["content-length"] == headers["content-length"]
        assert head_headers["content-type"] == "application/health+json"
        for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            status, headers, _ = _request(server.port, method, "/healthz")
            assert (status, headers["allow"]) == (405, "GET, HEAD"), method
        assert _request(server.port, "GET", "/readyz/")[0] == 200
        assert _request(server.port, "GET", "/livez?probe=k8s")[0] == 200
        status, headers, body = _request(server.port, "GET", "/metrics?x=1")
        assert status == 404
        assert headers["content-type"] == "application/health+json"
        assert "/metrics" in json.loads(body)["output"]
        assert _request(server.port, "HEAD", "/nope")[0] == 404


def _ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_host(no_thread_left):
    """serve_health binds an IPv6 address and answers on it."""
    with serve_health(_fast_checker(), host="::1") as server:
        assert server.url == f"http://[::1]:{server.port}"
        conn = http.client.HTTPConnection("::1", server.port, timeout=10)
        try:
            conn.request("GET", "/readyz")
            assert conn.getresponse().status == 200
        finally:
            conn.close()


def test_port_in_use_raises_and_leaves_nothing_running(no_thread_left):
    """Serving on a port another socket holds raises OSError at once and starts no thread."""
    with socket.create_server(("127.0.0.1", 0)) as holder:
        port = holder.getsockname()[1]
        with pytest.raises(OSError) as info:  # noqa: PT011 - the errno is checked below
            serve_health(_fast_checker(), port=port)
    assert info.value.errno == errno.EADDRINUSE
