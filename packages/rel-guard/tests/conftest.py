from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rel_guard import CircuitBreaker

SYNC_FORMS = ["decorator", "call", "with"]
ASYNC_FORMS = ["async-decorator", "async-call", "async-with"]
FORMS = SYNC_FORMS + ASYNC_FORMS


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def invoke(breaker: CircuitBreaker, form: str, body: Callable[[], Any]) -> Any:
    """Run ``body`` through ``breaker`` in one of the six calling forms."""
    if form == "decorator":
        return breaker(body)()
    if form == "call":
        return breaker.call(body)
    if form == "with":
        with breaker:
            return body()

    async def abody() -> Any:
        return body()

    if form == "async-decorator":
        return await breaker(abody)()
    if form == "async-call":
        return await breaker.call(abody)
    if form == "async-with":
        async with breaker:
            return body()
    raise AssertionError(form)


def boom(exc: BaseException) -> Callable[[], Any]:
    def body() -> Any:
        raise exc

    return body
