from __future__ import annotations

import json

import pytest

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
