"""`serve_health`: the probe endpoints on a stdlib HTTP server in background threads."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from rel_health._checker import HealthChecker, _positive
from rel_health._probes import ProbeResponse, probe
from rel_health._report import HEALTH_JSON

logger = logging.getLogger("rel_health")

_ALLOWED = "GET, HEAD"
_BUSY_BODY = b'{"status":"fail","output":"too many connections to the health server"}'
_BUSY = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/health+json\r\n"
    b"Content-Length: " + str(len(_BUSY_BODY)).encode() + b"\r\nConnection: close\r\n\r\n" + _BUSY_BODY
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # close() tracks the connections itself
    request_queue_size = 128  # a burst of probes queues instead of being refused

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        read_timeout: float,
        max_connections: int,
    ):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.read_timeout = read_timeout
        self.max_connections = max_connections
        self.state = threading.Condition()
        # Every open connection, with the monotonic deadline for its request
        # head to arrive (None once it has, while the probe is answered).
        self.connections: dict[socket.socket, float | None] = {}
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can
        # stall on a machine with slow DNS; the name is not needed here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        # Registered here, in the accepting thread, so the count is exact when the next one arrives.
        with self.state:
            full = len(self.connections) >= self.max_connections
            if not full:
                self.connections[request] = time.monotonic() + self.read_timeout
        if full:
            # Too many clients at once (a flood of idle connections): refuse
            # without a thread. The reply fits in an empty socket buffer.
            with contextlib.suppress(OSError):
                request.setblocking(False)
                request.send(_BUSY)
            self.shutdown_request(request)
            return
        # One thread per connection, named so that tests and operators can see them.
        threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="rel-health-http-conn",
            daemon=True,
        ).start()

    def head_read(self, connection: socket.socket) -> None:
        with self.state:
            if connection in self.connections:
                self.connections[connection] = None
            self.state.notify_all()

    def shutdown_request(self, request: Any) -> None:
        # Called once per connection whatever happened to it (even if its handler failed).
        try:
            super().shutdown_request(request)
        finally:
            with self.state:
                self.connections.pop(request, None)
                self.state.notify_all()

    def service_actions(self) -> None:
        # Runs in the serve_forever thread every poll interval: a client that
        # has not sent a whole request head in time (silent, half a request
        # line, or dripping bytes to dodge the per-read timeout) is hung up on.
        now = time.monotonic()
        with self.state:
            late = [c for c, due in self.connections.items() if due is not None and due <= now]
            for connection in late:
                self.connections[connection] = None
        for connection in late:
            _hang_up(connection)

    def hang_up_readers(self, grace: float = 0.0) -> None:
        """Hang up on clients still sending their request head, after ``grace`` seconds for them to finish."""
        with self.state:
            self.state.wait_for(lambda: all(due is None for due in self.connections.values()), grace)
            waiting = [c for c, due in self.connections.items() if due is not None]
        for connection in waiting:
            _hang_up(connection)

    def wait_idle(self, timeout: float) -> bool:
        with self.state:
            return self.state.wait_for(lambda: not self.connections, max(0.0, timeout))

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (or that we hung up on) is not worth a traceback on stderr.
        logger.debug("health probe from %s failed", client_address, exc_info=True)


def _hang_up(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


class HealthServer:
    """A running probe server; see :func:`serve_health`. Use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        checker: HealthChecker,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        request_timeout: float = 5.0,
        max_connections: int = 256,
    ) -> None:
        request_timeout = _positive("request_timeout", request_timeout)
        if isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1:
            raise ValueError(f"max_connections must be an integer >= 1, got {max_connections!r}")
        self.checker = checker
        handler = type("_HealthHandler", (_Handler,), {"timeout": request_timeout, "owner": self})
        self._httpd = _Server((host, port), handler, request_timeout, max_connections)
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(
            target=self._loop.run_forever, name="rel-health-checks", daemon=True
        )
        self._http_thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="rel-health-http",
            daemon=True,
        )
        self._lock = threading.Lock()
        self._pending: set[concurrent.futures.Future[ProbeResponse]] = set()
        self._closing = False
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
        """Run the probe for ``path`` on the server's check loop and return the answer.

        Answers 503 when the checks do not finish in time or the server is closing.
        """
        with self._lock:
            if self._closing:
                return _unavailable("the health server is shutting down")
            try:
                future = asyncio.run_coroutine_threadsafe(probe(self.checker, path), self._loop)
            except RuntimeError:  # the loop is already closed
                return _unavailable("the health server is shutting down")
            self._pending.add(future)
        try:
            return future.result(timeout=self.checker.longest_timeout + 5.0)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return _unavailable("health checks did not finish in time")
        except concurrent.futures.CancelledError:
            return _unavailable("the health server is shutting down")
        finally:
            with self._lock:
                self._pending.discard(future)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the server. Idempotent.

        New connections are refused at once; clients that have not sent their
        request head within half a second are hung up on. Probes in flight get up to ``timeout`` seconds
        to finish; those still running then are cancelled and answered 503
        ("shutting down"). The check loop is closed and the server's threads
        have exited (or are exiting) when this returns, at worst about
        ``timeout`` + 3 s (when checks ignore cancellation or block the loop).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        deadline = time.monotonic() + timeout
        self._httpd.shutdown()
        self._httpd.server_close()
        # A request already sent is read in milliseconds; a silent client is not waited for.
        self._httpd.hang_up_readers(grace=min(0.5, timeout))
        if not self._httpd.wait_idle(deadline - time.monotonic()):
            with self._lock:
                self._closing = True
                pending = list(self._pending)
            for future in pending:
                future.cancel()
            self._httpd.hang_up_readers()
            self._httpd.wait_idle(1.0)
        with self._lock:
            self._closing = True
        self._http_thread.join(1.0)
        if not self._loop.is_closed():
            try:
                asyncio.run_coroutine_threadsafe(_wind_down(), self._loop).result(1.0)
            except (concurrent.futures.TimeoutError, RuntimeError):
                logger.warning("health server: check tasks did not wind down in time")
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop_thread.join(1.0)
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


