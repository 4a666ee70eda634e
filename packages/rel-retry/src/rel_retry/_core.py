"""`retry_with_backoff`, `async_retry_with_backoff` and `with_retry`: decorate or call directly.

The first attempt runs inside a bare ``try`` (see ``_fastpath``): a call that
succeeds first time pays for one clock read and two flag checks, and builds no
span and no policy object. Only a failure enters the retry loop.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, overload

from rel_retry._config import DEFAULT_CONFIG, RetryConfig, resolve_config
from rel_retry._fastpath import first_attempt_wrapper
from rel_retry._loop import call_async, call_sync

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


def _name_of(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__


def _decorate(fn: Callable[P, R], config: RetryConfig) -> Callable[P, R]:
    name = config.name or _name_of(fn)
    if inspect.iscoroutinefunction(fn):
        return _decorate_async(fn, config, name)  # type: ignore[return-value]
    if config.budget is not None or config.retry_on_result is not None:

        @functools.wraps(fn)
        def general(*args: P.args, **kwargs: P.kwargs) -> R:
            return call_sync(fn, args, kwargs, config, name)  # type: ignore[no-any-return]

        return general
    return first_attempt_wrapper(fn, config, name, is_async=False)  # type: ignore[no-any-return]


def _decorate_async(
    fn: Callable[P, Awaitable[T]], config: RetryConfig, name: str
) -> Callable[P, Coroutine[Any, Any, T]]:
    if config.budget is not None or config.retry_on_result is not None:

        @functools.wraps(fn)
        async def general(*args: P.args, **kwargs: P.kwargs) -> T:
            return await call_async(fn, args, kwargs, config, name)  # type: ignore[no-any-return]

        return general
    return first_attempt_wrapper(fn, config, name, is_async=True)  # type: ignore[no-any-return]


@overload
def retry_with_backoff(
    config: RetryConfig | None = None, /, **options: Any
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
@overload
def retry_with_backoff(fn: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def retry_with_backoff(fn: Callable[[], R], /, config: RetryConfig | None = None, **options: Any) -> R: ...
def retry_with_backoff(
    fn_or_config: Callable[..., Any] | RetryConfig | None = None,
    /,
    config: RetryConfig | None = None,
    **options: Any,
) -> Any:
    """Retry with exponential backoff: as a decorator or as a direct call.

    * ``@retry_with_backoff`` or ``@retry_with_backoff(RetryConfig(...))`` or
      ``@retry_with_backoff(max_retries=5)`` decorates a function or a
      coroutine function;
    * ``retry_with_backoff(fn, config)`` or ``retry_with_backoff(fn,
      max_attempts=3, base_delay=2.0, ...)`` calls ``fn()`` with retries now and
      returns its result (when ``fn`` is a coroutine function or returns a
      coroutine, it returns an awaitable that retries the awaits).
      A callable alone, with no config and no options, is decorated, not called.

    ``config`` may also be passed by keyword (``config=cfg``, handy with
    ``functools.partial``). Keyword options are :class:`RetryConfig` fields, ``max_attempts`` (total
    attempts) or the aliases ``base_delay``, ``max_delay``, ``retry_delay``,
    ``backoff_factor``, ``exceptions_to_retry``. The final failure re-raises the
    last exception itself with a note (attempts, time, why it stopped); a
    result rejected to the end raises :class:`RetryError`. Raises TypeError for
    an unknown option and ValueError for a bad value.
    """
    if fn_or_config is None or isinstance(fn_or_config, RetryConfig):
        if fn_or_config is not None and config is not None:
            raise TypeError("retry_with_backoff takes one RetryConfig; got two")
        resolved = resolve_config(fn_or_config or config, options)
        return lambda fn: _decorate(fn, resolved)
    if not callable(fn_or_config):
        raise TypeError(f"retry_with_backoff expects a callable or a RetryConfig, got {fn_or_config!r}")
    if config is None and not options:
        return _decorate(fn_or_config, resolve_config(None, {}))
    resolved = resolve_config(config, options)
    name = resolved.name or _name_of(fn_or_config)
    if inspect.iscoroutinefunction(fn_or_config):
        return call_async(fn_or_config, (), {}, resolved, name)
    result = call_sync(fn_or_config, (), {}, resolved, name)
    if inspect.iscoroutine(result):
        # `lambda: fetch()` of a coroutine function: retry the awaits, not the coroutine's creation.
        return call_async(fn_or_config, (), {}, resolved, name, first=result)
    return result


@overload
def async_retry_with_backoff(
    config: RetryConfig | None = None, /, **options: Any
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Coroutine[Any, Any, T]]]: ...
@overload
def async_retry_with_backoff(
    fn: Callable[[], Awaitable[T]], /, config: RetryConfig | None = None, **options: Any
) -> Coroutine[Any, Any, T]: ...
def async_retry_with_backoff(
    fn_or_config: Callable[[], Awaitable[Any]] | RetryConfig | None = None,
    /,
    config: RetryConfig | None = None,
    **options: Any,
) -> Any:
    """Await ``fn()`` with retries: ``await async_retry_with_backoff(fn, config)``.

    ``fn`` returns an awaitable (a coroutine function or a lambda creating a
    coroutine); waits are ``asyncio.sleep`` and a cancellation stops them at
    once. Given only a config (or options), returns a decorator for coroutine
    functions. Options and failure semantics as :func:`~rel_retry.retry_with_backoff`.
    """
    if fn_or_config is None or isinstance(fn_or_config, RetryConfig):
        if fn_or_config is not None and config is not None:
            raise TypeError("async_retry_with_backoff takes one RetryConfig; got two")
        resolved = resolve_config(fn_or_config or config, options)
        return lambda fn: _decorate_async(fn, resolved, resolved.name or _name_of(fn))
    if not callable(fn_or_config):
        raise TypeError(f"async_retry_with_backoff expects a callable or a RetryConfig, got {fn_or_config!r}")
    resolved = resolve_config(config, options)
    return call_async(fn_or_config, (), {}, resolved, resolved.name or _name_of(fn_or_config))


@overload
def with_retry(max_retries: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def with_retry(
    max_retries: int = 3,
    retry_delay: float = 1.0,
    backoff_factor: float = 2.0,
    exceptions_to_retry: tuple[type[BaseException], ...] | type[BaseException] | None = None,
    timeout: float | None = None,
    **options: Any,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def with_retry(
    max_retries: int | Callable[..., Any] = 3,
    retry_delay: float = 1.0,
    backoff_factor: float = 2.0,
    exceptions_to_retry: tuple[type[BaseException], ...] | type[BaseException] | None = None,
    timeout: float | None = None,
    **options: Any,
) -> Any:
    """Decorator: retry up to ``max_retries`` times, waiting ``retry_delay * backoff_factor**n``.

    ``exceptions_to_retry`` limits what is retried (default: transient failures
    per :func:`~rel_retry.classify_failure`); ``timeout`` bounds the whole call in seconds.
    Other keyword options as :func:`~rel_retry.retry_with_backoff`. Works on functions and
    coroutine functions; also usable bare as ``@with_retry``.
    Raises ValueError for a bad value.
    """
    if callable(max_retries):
        return _decorate(max_retries, resolve_config(None, {}))
    fields: dict[str, Any] = {
        "max_retries": max_retries,
        "base_delay_seconds": retry_delay,
        "multiplier": backoff_factor,
        "timeout": timeout,
        **options,
    }
    if exceptions_to_retry is not None:
        fields["retryable_exceptions"] = exceptions_to_retry
    if (
        isinstance(retry_delay, int | float)
        and retry_delay > DEFAULT_CONFIG.max_delay_seconds
        and "max_delay_seconds" not in options
    ):
        fields["max_delay_seconds"] = retry_delay
    resolved = resolve_config(None, fields)
    return lambda fn: _decorate(fn, resolved)
