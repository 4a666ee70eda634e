"""The demo's HTTP client: one GET through retry, bulkhead and circuit breaker."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from rel_guard import (
    Bulkhead,
    BulkheadConfig,
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitBreakerOpenError,
    CircuitState,
)
from rel_retry import RetryConfig, async_retry_with_backoff
from rel_telemetry import traced


class ServiceError(Exception):
    """The service answered with an error status; ``status_code`` and ``retry_after`` guide retries."""

    def __init__(self, url: str, status_code: int, retry_after: float | None = None) -> None:
        self.url = url
        self.status_code = status_code
        self.retry_after = retry_after
        super().__init__(f"GET {url} answered HTTP {status_code}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.url, self.status_code, self.retry_after))


@dataclass
class FetchStats:
    """Counters for the demo's summary."""

    attempts: int = 0
    fetched: int = 0
    breaker_trips: int = 0
    breaker_rejections: int = 0


def _get(url: str, timeout: float) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        retry_after = exc.headers.get("Retry-After") if exc.headers else None
        raise ServiceError(url, exc.code, float(retry_after) if retry_after else None) from None


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, CircuitBreakerOpenError):
        return True
    if isinstance(exc, ServiceError):
        return exc.status_code in (429, 502, 503, 504)
    return isinstance(exc, ConnectionError | TimeoutError | urllib.error.URLError)


class Fetcher:
    """Fetch items from ``base_url``: retry (outermost), then bulkhead, then circuit breaker."""

    def __init__(self, base_url: str, *, concurrency: int, request_timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.request_timeout = request_timeout
        self.stats = FetchStats()
        self.breaker = CircuitBreaker(
            CircuitBreakerConfig(
                failure_threshold=8,
                recovery_timeout=0.25,
                expected_exception=lambda e: isinstance(e, ServiceError) and e.status_code >= 500,
                success_threshold=2,
                half_open_max_calls=2,
                name="flaky-service",
            )
        )
        self.breaker.add_listener(self._on_transition)
        self.bulkhead = Bulkhead(
            BulkheadConfig(max_concurrent_calls=concurrency, max_wait_duration=None, name="demo-fetch")
        )
        self.retry = RetryConfig(
            max_retries=12,
            base_delay_seconds=0.02,
            multiplier=2.0,
            max_delay_seconds=0.4,
            jitter="full",
            retry_on=_transient,
            timeout=60.0,
            name="demo.fetch",
        )

    def _on_transition(self, change: Any) -> None:
        if change.to_state is CircuitState.OPEN:
            self.stats.breaker_trips += 1

    async def _attempt(self, url: str) -> dict[str, Any]:
        self.stats.attempts += 1
        try:
            async with self.bulkhead:
                return await self.breaker.call_async(asyncio.to_thread, _get, url, self.request_timeout)
        except CircuitBreakerOpenError:
            self.stats.breaker_rejections += 1
            raise

    @traced("demo.fetch", scope="rel_all")
    async def fetch(self, item: int) -> dict[str, Any]:
        """The record of ``item``, retried through transient failures and an open breaker."""
        url = f"{self.base_url}/items/{item}"
        record = await async_retry_with_backoff(lambda: self._attempt(url), self.retry)
        self.stats.fetched += 1
        return record
