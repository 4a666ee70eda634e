from __future__ import annotations

import asyncio
import json

import pytest
from health_http_support import CountingCheck

from rel_health import HEALTH_JSON, HealthCheck, HealthChecker, health_asgi_app


async def call(app, path: str, method: str = "GET", *, root: str = ""):
    """Drive an ASGI app directly with a minimal scope, receive and send."""
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": [],
    }
    await app(scope, receive, send)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    body = sent[1]["body"]
    return sent[0]["status"], headers, body


def _checker(status: str) -> HealthChecker:
    checker = HealthChecker()

    async def db() -> HealthCheck:
        return HealthCheck("db", status, f"db {status}")

    checker.add_check("db", db)
    return checker


@pytest.mark.parametrize(
    ("status", "code", "ietf"),
    [("healthy", 200, "pass"), ("degraded", 200, "warn"), ("unhealthy", 503, "fail")],
)
async def test_asgi_healthz(status, code, ietf):
    """The ASGI app answers /healthz with health+json and 200/503 by status."""
    app = health_asgi_app(_checker(status))
    got, headers, body = await call(app, "/healthz")
    assert got == code
    assert headers["content-type"] == HEALTH_JSON
    assert int(headers["content-length"]) == len(body)
    data = json.loads(body)
    assert data["status"] == ietf
    assert data["checks"]["db"][0]["status"] == ietf


async def test_asgi_prefix_head_404_and_405():
    """A prefix is stripped; HEAD has no body; unknown paths are 404 and POST is 405."""
    app = health_asgi_app(_checker("healthy"), prefix="/ops/")
    assert (await call(app, "/ops/readyz"))[0] == 200
    status, headers, body = await call(app, "/ops/livez", "HEAD")
    assert (status, body) == (200, b"")
    assert int(headers["content-length"]) > 0
    assert (await call(app, "/ops/other"))[0] == 404
    status, headers, _ = await call(app, "/ops/healthz", "POST")
    assert status == 405
    assert headers["allow"] == "GET, HEAD"


async def test_asgi_lifespan():
    """Lifespan startup and shutdown are acknowledged."""
    app = health_asgi_app(HealthChecker())
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict] = []

    async def receive():
        return inbox.pop(0)

    async def send(message):
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def _drive(app, scope: dict) -> tuple[int, dict[str, str], bytes]:
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app(
        {"type": "http", "asgi": {"version": "3.0"}, "headers": [], "query_string": b"", **scope},
        receive,
        send,
    )
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    return sent[0]["status"], {k.decode(): v.decode() for k, v in sent[0]["headers"]}, sent[1]["body"]


async def test_asgi_root_path_query_string_and_prefix_boundaries():
    """A mount's root_path is stripped; the query string is ignored; '/opsx' is not under prefix '/ops'."""
    app = health_asgi_app(_checker("healthy"))
    mounted = {"method": "GET", "path": "/internal/healthz", "root_path": "/internal"}
    assert (await _drive(app, mounted))[0] == 200
    query = {"method": "GET", "path": "/readyz", "query_string": b"verbose=1"}
    assert (await _drive(app, query))[0] == 200
    prefixed = health_asgi_app(_checker("healthy"), prefix="/ops")
    assert (await _drive(prefixed, {"method": "GET", "path": "/opsx/healthz"}))[0] == 404
    assert (await _drive(prefixed, {"method": "GET", "path": "/ops/healthz"}))[0] == 200


async def test_asgi_concurrent_requests_share_one_run():
    """Fifty concurrent requests through the ASGI app on one loop run the check once."""
    slow = CountingCheck("slow", 0.1)
    checker = HealthChecker()
    checker.add_check("slow", slow.check)
    app = health_asgi_app(checker)
    results = await asyncio.gather(*(_drive(app, {"method": "GET", "path": "/healthz"}) for _ in range(50)))
    assert {status for status, _, _ in results} == {200}
    assert slow.calls == 1


async def test_asgi_refuses_websockets():
    """A websocket connection to the health app is closed, not left hanging."""
    app = health_asgi_app(HealthChecker())
    inbox = [{"type": "websocket.connect"}]
    sent: list[dict] = []

    async def receive():
        return inbox.pop(0)

    async def send(message):
        sent.append(message)

    await asyncio.wait_for(app({"type": "websocket", "path": "/healthz"}, receive, send), 5)
    assert sent == [{"type": "websocket.close", "code": 1003}]
