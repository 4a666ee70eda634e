"""`retry_context`: retry a block of code, sync (``for``) or async (``async for``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any

from rel_retry._config import RetryConfig, resolve_config
from rel_retry._loop import first_success
from rel_retry._state import RetryContext
from rel_retry._testing import SWITCH
from rel_telemetry import metrics_enabled


class Attempt:
    """One try of a block: use it as ``with attempt:`` (or ``async with``).

    An ``Exception`` raised in the block is handed to the policy, which either
    starts the next attempt or re-raises it with a note. Interrupts and
    cancellation propagate at once.
    """

    __slots__ = ("context", "error", "number")

    def __init__(self, number: int, context: RetryContext | None) -> None:
        self.number = number
        self.context = context
        self.error: BaseException | None = None

    def __enter__(self) -> Attempt:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if exc is None:
            return False
        if isinstance(exc, Exception):
            self.error = exc
            return True
        if self.context is not None:
            self.context.interrupted(exc)
        return False

    async def __aenter__(self) -> Attempt:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        return self.__exit__(exc_type, exc, tb)

    def __repr__(self) -> str:
        return f"<Attempt {self.number}>"


class retry_context:
    """Retry a block::

        for attempt in retry_context(RetryConfig(max_retries=2)):
            with attempt:
                do_something()

    ``async for`` works the same way in coroutines, with cancellable waits.
    Takes a :class:`RetryConfig` and/or the keyword options of
    :func:`retry_with_backoff`; ``name`` labels notes and spans (default
    ``"block"``). The final failure re-raises the block's exception with a note.
    """

    __slots__ = ("config", "name")

    def __init__(self, config: RetryConfig | None = None, **options: Any) -> None:
        self.config = resolve_config(config, options)
        self.name = self.config.name or "block"

    def __iter__(self) -> Iterator[Attempt]:
        config = self.config
        if config.budget is not None:
            config.budget.record_call()
        started = time.monotonic()
        ctx: RetryContext | None = None
        number = 1
        while True:
            attempt = Attempt(number, ctx)
            try:
                yield attempt
            except GeneratorExit as exc:  # the loop was left early
                if ctx is not None:
                    ctx.interrupted(exc, during_attempt=False)
                raise
            error = attempt.error
            if error is None:
                self._success(ctx)
                return
            if ctx is None:
                ctx = RetryContext.after_failure(config, self.name, started)
            wait = ctx.failed(error)
            if wait is None:
                ctx.gave_up(error)
                raise error
            if wait > 0:
                try:
                    time.sleep(wait)
                except BaseException as exc:
                    ctx.interrupted(exc, during_attempt=False)
                    raise
            ctx.waited(wait)
            number += 1

    async def __aiter__(self) -> AsyncIterator[Attempt]:
        config = self.config
        if config.budget is not None:
            config.budget.record_call()
        started = time.monotonic()
        ctx: RetryContext | None = None
        number = 1
        while True:
            attempt = Attempt(number, ctx)
            try:
                yield attempt
            except GeneratorExit as exc:  # the loop was left early
                if ctx is not None:
                    ctx.interrupted(exc, during_attempt=False)
                raise
            error = attempt.error
            if error is None:
                self._success(ctx)
                return
            if ctx is None:
                ctx = RetryContext.after_failure(config, self.name, started)
            wait = ctx.failed(error)
            if wait is None:
                ctx.gave_up(error)
                raise error
            try:
                await asyncio.sleep(wait)
            except BaseException as exc:
                ctx.interrupted(exc, during_attempt=False)
                raise
            ctx.waited(wait)
            number += 1

    def _success(self, ctx: RetryContext | None) -> None:
        if ctx is not None:
            ctx.succeeded()
        elif SWITCH.record is not None or metrics_enabled():
            first_success(self.name)
