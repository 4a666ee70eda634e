"""`health_asgi_app`: the probe endpoints for an application's own ASGI server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from rel_health._checker import HealthChecker
from rel_health._probes import probe

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def health_asgi_app(checker: HealthChecker, *, prefix: str = "") -> ASGIApp:
    """An ASGI 3 application serving ``/livez``, ``/readyz`` and ``/healthz`` under ``prefix``.

    Mount it in any ASGI server or framework. GET and HEAD are answered with
    ``application/health+json`` (200, or 503 when unhealthy); other methods
    get 405, other paths 404; the query string is ignored. The scope's
    ``root_path`` (set by the framework that mounts the app) is stripped
    before ``prefix``. Lifespan events are acknowledged; a websocket
    connection is refused.
    """
    base = prefix.rstrip("/")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if kind == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1003})
            return
        if kind != "http":
            return
        method = scope.get("method", "GET")
        path: str = scope.get("path", "/")
        root = str(scope.get("root_path", "")).rstrip("/")
        if root and (path == root or path.startswith(root + "/")):
            path = path[len(root) :] or "/"
        if base and (path == base or path.startswith(base + "/")):
            path = path[len(base) :] or "/"
        if method not in ("GET", "HEAD"):
            await _send(
                send,
                405,
                "text/plain; charset=utf-8",
                b"method not allowed\n",
                extra=[(b"allow", b"GET, HEAD")],
            )
            return
        answer = await probe(checker, path)
        await _send(
            send,
            answer.status,
            answer.content_type,
            b"" if method == "HEAD" else answer.body,
            length=len(answer.body),
        )

    return app


async def _send(
    send: Send,
    status: int,
    content_type: str,
    body: bytes,
    *,
    length: int | None = None,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body) if length is None else length).encode()),
        (b"cache-control", b"no-store"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
