"""Many threads and tasks at once: limits hold exactly, counts add up, nothing leaks."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time

import pytest

from rel_guard import (
    Bulkhead,
    BulkheadConfig,
    BulkheadFullError,
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitBreakerOpenError,
    CircuitState,
)

THREADS = 16
CALLS_PER_THREAD = 10_000
TASKS = 1_000


class Inside:
    """Counts calls running at once and the peak, under its own lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.peak = self.total = 0

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.total += 1
            self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


def run_threads(worker: object, n: int = THREADS) -> None:
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]  # type: ignore[arg-type]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        assert not t.is_alive(), "a worker thread hung"


@pytest.mark.parametrize(
    ("form", "rule"), [("decorator", "consecutive"), ("with", "consecutive"), ("decorator", "rate")]
)
def test_threads_closed_breaker_counts_add_up(form: str, rule: str) -> None:
    """16 threads x 10,000 calls with random failures: every call is counted exactly once."""
    if rule == "consecutive":
        config = CircuitBreakerConfig(failure_threshold=3, recovery_timeout=0.001, name="stress")
    else:
        config = CircuitBreakerConfig(
            failure_rate_threshold=0.5, sliding_window_size=20, minimum_calls=20, recovery_timeout=0.001
        )
    breaker = CircuitBreaker(config)
    inside = Inside()
    refused = [0] * THREADS

    def body(fail: bool) -> None:
        inside.enter()
        inside.leave()
        if fail:
            raise ConnectionError("flaky")

    def block(fail: bool) -> None:
        with breaker:
            body(fail)

    work = breaker(body) if form == "decorator" else block

    def worker(i: int) -> None:
        rng = random.Random(i)
        for _ in range(CALLS_PER_THREAD):
            try:
                work(rng.random() < 0.2)
            except ConnectionError:
                pass
            except CircuitBreakerOpenError:
                refused[i] += 1

    run_threads(worker)
    stats = breaker.stats()
    assert stats.successes + stats.failures + stats.ignored + stats.rejected == THREADS * CALLS_PER_THREAD
    assert stats.rejected == sum(refused)
    assert stats.successes + stats.failures == inside.total
    assert stats.rejected > 0, "the breaker never opened: the test exercised nothing"


def test_threads_never_exceed_the_half_open_probe_limit() -> None:
    """Under 16 threads, no more than half_open_max_calls probes ever run at once."""
    breaker = CircuitBreaker(
        CircuitBreakerConfig(
            failure_threshold=1, recovery_timeout=0, half_open_max_calls=3, success_threshold=10**9
        )
    )
    with pytest.raises(ConnectionError):
        breaker.call(_raise)
    # From here on every admitted call is a probe: the breaker never closes again.
    inside = Inside()
    calls = CALLS_PER_THREAD

    def probe(fail: bool) -> None:
        inside.enter()
        time.sleep(0)
        inside.leave()
        if fail:
            raise ConnectionError("still down")

    def worker(i: int) -> None:
        rng = random.Random(i)
        for _ in range(calls):
            with contextlib.suppress(ConnectionError, CircuitBreakerOpenError):
                breaker.call(probe, rng.random() < 0.1)

    run_threads(worker)
    assert inside.peak <= 3
    assert inside.peak >= 2, "probes never overlapped: the test exercised nothing"
    stats = breaker.stats()
    assert stats.state is not CircuitState.CLOSED
    assert stats.half_open_calls == 0
    assert stats.successes + stats.failures + stats.rejected == THREADS * calls + 1


