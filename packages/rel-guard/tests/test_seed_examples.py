"""The examples of the workflow framework's reliability guide, with only the import changed."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from rel_guard import (
    Bulkhead,
    BulkheadConfig,
    BulkheadFullError,
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitBreakerOpenError,
    DeadlineExceededError,
    TimeoutManager,
)


class HTTPError(Exception):
    pass


class ServiceUnavailableError(Exception):
    pass


class TransientError(Exception):
    pass


async def test_circuit_breaker_pattern() -> None:
    """After five ConnectionErrors the breaker opens and the cached response is served."""
    api_circuit_breaker = CircuitBreaker(
        CircuitBreakerConfig(failure_threshold=5, recovery_timeout=30, expected_exception=ConnectionError)
    )
    reached = 0

    async def external_api_call() -> str:
        nonlocal reached
        reached += 1
        raise ConnectionError("api down")

    async def get_cached_response() -> str:
        return "cached"

    async def call_external_api(ctx: SimpleNamespace) -> None:
        try:
            async with api_circuit_breaker:
                response = await external_api_call()
                ctx.api_response = response
        except CircuitBreakerOpenError:
            ctx.api_response = await get_cached_response()

    for _ in range(5):
        with pytest.raises(ConnectionError):
            await call_external_api(SimpleNamespace())
    ctx = SimpleNamespace()
    await call_external_api(ctx)
    assert ctx.api_response == "cached"
    assert reached == 5


async def test_advanced_circuit_breaker_configuration() -> None:
    """The advanced config builds, protects an async block and refuses after ten failures."""

    def get_fallback_data() -> str:
        return "fallback"

    config = CircuitBreakerConfig(
        failure_threshold=10,
        recovery_timeout=60,
        expected_exception=(ConnectionError, TimeoutError, HTTPError),
        success_threshold=3,
        timeout=30,
        fallback_function=get_fallback_data,
    )
    circuit_breaker = CircuitBreaker(config)
    outcomes = iter([HTTPError("502")] * 10)

    async def risky_operation() -> str:
        raise next(outcomes)

    async def protected_operation(ctx: SimpleNamespace) -> None:
        async with circuit_breaker:
            ctx.result = await risky_operation()

    for _ in range(10):
        with pytest.raises(HTTPError):
            await protected_operation(SimpleNamespace())
    with pytest.raises(CircuitBreakerOpenError):
        await protected_operation(SimpleNamespace())

    @circuit_breaker
    async def decorated() -> str:
        return "live"

    assert await decorated() == "fallback"


async def test_bulkhead_pattern() -> None:
    """Two bulkheads isolate CPU and IO work; the CPU one never runs more than four at once."""
    cpu_bulkhead = Bulkhead(
        BulkheadConfig(max_concurrent_calls=4, max_wait_duration=10, name="cpu_intensive_operations")
    )
    io_bulkhead = Bulkhead(BulkheadConfig(max_concurrent_calls=20, max_wait_duration=5, name="io_operations"))
    inside = peak = 0

    async def heavy_computation() -> int:
        nonlocal inside, peak
        inside += 1
        peak = max(peak, inside)
        await asyncio.sleep(0.01)
        inside -= 1
        return 42

    async def database_operation() -> str:
        await asyncio.sleep(0)
        return "row"

    async def cpu_intensive_task(ctx: SimpleNamespace) -> None:
        async with cpu_bulkhead:
            ctx.cpu_result = await heavy_computation()

    async def io_intensive_task(ctx: SimpleNamespace) -> None:
        async with io_bulkhead:
            ctx.io_result = await database_operation()

    contexts = [SimpleNamespace() for _ in range(12)]
    await asyncio.gather(*(cpu_intensive_task(c) for c in contexts), io_intensive_task(contexts[0]))
    assert peak == 4
    assert all(c.cpu_result == 42 for c in contexts)
    assert contexts[0].io_result == "row"
    assert cpu_bulkhead.stats().accepted == 12


async def test_combined_reliability_patterns() -> None:
    """Bulkhead around breaker: a full bulkhead and an open breaker each take their except branch."""
    external_service_cb = CircuitBreaker(
        CircuitBreakerConfig(
            failure_threshold=5, recovery_timeout=30, expected_exception=ServiceUnavailableError
        )
    )
    processing_bulkhead = Bulkhead(BulkheadConfig(max_concurrent_calls=10, max_wait_duration=15))
    queued: list[SimpleNamespace] = []

    async def fetch_external_data() -> str:
        raise ServiceUnavailableError("503")

    async def process_data(data: str) -> str:
        return data.upper()

    async def get_cached_data() -> str:
        return "cached"

    async def queue_for_retry(ctx: SimpleNamespace) -> None:
        queued.append(ctx)

    async def resilient_processing(ctx: SimpleNamespace) -> None:
        try:
            async with processing_bulkhead:
                async with external_service_cb:
                    external_data = await fetch_external_data()
                processed_data = await process_data(external_data)
                ctx.result = processed_data
        except BulkheadFullError:
            await queue_for_retry(ctx)
        except CircuitBreakerOpenError:
            ctx.result = await get_cached_data()

    for _ in range(5):
        with pytest.raises(ServiceUnavailableError):
            await resilient_processing(SimpleNamespace())
    ctx = SimpleNamespace()
    await resilient_processing(ctx)
    assert ctx.result == "cached"

    full = Bulkhead(BulkheadConfig(max_concurrent_calls=1, max_wait_duration=0))
    processing_bulkhead = full
    async with full:
        waiting = SimpleNamespace()
        await resilient_processing(waiting)
    assert queued == [waiting]


async def test_retry_mechanisms_with_reliability_patterns() -> None:
    """The hand-written retry loop retries a transient error and stops at an open breaker."""
    circuit_breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=3))
    attempts = 0

    async def unreliable_operation() -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise TransientError("blip")
        return "done"

    async def get_fallback_result() -> str:
        return "fallback"

    async def resilient_operation_with_retry(ctx: SimpleNamespace) -> None:
        max_retries = 3
        base_delay = 1

        for attempt in range(max_retries + 1):
            try:
                async with circuit_breaker:
                    ctx.result = await unreliable_operation()
                    return  # Success, exit retry loop

            except CircuitBreakerOpenError:
                ctx.result = await get_fallback_result()
                return

            except TransientError:
                if attempt == max_retries:
                    raise
                delay = base_delay * (2**attempt)
                await asyncio.sleep(delay)

    ctx = SimpleNamespace()
    await resilient_operation_with_retry(ctx)
    assert ctx.result == "done"
    assert attempts == 2

    circuit_breaker.force_open()
    ctx = SimpleNamespace()
    await resilient_operation_with_retry(ctx)
    assert ctx.result == "fallback"
    assert attempts == 2


async def test_timeout_and_deadline_management() -> None:
    """TimeoutManager().timeout(s) raises something `except asyncio.TimeoutError` catches."""
    timeout_manager = TimeoutManager()

    async def long_running_operation() -> str:
        await asyncio.sleep(10)
        return "full"

    async def get_partial_result() -> str:
        return "partial"

    async def time_bounded_operation(ctx: SimpleNamespace) -> None:
        try:
            async with timeout_manager.timeout(0.05):
                ctx.result = await long_running_operation()
        except TimeoutError:
            ctx.result = await get_partial_result()
            ctx.timeout_occurred = True

    ctx = SimpleNamespace()
    await asyncio.wait_for(time_bounded_operation(ctx), 5)
    assert ctx.result == "partial"
    assert ctx.timeout_occurred is True


async def test_deadline_aware_processing() -> None:
    """DeadlineExceededError takes a message and is raised once the deadline has passed."""

    async def quick_processing(data: str) -> str:
        return "quick:" + data

    async def full_processing(data: str) -> str:
        return "full:" + data

    async def deadline_aware_processing(ctx: dict[str, object]) -> None:
        deadline = ctx.get("deadline")
        if deadline:
            assert isinstance(deadline, datetime)
            remaining_time = (deadline - datetime.utcnow()).total_seconds()

            if remaining_time <= 0:
                raise DeadlineExceededError("Processing deadline exceeded")

            if remaining_time < 10:
                ctx["result"] = await quick_processing(str(ctx["input_data"]))
            else:
                ctx["result"] = await full_processing(str(ctx["input_data"]))

    soon = {"deadline": datetime.utcnow() + timedelta(seconds=5), "input_data": "x"}
    await deadline_aware_processing(soon)
    assert soon["result"] == "quick:x"
    late = {"deadline": datetime.utcnow() - timedelta(seconds=1), "input_data": "x"}
    with pytest.raises(DeadlineExceededError, match="Processing deadline exceeded") as caught:
        await deadline_aware_processing(late)
    assert isinstance(caught.value, asyncio.TimeoutError)
