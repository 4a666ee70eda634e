from __future__ import annotations

import asyncio
import time

import pytest

from rel_telemetry import (
    cap_timeout,
    deadline_scope,
    get_deadline,
    pop_deadline,
    push_deadline,
    time_remaining,
)


def test_no_deadline_by_default() -> None:
    """Without a deadline, remaining is None and timeouts pass through."""
    assert get_deadline() is None
    assert time_remaining() is None
    assert cap_timeout(5.0) == 5.0
    assert cap_timeout(None) is None


def test_nested_keeps_earliest() -> None:
    """An inner, later deadline does not extend the outer one; an earlier one shortens it."""
    with deadline_scope(1.0) as outer:
        with deadline_scope(100.0) as inner:
            assert inner == outer
        with deadline_scope(0.1) as tighter:
            assert tighter < outer
        assert get_deadline() == outer
    assert get_deadline() is None


def test_cap_timeout() -> None:
    """cap_timeout shortens to the remaining budget and never goes negative."""
    with deadline_scope(10.0):
        capped = cap_timeout(60.0)
        assert capped is not None
        assert 9.0 < capped <= 10.0
        assert cap_timeout(1.0) == 1.0
    token = push_deadline(0.0)
    try:
        time.sleep(0.001)
        assert cap_timeout(5.0) == 0.0
        remaining = time_remaining()
        assert remaining is not None
        assert remaining < 0
    finally:
        pop_deadline(token)


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "3", True])
def test_invalid_seconds(bad: object) -> None:
    """A deadline must be a finite non-negative number."""
    with pytest.raises(ValueError, match="deadline seconds"):
        push_deadline(bad)  # type: ignore[arg-type]


async def test_deadline_is_per_task() -> None:
    """A deadline set in one task does not leak into a concurrently running task."""
    seen: list[float | None] = []

    async def other() -> None:
        await asyncio.sleep(0.01)
        seen.append(get_deadline())

    task = asyncio.create_task(other())
    with deadline_scope(5.0):
        await task
    assert seen == [None]
