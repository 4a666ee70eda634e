"""Helpers shared by rel-retry's tests: scripted failures and the four call forms."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from rel_retry import RetryConfig, async_retry_with_backoff, retry_with_backoff

MODES = ["call", "decorate", "async_call", "async_decorate"]


class Flaky:
    """Raises the queued exceptions in order, then returns ``result``; counts calls."""

    def __init__(self, *errors: BaseException, result: Any = "ok") -> None:
        self.errors = list(errors)
        self.result = result
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.result


class Failing:
    """Raises a fresh exception from ``factory`` on every call; counts calls."""

    def __init__(self, factory: Callable[[], BaseException]) -> None:
        self.factory = factory
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        raise self.factory()


def invoke(mode: str, behaviour: Callable[[], Any], config: RetryConfig | None = None, **options: Any) -> Any:
    """Run ``behaviour`` under the policy in one of the four forms (sync/async, call/decorate)."""
    config = config or RetryConfig()
    if mode == "call":
        return retry_with_backoff(behaviour, config, **options)
    if mode == "decorate":

        def plain() -> Any:
            return behaviour()

        plain.__qualname__ = getattr(behaviour, "__qualname__", "plain")
        return retry_with_backoff(config, **options)(plain)()

    async def coro() -> Any:
        return behaviour()

    coro.__qualname__ = getattr(behaviour, "__qualname__", "coro")
    if mode == "async_call":
        return asyncio.run(async_retry_with_backoff(coro, config, **options))
    return asyncio.run(retry_with_backoff(config, **options)(coro)())
