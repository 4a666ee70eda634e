"""`serve_health`: the probe endpoints on a stdlib HTTP server in background threads."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from rel_health._checker import HealthChecker
from rel_health._probes import ProbeResponse, probe
from rel_health._report import HEALTH_JSON

logger = logging.getLogger("rel_health")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a stalled client must not hold up close()
    request_queue_size = 128  # a burst of probes queues instead of being refused


class HealthServer:
    """A running probe server; see :func:`serve_health`. Use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        checker: HealthChecker,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        request_timeout: float = 5.0,
    ) -> None:
        if not (isinstance(request_timeout, int | float) and request_timeout > 0):
            raise ValueError(f"request_timeout must be a number > 0 (seconds), got {request_timeout!r}")
        self.checker = checker
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(
            target=self._loop.run_forever, name="rel-health-checks", daemon=True
        )
        handler = type("_HealthHandler", (_Handler,), {"timeout": request_timeout, "owner": self})
        self._httpd = _Server((host, port), handler)
        self._http_thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="rel-health-http",
            daemon=True,
        )
        self._closed = False
        self._loop_thread.start()
        self._http_thread.start()

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        """The port the server listens on (the one chosen when ``port=0``)."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://host:port`` of the server."""
        host = self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def answer(self, path: str) -> ProbeResponse:
        """Run the probe for ``path`` on the server's check loop and return the answer."""
        future = asyncio.run_coroutine_threadsafe(probe(self.checker, path), self._loop)
        try:
            return future.result(timeout=self.checker.longest_timeout + 5.0)
        except concurrent.futures.TimeoutError:
            future.cancel()
            body = {"status": "fail", "output": "health checks did not finish in time"}
            return ProbeResponse(503, HEALTH_JSON, json.dumps(body).encode())

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting requests, close the socket and stop the threads. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._http_thread.join(timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop_thread.join(timeout)
        if not self._loop.is_running():
            self._loop.close()

    def __enter__(self) -> HealthServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<HealthServer {self.url}{' closed' if self._closed else ''}>"


class _Handler(BaseHTTPRequestHandler):
    owner: HealthServer
    server_version = "rel-health"

    def do_GET(self) -> None:
        self._respond(head=False)

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def _respond(self, *, head: bool) -> None:
        answer = self.owner.answer(self.path)
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("health probe %s: " + format, self.address_string(), *args)


def serve_health(
    checker: HealthChecker,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    request_timeout: float = 5.0,
) -> HealthServer:
    """Serve ``/livez``, ``/readyz`` and ``/healthz`` for ``checker`` and return at once.

    A :class:`http.server.ThreadingHTTPServer` answers in background daemon
    threads; checks run on a private event loop thread (so the event-loop lag
    check measures that loop unless given the application's). Each
    connection's socket has ``request_timeout`` seconds per read/write, so a
    client that connects and sends nothing only holds its own thread. ``port=0``
    picks a free port (see :attr:`HealthServer.port`). Call
    :meth:`HealthServer.close` (or use ``with``) to stop.

    :raises OSError: the address cannot be bound.
    """
    return HealthServer(checker, host, port, request_timeout=request_timeout)
