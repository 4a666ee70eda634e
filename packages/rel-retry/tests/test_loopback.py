"""Retries against real loopback servers: HTTP status codes, Retry-After, refused connections."""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import ClassVar

import pytest

from rel_retry import RetryConfig, async_retry_with_backoff, retry_with_backoff


class _Handler(http.server.BaseHTTPRequestHandler):
    script: ClassVar[list[tuple[int, dict[str, str]]]] = []
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        status, headers = self.script.pop(0) if self.script else (200, {})
        body = f"hit {type(self).hits}".encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Handler]]]:
    """A real HTTP server on a loopback port, with a per-test script of responses."""
    handler = type("Handler", (_Handler,), {"script": [], "hits": 0})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def test_503_then_200_is_retried(server: tuple[str, type[_Handler]]) -> None:
    """HTTP 503 is transient: the call succeeds once the server recovers."""
    url, handler = server
    handler.script += [(503, {}), (503, {})]
    config = RetryConfig(base_delay_seconds=0.01, max_delay_seconds=0.05)
    assert retry_with_backoff(lambda: _get(url), config) == "hit 3"


def test_404_fails_fast(server: tuple[str, type[_Handler]]) -> None:
    """HTTP 404 is permanent: one request, the HTTPError propagates."""
    url, handler = server
    handler.script += [(404, {})]
    with pytest.raises(urllib.error.HTTPError) as info:
        retry_with_backoff(lambda: _get(url), RetryConfig(base_delay_seconds=0.01, max_delay_seconds=0.05))
    assert info.value.code == 404
    assert handler.hits == 1
    info.value.close()


def test_429_retry_after_header_sets_the_wait(server: tuple[str, type[_Handler]]) -> None:
    """A 429 with Retry-After: 1 waits about a second, not the 1 ms backoff."""
    url, handler = server
    handler.script += [(429, {"Retry-After": "1"})]
    start = time.monotonic()
    assert (
        retry_with_backoff(lambda: _get(url), RetryConfig(base_delay_seconds=0.001, max_delay_seconds=5))
        == "hit 2"
    )
    assert time.monotonic() - start >= 0.8


async def test_refused_connection_until_the_server_starts() -> None:
    """Connection refused is retried until a real server starts listening on the port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    attempts = 0

    async def fetch() -> bytes:
        nonlocal attempts
        attempts += 1
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        data = await reader.read(5)
        writer.close()
        await writer.wait_closed()
        return data

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello")
        await writer.drain()
        writer.close()

    async def start_later() -> asyncio.Server:
        await asyncio.sleep(0.3)
        return await asyncio.start_server(greet, "127.0.0.1", port)

    starter = asyncio.create_task(start_later())
    config = RetryConfig(base_delay_seconds=0.05, max_delay_seconds=0.1, max_retries=100, timeout=20)
    assert await async_retry_with_backoff(fetch, config) == b"hello"
    server = await starter
    server.close()
    await server.wait_closed()
    assert attempts >= 2