async def _wind_down() -> None:
    """Cancel what still runs on the check loop and stop its worker threads (bounded)."""
    here = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not here]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.get_running_loop().shutdown_default_executor(), 0.5)


def _unavailable(why: str) -> ProbeResponse:
    body = {"status": "fail", "output": why}
    return ProbeResponse(503, HEALTH_JSON, json.dumps(body).encode())


class _Handler(BaseHTTPRequestHandler):
    owner: HealthServer
    server: _Server
    server_version = "rel-health"

    def parse_request(self) -> bool:
        parsed = super().parse_request()
        self.server.head_read(self.connection)
        return parsed

    def do_GET(self) -> None:
        self._respond(head=False)

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def _not_allowed(self) -> None:
        body = b"method not allowed\n"
        self.send_response(405)
        self.send_header("Allow", _ALLOWED)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _not_allowed

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
    max_connections: int = 256,
) -> HealthServer:
    """Serve ``/livez``, ``/readyz`` and ``/healthz`` for ``checker`` and return at once.

    A :class:`http.server.ThreadingHTTPServer` answers in background daemon
    threads; checks run on a private event loop thread (so the event-loop lag
    check measures that loop unless given the application's). A client has
    ``request_timeout`` seconds to send its whole request head (and each read
    or write of its socket the same), so one that connects and sends nothing,
    half a request line, or one byte at a time only holds its own thread, and
    not for long. At most ``max_connections`` clients are served at once
    (one thread each); more are answered 503 at once and closed, so a flood
    of idle connections cannot exhaust threads. GET and HEAD are answered; other methods get 405, other
    paths 404; a query string is ignored. An IPv6 ``host`` (``"::"``) works.
    ``port=0`` picks a free port (see :attr:`HealthServer.port`). Call
    :meth:`HealthServer.close` (or use ``with``) to stop.

    :raises OSError: the address cannot be bound.
    :raises ValueError: ``request_timeout`` not a finite number > 0 or ``max_connections`` < 1.
    """
    return HealthServer(checker, host, port, request_timeout=request_timeout, max_connections=max_connections)
