"""Known failures of other breaker and bulkhead libraries, each shown not to happen here."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from conftest import FakeClock, boom

from rel_guard import (
    Bulkhead,
    BulkheadConfig,
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitBreakerOpenError,
    CircuitState,
)


@pytest.mark.parametrize("form", ["decorator", "call", "with"])
@pytest.mark.parametrize(
    "rule",
    [
        {"failure_threshold": 5},  # closed-state admission and success without the lock
        {"failure_rate_threshold": 0.5, "sliding_window_type": "time", "slow_call_duration": 5},  # locked
    ],
    ids=["consecutive", "timed-rate"],
)
def test_the_lock_is_not_held_during_the_protected_call(form: str, rule: dict[str, Any]) -> None:
    """8 threads are inside the breaker at once, 10 times over: no lock is held during the call."""
    breaker = CircuitBreaker(CircuitBreakerConfig(**rule))
    # A breaker that held its lock across the call would keep the other 7 threads out,
    # so the barrier would break after its timeout; with none held it opens at once.
    all_inside = threading.Barrier(8)
    errors: list[BaseException] = []

    def work() -> None:
        all_inside.wait(10)

    def worker() -> None:
        try:
            for _ in range(10):
                if form == "decorator":
                    breaker(work)()
                elif form == "call":
                    breaker.call(work)
                else:
                    with breaker:
                        work()
        except BaseException as exc:
            errors.append(exc)
            all_inside.abort()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        assert not t.is_alive(), "a worker thread hung"
    assert errors == [], f"calls were serialised: {errors[0]!r}"
    assert breaker.stats().successes == 80


async def test_the_lock_is_not_held_across_awaits() -> None:
    """8 tasks x 10 awaits of 10 ms overlap inside the breaker."""
    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=5, timeout=5))
    inside = peak = 0

    @breaker
    async def work() -> None:
        nonlocal inside, peak
        inside += 1
        peak = max(peak, inside)
        await asyncio.sleep(0.01)
        inside -= 1

    async def worker() -> None:
        for _ in range(10):
            await work()

    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(8))), 10)
    assert peak == 8


@pytest.mark.parametrize("limit", [1, 3])
def test_half_open_admits_only_the_permitted_probes_threads(limit: int) -> None:
    """10 concurrent calls after the open period: only `half_open_max_calls` reach the function."""
    clock = FakeClock()
    breaker = CircuitBreaker(
        CircuitBreakerConfig(failure_threshold=1, recovery_timeout=5, half_open_max_calls=limit, clock=clock)
    )
    with pytest.raises(ConnectionError):
        breaker.call(boom(ConnectionError()))
    clock.advance(5)
    release = threading.Event()
    reached = []
    refused = []
    barrier = threading.Barrier(10)

    def probe() -> None:
        reached.append(1)
        release.wait(10)

    def caller() -> None:
        barrier.wait(10)
        try:
            breaker.call(probe)
        except CircuitBreakerOpenError:
            refused.append(1)

    threads = [threading.Thread(target=caller) for _ in range(10)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while len(reached) + len(refused) < 10 and time.monotonic() < deadline:
        time.sleep(0.005)
    release.set()
    for t in threads:
        t.join(10)
    assert (len(reached), len(refused)) == (limit, 10 - limit)


async def test_half_open_admits_only_the_permitted_probes_tasks() -> None:
    """10 concurrent tasks after the open period: exactly two probes run."""
    clock = FakeClock()
    breaker = CircuitBreaker(
        CircuitBreakerConfig(failure_threshold=1, recovery_timeout=5, half_open_max_calls=2, clock=clock)
    )
    with pytest.raises(ConnectionError):
        breaker.call(boom(ConnectionError()))
    clock.advance(5)
    release = asyncio.Event()
    reached = 0

    async def probe() -> None:
        nonlocal reached
        reached += 1
        await release.wait()

    async def caller() -> str:
        try:
            async with breaker:
                await probe()
        except CircuitBreakerOpenError:
            return "refused"
        return "probed"

    tasks = [asyncio.create_task(caller()) for _ in range(10)]
    await asyncio.sleep(0.05)
    release.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert reached == 2
    assert sorted(results).count("probed") == 2


@pytest.mark.parametrize("kind", ["with", "async with"])
async def test_with_breaker_does_not_run_the_body_while_open(kind: str) -> None:
    """An open breaker refuses in __enter__, so the block body never runs."""
    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=1))
    breaker.force_open()
    ran = False

    async def run() -> None:
        nonlocal ran
        if kind == "with":
            with breaker:
                ran = True
        else:
            async with breaker:
                ran = True

    with pytest.raises(CircuitBreakerOpenError):
        await run()
    assert ran is False


def test_rejections_do_not_reraise_one_cached_exception() -> None:
    """Each rejection is a new object whose traceback does not grow with every refusal."""
    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=1, recovery_timeout=60))
    with pytest.raises(ConnectionError):
        breaker.call(boom(ConnectionError()))
    seen = []
    lengths = []
    for _ in range(20):
        try:
            breaker.call(lambda: None)
        except CircuitBreakerOpenError as exc:
            seen.append(exc)
            tb, n = exc.__traceback__, 0
            while tb is not None:
                n, tb = n + 1, tb.tb_next
            lengths.append(n)
    assert len({id(e) for e in seen}) == 20
    assert len(set(lengths)) == 1


@pytest.mark.parametrize("parameter", ["failure_threshold", "success_threshold", "half_open_max_calls"])
def test_a_zero_threshold_is_an_error_not_a_default(parameter: str) -> None:
    """A threshold of 0 raises ValueError naming it instead of silently becoming a default."""
    with pytest.raises(ValueError, match=parameter):
        CircuitBreakerConfig(**{parameter: 0})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_concurrent_calls"):
        BulkheadConfig(max_concurrent_calls=0)


@pytest.mark.parametrize("form", ["decorator", "call_async", "async with"])
async def test_cancellation_is_not_counted_as_a_failure(form: str) -> None:
    """Cancelling calls through a closed breaker with failure_threshold=1 leaves it closed."""
    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=1))

    async def sleep() -> None:
        await asyncio.sleep(30)

    async def hang() -> None:
        if form == "decorator":
            await breaker(sleep)()
        elif form == "call_async":
            await breaker.call_async(sleep)
        else:
            async with breaker:
                await sleep()

    for _ in range(5):
        task = asyncio.create_task(hang())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert breaker.state is CircuitState.CLOSED
    assert breaker.stats().failures == 0
    assert breaker.stats().ignored == 5


async def test_cancelled_bulkhead_waiters_leak_no_permits() -> None:
    """50 cancelled waiters leave the bulkhead with all its slots free."""
    bulkhead = Bulkhead(BulkheadConfig(max_concurrent_calls=2, max_wait_duration=30, name="pool"))
    hold = asyncio.Event()

    async def holder() -> None:
        async with bulkhead:
            await hold.wait()

    holders = [asyncio.create_task(holder()) for _ in range(2)]
    await asyncio.sleep(0.01)
    waiters = [asyncio.create_task(bulkhead.call_async(asyncio.sleep, 0)) for _ in range(50)]
    await asyncio.sleep(0.01)
    assert bulkhead.stats().waiting == 50
    for i, w in enumerate(waiters):
        if i % 2 == 0:
            w.cancel()
    hold.set()
    # cancel the rest while slots are being handed over
    await asyncio.sleep(0)
    for w in waiters:
        w.cancel()
    await asyncio.gather(*holders, *waiters, return_exceptions=True)
    stats = bulkhead.stats()
    assert (stats.active, stats.waiting) == (0, 0)
    async with bulkhead, bulkhead:
        assert bulkhead.stats().active == 2
