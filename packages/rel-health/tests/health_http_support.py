"""Helpers shared by the tests: real HTTP over loopback, and a check that counts its runs."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from typing import Any

from rel_health import HealthCheck


def get(port: int, path: str, *, timeout: float = 10.0) -> tuple[int, dict[str, str], Any]:
    """GET ``path`` from 127.0.0.1:``port``; return (status, lower-cased headers, parsed JSON body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        raw = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, headers, json.loads(raw) if raw else None
    finally:
        conn.close()


class CountingCheck:
    """A healthy async check (``check``) that takes ``delay`` seconds and counts its runs in ``calls``."""

    def __init__(self, name: str, delay: float) -> None:
        self.name = name
        self.delay = delay
        self.calls = 0
        self._lock = threading.Lock()  # probe servers run checks off the test's thread

    async def check(self) -> HealthCheck:
        with self._lock:
            self.calls += 1
        await asyncio.sleep(self.delay)
        return HealthCheck(self.name, "healthy")
