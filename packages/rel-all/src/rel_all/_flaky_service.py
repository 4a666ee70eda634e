"""A deliberately unreliable HTTP service on 127.0.0.1, for the demo and tests.

``GET /items/<n>`` answers ``{"item": n, "value": ...}``. Failures are
deterministic for a seed: a share of first attempts answer 503, some answer
429 with ``Retry-After``, and after a set number of requests the service has
an outage window in which every request fails — long enough to trip a circuit
breaker, short enough for its half-open probe to find the service back.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time
from dataclasses import dataclass, field


@dataclass
class FlakyConfig:
    """How unreliable the service is."""

    seed: int = 7
    fail_rate: float = 0.2
    rate_limit_rate: float = 0.05
    retry_after_s: float = 0.05
    outage_after_requests: int = 120
    outage_seconds: float = 0.6
    latency_s: float = 0.002

    def __post_init__(self) -> None:
        for name in ("fail_rate", "rate_limit_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value!r}")
        if self.outage_seconds < 0 or self.latency_s < 0 or self.retry_after_s < 0:
            raise ValueError("outage_seconds, latency_s and retry_after_s must be >= 0")


@dataclass
class ServiceStats:
    """What the service saw, for the demo's summary."""

    requests: int = 0
    failures: int = 0
    rate_limited: int = 0
    outage_rejections: int = 0
    attempts_by_item: dict[int, int] = field(default_factory=dict)


def _fraction(seed: int, item: int, salt: str) -> float:
    digest = hashlib.blake2b(f"{seed}:{item}:{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def item_value(item: int) -> int:
    """The value the service returns for ``item`` (stable across runs)."""
    return int.from_bytes(hashlib.sha256(f"item-{item}".encode()).digest()[:4], "big") % 10_000


class FlakyService:
    """The service: ``start()`` serves in a daemon thread, ``stop()`` shuts it down."""

    def __init__(self, config: FlakyConfig | None = None) -> None:
        self.config = config or FlakyConfig()
        self.stats = ServiceStats()
        self._lock = threading.Lock()
        self._outage_until = 0.0
        self._outage_done = False
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123``."""
        if self._server is None:
            raise RuntimeError("FlakyService is not started: call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FlakyService:
        """Bind 127.0.0.1 on a free port and serve in a background thread."""
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                status, headers, body = service._answer(self.path)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="flaky-service", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _answer(self, path: str) -> tuple[int, dict[str, str], bytes]:
        parts = path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "items" or not parts[1].isdigit():
            return 404, {}, b'{"error": "no such resource"}'
        item = int(parts[1])
        cfg = self.config
        if cfg.latency_s:
            time.sleep(cfg.latency_s)
        now = time.monotonic()
        with self._lock:
            stats = self.stats
            stats.requests += 1
            attempt = stats.attempts_by_item.get(item, 0) + 1
            stats.attempts_by_item[item] = attempt
            if not self._outage_done and stats.requests >= cfg.outage_after_requests and cfg.outage_seconds:
                self._outage_done = True
                self._outage_until = now + cfg.outage_seconds
            if now < self._outage_until:
                stats.outage_rejections += 1
                stats.failures += 1
                return 503, {}, b'{"error": "service unavailable (outage)"}'
            if attempt == 1 and _fraction(cfg.seed, item, "429") < cfg.rate_limit_rate:
                stats.rate_limited += 1
                stats.failures += 1
                return 429, {"Retry-After": f"{cfg.retry_after_s:g}"}, b'{"error": "rate limit"}'
            if attempt == 1 and _fraction(cfg.seed, item, "503") < cfg.fail_rate:
                stats.failures += 1
                return 503, {}, b'{"error": "service unavailable"}'
        body = json.dumps({"item": item, "value": item_value(item)}).encode()
        return 200, {}, body
