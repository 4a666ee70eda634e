"""Seed 002's examples that import from several rel packages at once, through rel_all."""

from __future__ import annotations

import asyncio
import contextlib

from rel_all import (
    Bulkhead,
    BulkheadConfig,
    BulkheadFullError,
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitBreakerOpenError,
    ResourceLeakDetector,
    exponential_backoff,
)


class ServiceUnavailableError(Exception):
    pass


async def test_combined_reliability_patterns() -> None:
    """The 'Combined Reliability Patterns' agent works with one `from rel_all import` line."""

    class HighlyResilientAgent:
        def __init__(self) -> None:
            self.external_service_cb = CircuitBreaker(
                CircuitBreakerConfig(
                    failure_threshold=5, recovery_timeout=30, expected_exception=ServiceUnavailableError
                )
            )
            self.processing_bulkhead = Bulkhead(BulkheadConfig(max_concurrent_calls=10, max_wait_duration=15))
            self.leak_detector = ResourceLeakDetector()
            self.leak_detector.start_monitoring()
            self.queued = 0

        async def resilient_processing(self, external: object) -> object:
            try:
                async with self.processing_bulkhead:
                    async with self.external_service_cb:
                        external_data = await external()  # type: ignore[operator]
                    return {"processed": external_data}
            except BulkheadFullError:
                self.queued += 1
                return None
            except CircuitBreakerOpenError:
                return "cached"

    agent = HighlyResilientAgent()
    try:

        async def ok() -> int:
            await asyncio.sleep(0)
            return 7

        async def down() -> int:
            raise ServiceUnavailableError

        assert await agent.resilient_processing(ok) == {"processed": 7}
        for _ in range(5):
            with contextlib.suppress(ServiceUnavailableError):
                await agent.resilient_processing(down)
        assert await agent.resilient_processing(ok) == "cached"
    finally:
        await agent.leak_detector.stop_monitoring()


async def test_retry_loop_with_breaker_and_exponential_backoff() -> None:
    """The 'Retry Mechanisms' loop: exponential_backoff imports and the breaker short-circuits it."""
    circuit_breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=3))
    delays = [exponential_backoff(attempt, 0.001) for attempt in range(4)]
    assert delays == [0.001, 0.002, 0.004, 0.008]
    attempts = 0

    async def unreliable_operation() -> str:
        nonlocal attempts
        attempts += 1
        raise ConnectionError("transient")

    result = None
    for attempt in range(len(delays)):
        try:
            async with circuit_breaker:
                result = await unreliable_operation()
                break
        except CircuitBreakerOpenError:
            result = "fallback"
            break
        except ConnectionError:
            await asyncio.sleep(delays[attempt])
    assert result == "fallback"
    assert attempts == 3
