"""Helpers shared by the tests (real HTTP over loopback)."""

from __future__ import annotations

import http.client
import json
from typing import Any


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
