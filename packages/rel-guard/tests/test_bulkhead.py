"""Bulkhead admission, FIFO queueing, refusals and stats, sync and async."""

from __future__ import annotations

import asyncio
import pickle
import threading
import time
from typing import Any

import pytest

from rel_guard import Bulkhead, BulkheadConfig, BulkheadFullError, DeadlineExceededError, deadline


def test_fail_fast_refuses_with_name_and_limits() -> None:
    """max_wait_duration=0 refuses at once; the error names the bulkhead and its limit."""
    bulkhead = Bulkhead(BulkheadConfig(max_concurrent_calls=1, max_wait_duration=0, name="db"))
    with bulkhead, pytest.raises(BulkheadFullError) as refused:
        bulkhead.call(lambda: None)
    error = refused.value
    assert (error.name, error.max_concurrent_calls, error.max_wait_duration) == ("db", 1, 0)
    assert "db" in str(error)
    again = pickle.loads(pickle.dumps(error))
    assert (again.name, again.max_concurrent_calls, str(again)) == ("db", 1, str(error))
    assert bulkhead.stats().rejected == 1
    # A bulkhead cannot know when a slot frees: no hint, so a retry loop keeps its own backoff.
    assert error.retry_after is None
    assert again.retry_after is None


async def test_async_fail_fast() -> None:
    """An async caller is refused at once too, and the slot count is unchanged."""
    bulkhead = Bulkhead(BulkheadConfig(max_concurrent_calls=1, name="db"))
    async with bulkhead:
        with pytest.raises(BulkheadFullError):
            async with bulkhead:
                pass
    assert bulkhead.stats().active == 0


def test_waiting_threads_are_served_in_fifo_order() -> None:
    """Queued threads get slots in arrival order."""
    bulkhead = Bulkhead(BulkheadConfig(max_concurrent_calls=1, max_wait_duration=30))
    order: list[int] = []
    bulkhead.acquire()
    threads = []
    for i in range(5):
        t = threading.Thread(target=lambda i=i: bulkhead.call(order.append, i))
        t.start()
        threads.append(t)
        _wait_until(lambda i=i: bulkhead.stats().waiting == i + 1)
    bulkhead.release()
    for t in threads:
        t.join(10)
    assert order == [0, 1, 2, 3, 4]
    assert bulkhead.stats().active == 0


async def test_waiting_tasks_are_served_in_fifo_order() -> None:
    """Queued tasks get slots in arrival order and newcomers do not overtake them."""
    bulkhead = Bulkhead(BulkheadConfig(max_concurrent_calls=1, max_wait_duration=30))
    order: list[int] = []

    async def record(i: int) -> None:
        order.append(i)

    await bulkhead.acquire_async()
    tasks = []
    for i in range(5):
        tasks.append(asyncio.create_task(bulkhead.call(record, i)))
        await asyncio.sleep(0)
    bulkhead.release()
    tasks.append(asyncio.create_task(bulkhead.call(record, 99)))
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert order == [0, 1, 2, 3, 4, 99]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_waiter_times_out_after_max_wait_duration(kind: str) -> None:
    """A caller queued longer than max_wait_duration gets BulkheadFullError and leaves the queue."""
    bulkhead = Bulkhead(BulkheadConfig(max_concurrent_calls=1, max_wait_duration=0.05, name="q"))
    bulkhead.acquire()
    started = time.monotonic()
    waiting = asyncio.to_thread(bulkhead.acquire) if kind == "sync" else bulkhead.acquire_async()
    with pytest.raises(BulkheadFullError):
        await waiting
    assert time.monotonic() - started >= 0.04
    stats = bulkhead.stats()
    assert (stats.waiting, stats.active, stats.rejected) == (0, 1, 1)
    bulkhead.release()


async def test_the_ambient_deadline_ends_the_wait() -> None:
    """A wait longer than the deadline ends at the deadline with DeadlineExceededError."""
    bulkhead = Bulkhead(BulkheadConfig(max_concurrent_calls=1, max_wait_duration=30))
    await bulkhead.acquire_async()
    with pytest.raises(DeadlineExceededError):
        async with deadline(0.05):
            await asyncio.wait_for(bulkhead.acquire_async(), 10)
    assert bulkhead.stats().waiting == 0
    bulkhead.release()


def test_release_without_acquire_is_an_error() -> None:
    """Releasing more than acquired raises instead of corrupting the count."""
    bulkhead = Bulkhead()
    with pytest.raises(RuntimeError, match="released more often"):
        bulkhead.release()


@pytest.mark.parametrize("form", ["decorator", "call", "with", "async-decorator", "async-call", "async-with"])
async def test_every_form_holds_a_slot_while_running(form: str) -> None:
    """Each calling form occupies a slot during the call and frees it afterwards."""
    bulkhead = Bulkhead(BulkheadConfig(max_concurrent_calls=2))
    seen: list[int] = []

    def body() -> str:
        seen.append(bulkhead.stats().active)
        return "done"

    async def abody() -> str:
        return body()

    result: Any
    if form == "decorator":
        result = bulkhead(body)()
    elif form == "call":
        result = bulkhead.call(body)
    elif form == "with":
        with bulkhead:
            result = body()
    elif form == "async-decorator":
        result = await bulkhead(abody)()
    elif form == "async-call":
        result = await bulkhead.call(abody)
    else:
        async with bulkhead:
            result = body()
    assert result == "done"
    assert seen == [1]
    assert bulkhead.stats().active == 0
    assert bulkhead.stats().accepted == 1


def test_a_slot_is_freed_when_the_body_raises() -> None:
    """An exception inside the bulkhead gives the slot back."""
    bulkhead = Bulkhead(BulkheadConfig(max_concurrent_calls=1))
    with pytest.raises(ValueError, match="bad"):
        bulkhead.call(_raise_value_error)
    assert bulkhead.stats().active == 0


def _raise_value_error() -> None:
    raise ValueError("bad")


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"max_concurrent_calls": 0}, "max_concurrent_calls"),
        ({"max_concurrent_calls": 2.5}, "max_concurrent_calls"),
        ({"max_wait_duration": -1}, "max_wait_duration"),
        ({"max_wait_duration": float("inf")}, "max_wait_duration"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_configuration_names_the_parameter(kwargs: dict[str, Any], parameter: str) -> None:
    """Bad values fail at construction with a ValueError naming the parameter."""
    with pytest.raises(ValueError, match=parameter):
        BulkheadConfig(**kwargs)


def _wait_until(condition: Any, timeout: float = 5) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("condition not reached")
        time.sleep(0.001)
