from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from health_http_support import CountingCheck, get

from rel_health import HEALTH_JSON, HealthCheck, HealthChecker, serve_health


def _checker(db_status: str = "healthy", cache_status: str = "healthy") -> HealthChecker:
    checker = HealthChecker()

    async def db() -> HealthCheck:
        return HealthCheck("db", db_status, f"db {db_status}", {"latency_ms": 3})

    def cache() -> HealthCheck:
        return HealthCheck("cache", cache_status, f"cache {cache_status}")

    checker.add_check("db", db, groups=["readiness"])
    checker.add_check("cache", cache, critical=False)
    return checker


def test_healthz_passes_with_ietf_json(no_thread_left):
    """/healthz answers 200 application/health+json with status pass and a checks object."""
    with serve_health(_checker()) as server:
        status, headers, body = get(server.port, "/healthz")
    assert status == 200
    assert headers["content-type"] == HEALTH_JSON
    assert headers["cache-control"] == "no-store"
    assert body["status"] == "pass"
    assert body["checks"]["db"][0]["status"] == "pass"
    assert body["checks"]["db"][0]["details"] == {"latency_ms": 3}
    assert body["checks"]["db"][0]["critical"] is True
    assert body["checks"]["cache"][0]["critical"] is False
    assert body["checks"]["db"][0]["time"].endswith("Z")


@pytest.mark.parametrize(
    ("db", "cache", "code", "overall"),
    [
        ("unhealthy", "healthy", 503, "fail"),
        ("healthy", "unhealthy", 200, "warn"),
        ("degraded", "healthy", 200, "warn"),
    ],
)
def test_healthz_status_codes(db, cache, code, overall, no_thread_left):
    """Unhealthy gives 503 and fail; a degraded report still 200 with warn."""
    with serve_health(_checker(db, cache)) as server:
        status, _, body = get(server.port, "/healthz")
    assert status == code
    assert body["status"] == overall
    assert "output" in body


def test_readyz_and_livez_select_their_checks(no_thread_left):
    """/readyz runs the readiness group; /livez with no liveness checks passes with none."""
    with serve_health(_checker(cache_status="unhealthy")) as server:
        ready_status, _, ready = get(server.port, "/readyz")
        live_status, _, live = get(server.port, "/livez")
        missing, _, _ = get(server.port, "/nope")
        head = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        head.request("HEAD", "/healthz")
        head_response = head.getresponse()
        head_body = head_response.read()
        head.close()
    assert (ready_status, list(ready["checks"])) == (200, ["db"])
    assert "details" not in ready["checks"]["db"][0]
    assert (live_status, live["checks"]) == (200, {})
    assert missing == 404
    assert head_response.status == 200
    assert head_body == b""


def test_readyz_falls_back_to_critical_checks(no_thread_left):
    """Without a readiness group, /readyz runs the critical checks and fails with them."""
    checker = HealthChecker()
    checker.add_check("db", lambda: HealthCheck("db", "unhealthy", "down"))
    checker.add_check("extra", lambda: HealthCheck("extra", "unhealthy", "down"), critical=False)
    with serve_health(checker) as server:
        status, _, body = get(server.port, "/readyz")
    assert status == 503
    assert list(body["checks"]) == ["db"]


def test_hundred_concurrent_probes(no_thread_left):
    """100 probes at once all get a correct answer, and the cache spares the dependency."""
    slow = CountingCheck("slow", 0.05)
    checker = HealthChecker(cache_ttl=30)
    checker.add_check("slow", slow.check)
    with serve_health(checker) as server, ThreadPoolExecutor(100) as pool:
        results = list(pool.map(lambda _: get(server.port, "/healthz", timeout=20), range(100)))
    assert [r[0] for r in results] == [200] * 100
    assert all(r[2]["status"] == "pass" for r in results)
    assert slow.calls <= 3


def test_silent_client_does_not_block_others(no_thread_left):
    """A client that connects and sends nothing does not delay other probes, and is dropped after the timeout."""
    with serve_health(_checker(), request_timeout=1.0) as server:
        silent = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        try:
            started = time.monotonic()
            for _ in range(5):
                assert get(server.port, "/livez", timeout=5)[0] == 200
            assert time.monotonic() - started < 4
            silent.settimeout(10)
            assert silent.recv(1024) == b""  # the server closed it after request_timeout
        finally:
            silent.close()


def test_close_stops_threads_and_frees_the_port(no_thread_left):
    """close() stops the server threads and the port refuses connections afterwards."""
    server = serve_health(_checker())
    port = server.port
    assert get(port, "/livez")[0] == 200
    server.close()
    server.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert "closed" in repr(server)


def test_slow_checks_answer_503_not_hang(no_thread_left):
    """A hanging check is reported as failed within its timeout; the probe does not hang."""
    checker = HealthChecker()

    async def hang() -> HealthCheck:
        await asyncio.sleep(60)
        return HealthCheck("hang", "healthy")

    checker.add_check("hang", hang, timeout=0.3)
    with serve_health(checker) as server:
        started = time.monotonic()
        status, _, body = get(server.port, "/healthz")
    assert time.monotonic() - started < 5
    assert status == 503
    assert body["checks"]["hang"][0]["output"] == "timed out after 0.3 s"


def test_bad_request_timeout_rejected():
    """request_timeout must be a finite number > 0 and max_connections at least 1."""
    for bad in (0, float("inf"), float("nan"), True):
        with pytest.raises(ValueError, match="request_timeout"):
            serve_health(HealthChecker(), request_timeout=bad)
    with pytest.raises(ValueError, match="max_connections"):
        serve_health(HealthChecker(), max_connections=0)


def test_json_round_trips():
    """The body is valid JSON with only pass/warn/fail statuses."""
    with serve_health(_checker("degraded")) as server:
        _, _, body = get(server.port, "/healthz")
    assert json.loads(json.dumps(body)) == body
    assert {e[0]["status"] for e in body["checks"].values()} <= {"pass", "warn", "fail"}