async def test_tasks_never_exceed_the_half_open_probe_limit() -> None:
    """1,000 tasks, some cancelled mid-probe: at most two probes at once, no permit lost."""
    breaker = CircuitBreaker(
        CircuitBreakerConfig(
            failure_threshold=1, recovery_timeout=0, half_open_max_calls=2, success_threshold=10**9
        )
    )
    with pytest.raises(ConnectionError):
        breaker.call(_raise)
    inside = Inside()
    rng = random.Random(7)
    attempts = 0

    async def probe(fail: bool) -> None:
        inside.enter()
        try:
            if rng.random() < 0.2:
                task = asyncio.current_task()
                assert task is not None
                task.cancel()  # cancelled while probing, as by a caller's timeout
            await asyncio.sleep(0.001)
        finally:
            inside.leave()
        if fail:
            raise ConnectionError("still down")

    async def worker(seed: int) -> None:
        nonlocal attempts
        local = random.Random(seed)
        for _ in range(10):
            attempts += 1
            try:
                async with breaker:
                    await probe(local.random() < 0.1)
            except (ConnectionError, CircuitBreakerOpenError):
                await asyncio.sleep(0.001)

    tasks = [asyncio.create_task(worker(i)) for i in range(TASKS)]
    await asyncio.sleep(0.01)
    for t in rng.sample(tasks, 200):
        t.cancel()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
    assert any(isinstance(r, asyncio.CancelledError) for r in results)
    assert 2 >= inside.peak >= 1
    stats = breaker.stats()
    assert stats.half_open_calls == 0
    assert inside.now == 0
    assert stats.ignored > 0, "no probe was cancelled: the test exercised nothing"
    assert stats.successes + stats.failures + stats.ignored + stats.rejected == attempts + 1


def test_bulkhead_threads_hold_the_limit_and_count_everything() -> None:
    """16 threads hammer a 4-slot bulkhead: never more than 4 inside; accepted + rejected = calls."""
    bulkhead = Bulkhead(BulkheadConfig(max_concurrent_calls=4, max_wait_duration=0.005, name="stress"))
    inside = Inside()
    calls = CALLS_PER_THREAD
    refused = [0] * THREADS

    @bulkhead
    def work() -> None:
        inside.enter()
        time.sleep(0)
        inside.leave()

    def worker(i: int) -> None:
        for _ in range(calls):
            try:
                work()
            except BulkheadFullError:
                refused[i] += 1

    run_threads(worker)
    stats = bulkhead.stats()
    assert inside.peak == 4
    assert (stats.active, stats.waiting) == (0, 0)
    assert stats.accepted + stats.rejected == THREADS * calls
    assert stats.rejected == sum(refused)
    assert stats.accepted == inside.total


async def test_bulkhead_tasks_with_random_cancellations_leak_nothing() -> None:
    """1,000 tasks, a fifth cancelled at random while queued or inside: all slots come back."""
    bulkhead = Bulkhead(BulkheadConfig(max_concurrent_calls=5, max_wait_duration=None, name="tasks"))
    inside = Inside()

    async def work() -> None:
        async with bulkhead:
            inside.enter()
            try:
                await asyncio.sleep(0.001)
            finally:
                inside.leave()

    tasks = [asyncio.create_task(work()) for _ in range(TASKS)]
    rng = random.Random(3)
    for _ in range(20):
        await asyncio.sleep(0.002)
        for t in rng.sample(tasks, 10):
            t.cancel()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
    cancelled = sum(isinstance(r, asyncio.CancelledError) for r in results)
    assert cancelled > 0
    stats = bulkhead.stats()
    assert inside.peak == 5
    assert (stats.active, stats.waiting) == (0, 0)
    assert inside.total >= TASKS - cancelled


def test_one_bulkhead_serves_threads_and_event_loops_together() -> None:
    """Threads and tasks on two event loops share one bulkhead without exceeding it."""
    bulkhead = Bulkhead(BulkheadConfig(max_concurrent_calls=3, max_wait_duration=30))
    inside = Inside()

    def sync_worker(i: int) -> None:
        for _ in range(200):
            with bulkhead:
                inside.enter()
                time.sleep(0)
                inside.leave()

    async def task() -> None:
        for _ in range(20):
            async with bulkhead:
                inside.enter()
                await asyncio.sleep(0)
                inside.leave()

    def loop_worker(i: int) -> None:
        async def main() -> None:
            await asyncio.gather(*(task() for _ in range(20)))

        asyncio.run(main())

    def worker(i: int) -> None:
        (sync_worker if i % 2 else loop_worker)(i)

    run_threads(worker, 4)
    assert inside.peak == 3
    assert inside.total == 2 * 200 + 2 * 20 * 20
    assert bulkhead.stats().active == 0


def _raise() -> None:
    raise ConnectionError("down")
