"""The retry loops, entered only after a first attempt has failed (or been rejected)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from rel_retry._config import RetryConfig
from rel_retry._errors import RetryError
from rel_retry._state import RetryContext
from rel_retry._telemetry import count_attempt
from rel_retry._testing import SWITCH, RecordedAttempt
from rel_telemetry import metrics_enabled


def first_success(name: str) -> None:
    """Count and record a first-time success (only called when metrics or testing is on)."""
    count_attempt(name, "success")
    record = SWITCH.record
    if record is not None:
        record.add(RecordedAttempt(name, 1, None, None))


def retry_sync(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    config: RetryConfig,
    name: str,
    *,
    started: float,
    error: BaseException | None,
    result: Any,
) -> Any:
    """Continue a call whose first attempt raised ``error`` (or returned a rejected ``result``)."""
    ctx = RetryContext.after_failure(config, name, started)
    wait = ctx.failed(error) if error is not None else ctx.rejected(result)
    while True:
        if wait is None:
            if error is not None:
                ctx.gave_up(error)
                raise error
            ctx.gave_up_on_result()
            raise RetryError(ctx.name, ctx.attempts, result, ctx.stop_reason or "")
        if wait > 0:
            try:
                time.sleep(wait)
            except BaseException as exc:
                ctx.interrupted(exc, during_attempt=False)
                raise
        ctx.waited(wait)
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            error = exc
        except BaseException as exc:
            ctx.interrupted(exc)
            raise
        else:
            check = config.retry_on_result
            if check is None or not check(result):
                ctx.succeeded()
                return result
            error = None
            wait = ctx.rejected(result)
            continue
        wait = ctx.failed(error)


async def retry_async(
    fn: Callable[..., Awaitable[Any]],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    config: RetryConfig,
    name: str,
    *,
    started: float,
    error: BaseException | None,
    result: Any,
) -> Any:
    """The async twin of :func:`retry_sync`; waits are ``asyncio.sleep`` and cancel at once."""
    ctx = RetryContext.after_failure(config, name, started)
    wait = ctx.failed(error) if error is not None else ctx.rejected(result)
    while True:
        if wait is None:
            if error is not None:
                ctx.gave_up(error)
                raise error
            ctx.gave_up_on_result()
            raise RetryError(ctx.name, ctx.attempts, result, ctx.stop_reason or "")
        try:
            await asyncio.sleep(wait)
        except BaseException as exc:
            ctx.interrupted(exc, during_attempt=False)
            raise
        ctx.waited(wait)
        try:
            result = await fn(*args, **kwargs)
        except Exception as exc:
            error = exc
        except BaseException as exc:
            ctx.interrupted(exc)
            raise
        else:
            check = config.retry_on_result
            if check is None or not check(result):
                ctx.succeeded()
                return result
            error = None
            wait = ctx.rejected(result)
            continue
        wait = ctx.failed(error)


def call_sync(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any], config: RetryConfig, name: str
) -> Any:
    """One call of ``fn`` under ``config`` (the generic path: budget, result check, counters)."""
    if config.budget is not None:
        config.budget.record_call()
    started = time.monotonic()
    try:
        result = fn(*args, **kwargs)
    except Exception as exc:
        error: BaseException = exc
    else:
        check = config.retry_on_result
        if check is None or not check(result):
            if SWITCH.record is not None or metrics_enabled():
                first_success(config.name or name)
            return result
        return retry_sync(fn, args, kwargs, config, name, started=started, error=None, result=result)
    return retry_sync(fn, args, kwargs, config, name, started=started, error=error, result=None)


async def call_async(
    fn: Callable[..., Awaitable[Any]],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    config: RetryConfig,
    name: str,
    *,
    first: Awaitable[Any] | None = None,
) -> Any:
    """The async twin of :func:`call_sync`; ``first`` is an already-made first attempt's awaitable."""
    if config.budget is not None and first is None:
        config.budget.record_call()
    started = time.monotonic()
    try:
        result = await (fn(*args, **kwargs) if first is None else first)
    except Exception as exc:
        error: BaseException = exc
    else:
        check = config.retry_on_result
        if check is None or not check(result):
            if SWITCH.record is not None or metrics_enabled():
                first_success(config.name or name)
            return result
        return await retry_async(fn, args, kwargs, config, name, started=started, error=None, result=result)
    return await retry_async(fn, args, kwargs, config, name, started=started, error=error, result=None)
