"""``with`` / ``async with`` remember each entry's permit per thread and task, whatever the nesting."""

from __future__ import annotations

import asyncio
import contextvars
import random
import threading
from typing import Any

import pytest
from conftest import FakeClock, boom

from rel_guard import (
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitBreakerOpenError,
    CircuitState,
    deadline,
)


def make(clock: FakeClock, **kwargs: Any) -> CircuitBreaker:
    kwargs.setdefault("recovery_timeout", 10)
    return CircuitBreaker(CircuitBreakerConfig(clock=clock, **kwargs))


def trip_and_wait(breaker: CircuitBreaker, clock: FakeClock) -> None:
    with pytest.raises(ConnectionError):
        breaker.call(boom(ConnectionError("down")))
    assert breaker.state is CircuitState.OPEN
    clock.advance(10)


async def test_a_child_task_never_takes_its_parents_permit(clock: FakeClock) -> None:
    """A task spawned inside blocks keeps its own permits apart from the parent's, even in other epochs."""
    outer = make(clock, failure_threshold=1)
    other = make(clock, failure_threshold=1)
    child_entered = asyncio.Event()
    release_child = asyncio.Event()

    async def child() -> None:
        async with outer:  # a half-open probe, admitted after the parent's closed-state entry
            child_entered.set()
            await release_child.wait()

    with outer:  # a closed-state permit
        with other:
            task = asyncio.create_task(child())  # inherits the parent's entries
        # The parent's finished `other` entry now sits above its live `outer` entry.
        trip_and_wait(outer, clock)
        await asyncio.wait_for(child_entered.wait(), 5)
        assert outer.stats().half_open_calls == 1
    # The parent's stale closed-state success must not be taken for the child's probe.
    assert outer.state is CircuitState.HALF_OPEN
    assert outer.stats().half_open_calls == 1
    release_child.set()
    await asyncio.wait_for(task, 5)
    assert outer.state is CircuitState.CLOSED
    assert outer.stats().half_open_calls == 0


async def test_inherited_dead_entries_are_not_reused_by_another_task(clock: FakeClock) -> None:
    """Tasks that inherit the same finished entry each keep their own permit."""
    breaker = make(clock, failure_threshold=1, half_open_max_calls=3)
    with breaker:
        pass  # leaves a finished entry in this context, which the tasks below inherit
    trip_and_wait(breaker, clock)
    gate = asyncio.Event()
    inside = 0

    async def probe(fails: bool) -> None:
        nonlocal inside
        async with breaker:
            inside += 1
            await gate.wait()
            if fails:
                raise ConnectionError("still down")

    tasks = [asyncio.create_task(probe(False)) for _ in range(3)]
    while inside < 3:
        await asyncio.sleep(0)
    assert breaker.stats().half_open_calls == 3
    gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    stats = breaker.stats()
    assert (stats.state, stats.half_open_calls, stats.successes) == (CircuitState.CLOSED, 0, 4)


def test_threads_sharing_a_copied_context_keep_their_own_permits(clock: FakeClock) -> None:
    """Threads that run in copies of one context (as asyncio.to_thread does) never mix up entries."""
    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=3, recovery_timeout=0))
    with breaker:
        pass  # a finished entry of the main thread, inherited by every copy below
    base = contextvars.copy_context()
    errors: list[BaseException] = []
    outcomes = {"ok": 0, "failed": 0, "refused": 0}
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(2_000):
            try:
                with breaker:
                    if rng.random() < 0.3:
                        raise ConnectionError("flaky")
                kind = "ok"
            except ConnectionError:
                kind = "failed"
            except CircuitBreakerOpenError:
                kind = "refused"
            except BaseException as exc:  # a mixed-up entry would surface as RuntimeError
                errors.append(exc)
                return
            with lock:
                outcomes[kind] += 1

    threads = [threading.Thread(target=base.copy().run, args=(worker, seed)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    stats = breaker.stats()
    assert stats.half_open_calls == 0
    assert stats.successes == outcomes["ok"] + 1
    assert stats.failures == outcomes["failed"]
    assert stats.rejected == outcomes["refused"]
    assert sum(outcomes.values()) == 8 * 2_000


def test_exits_out_of_order_find_their_own_entry(clock: FakeClock) -> None:
    """Two breakers left in the order they were entered each record their own outcome."""
    first = make(clock, failure_threshold=1)
    second = make(clock, failure_threshold=1)
    for _ in range(3):
        first.__enter__()
        second.__enter__()
        first.__exit__(ConnectionError, ConnectionError("first"), None)
        second.__exit__(None, None, None)
        assert first.state is CircuitState.OPEN
        assert second.state is CircuitState.CLOSED
        first.reset()
    assert second.stats().successes == 3
    with pytest.raises(RuntimeError, match="did not enter"):
        second.__exit__(None, None, None)


def test_a_block_with_a_timeout_nests_its_deadline_entry(clock: FakeClock) -> None:
    """A per-call timeout's own entry and the breaker's are each found at exit, inside other deadlines."""
    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=1, timeout=30))
    for _ in range(3):
        with deadline(60), breaker:
            pass
    assert breaker.stats().successes == 3
    with pytest.raises(ConnectionError), deadline(60), breaker:
        raise ConnectionError("down")
    assert breaker.state is CircuitState.OPEN


async def test_a_failed_timeout_entry_releases_the_probe() -> None:
    """If entering the per-call timeout fails (cancelled), the probe permit is given back."""
    clock = FakeClock()
    breaker = make(clock, failure_threshold=1, timeout=30)
    trip_and_wait(breaker, clock)

    async def enter_cancelled() -> None:
        asyncio.current_task().cancel()  # type: ignore[union-attr]
        async with breaker:
            await asyncio.sleep(10)

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(enter_cancelled())
    assert breaker.stats().half_open_calls == 0
    async with breaker:
        pass
    assert breaker.state is CircuitState.CLOSED
