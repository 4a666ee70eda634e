"""`traced`: one span around a function or a block, free when nobody listens."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast

from opentelemetry import context as _context_api
from opentelemetry import trace as _trace_api
from opentelemetry.trace import (
    INVALID_SPAN,
    NoOpTracerProvider,
    Span,
    Status,
    StatusCode,
    Tracer,
    TracerProvider,
)
from opentelemetry.util.types import Attributes as OtelAttributes

from rel_telemetry._propagation import process_parent_context
from rel_telemetry._scope import Attributes, Instrumentation, tracing_enabled
from rel_telemetry._version import __version__
from rel_telemetry.attributes import ERROR_TYPE

P = ParamSpec("P")
R = TypeVar("R")

_SELF = Instrumentation("rel_telemetry", __version__)
_scopes: dict[tuple[str, str | None], Instrumentation] = {}


def _scope(name: str, version: str | None = None) -> Instrumentation:
    key = (name, version)
    found = _scopes.get(key)
    if found is None:
        found = _scopes.setdefault(key, Instrumentation(name, version))
    return found


def error_type(exc: BaseException) -> str:
    """Return the low-cardinality ``error.type`` value for an exception: its class path."""
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def record_failure(span: Span, exc: BaseException) -> None:
    """Mark ``span`` failed by ``exc``: exception event, ERROR status, ``error.type``.

    Cancellation (``asyncio.CancelledError``, ``GeneratorExit``) is recorded as an
    attribute, not as an error: nothing failed, the caller stopped waiting.
    """
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        span.set_attribute("rel.cancelled", True)
        return
    span.set_attribute(ERROR_TYPE, error_type(exc))
    span.record_exception(exc, escaped=True)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


def set_error_status(span: Span, description: str) -> None:
    """Mark ``span`` failed with ``description`` when no exception is at hand (a rejected result).

    Sets the ERROR status only; use :func:`record_failure` when an exception
    caused the failure. Free on a span that is not recording.
    """
    if span.is_recording():
        span.set_status(Status(StatusCode.ERROR, description))


class _ResolvingTracer(Tracer):
    """A tracer that always delegates to the *current* global provider.

    Unlike the API's proxy tracer it re-binds when the provider is replaced,
    so tests that swap providers see every span.
    """

    def __init__(self, scope: Instrumentation) -> None:
        self._scope = scope

    def start_span(self, *args: Any, **kwargs: Any) -> Span:
        return self._scope.tracer.start_span(*args, **kwargs)

    @contextmanager
    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Iterator[Span]:  # type: ignore[override]
        with self._scope.tracer.start_as_current_span(*args, **kwargs) as span:
            yield span


def get_tracer(
    scope: str, version: str | None = None, *, tracer_provider: TracerProvider | None = None
) -> Tracer:
    """Return a tracer for ``scope`` (an import name) and its ``version``.

    Without ``tracer_provider`` the tracer follows the global provider, even if
    one is installed or replaced after this call.
    """
    if tracer_provider is not None:
        return tracer_provider.get_tracer(scope, version)
    return _ResolvingTracer(_scope(scope, version))


def get_meter(scope: str, version: str | None = None) -> Any:
    """Return the meter for ``scope`` from the current global meter provider."""
    return _scope(scope, version).meter


def start_span(
    scope: Instrumentation,
    name: str,
    attributes: Attributes | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
    start_time: int | None = None,
) -> Span:
    """Start (not activate) a span in ``scope``, parented on the current span.

    With no current span, a trace context inherited through ``TRACEPARENT`` is
    the parent, so a child process joins its parent's trace.
    """
    ctx = None
    if not _trace_api.get_current_span().get_span_context().is_valid:
        ctx = process_parent_context()
    tracer = scope.tracer_for(tracer_provider)
    return tracer.start_span(
        name, context=ctx, attributes=cast(OtelAttributes, attributes), start_time=start_time
    )


class traced:
    """Trace a function (sync or async) or a ``with`` block as one span.

    ``@traced()`` names the span after the function's qualified name;
    ``with traced("name") as span:`` traces a block. On an exception the span
    gets ERROR status, an exception event and ``error.type``; the exception is
    re-raised unchanged. While no tracer provider is installed no span object is
    built at all; installing one makes spans appear with no code change.
    One ``traced`` object may decorate any number of functions, but serves one
    ``with`` block at a time.
    """

    __slots__ = ("_attributes", "_name", "_scope", "_stack", "_tracer_provider")

    def __init__(
        self,
        name: str | None = None,
        attributes: Attributes | None = None,
        *,
        scope: str | Instrumentation | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self._name = name
        self._attributes = attributes
        self._scope = scope
        self._tracer_provider = tracer_provider
        self._stack: list[tuple[Span, object]] | None = None

    # -- context manager -------------------------------------------------
    def __enter__(self) -> Span:
        if self._tracer_provider is None:
            provider = _trace_api._TRACER_PROVIDER
            if provider is None or type(provider) is NoOpTracerProvider:
                return INVALID_SPAN
        if self._name is None:
            raise TypeError(
                "traced() used as a context manager needs a span name: with traced('load config'): ..."
            )
        scope = self._scope
        resolved = _SELF if scope is None else _scope(scope) if isinstance(scope, str) else scope
        span = start_span(resolved, self._name, self._attributes, tracer_provider=self._tracer_provider)
        token = _context_api.attach(_trace_api.set_span_in_context(span))
        if self._stack is None:
            self._stack = []
        self._stack.append((span, token))
        return span

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        stack = self._stack
        if not stack:
            return
        span, token = stack.pop()
        _context_api.detach(token)  # type: ignore[arg-type]
        if exc is not None:
            record_failure(span, exc)
        span.end()

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    # -- decorator ---------------------------------------------------------
    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        name: str = self._name or getattr(fn, "__qualname__", None) or repr(fn)
        scope = (
            _scope(self._scope)
            if isinstance(self._scope, str)
            else self._scope or _scope(getattr(fn, "__module__", None) or "rel_telemetry")
        )
        attributes = self._attributes
        provider = self._tracer_provider

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                if provider is None and not tracing_enabled():
                    return await fn(*args, **kwargs)
                span = start_span(scope, name, attributes, tracer_provider=provider)
                token = _context_api.attach(_trace_api.set_span_in_context(span))
                try:
                    return await fn(*args, **kwargs)
                except BaseException as exc:
                    record_failure(span, exc)
                    raise
                finally:
                    _context_api.detach(token)
                    span.end()

            return cast(Callable[P, R], async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            if provider is None and not tracing_enabled():
                return fn(*args, **kwargs)
            span = start_span(scope, name, attributes, tracer_provider=provider)
            token = _context_api.attach(_trace_api.set_span_in_context(span))
            try:
                return fn(*args, **kwargs)
            except BaseException as exc:
                record_failure(span, exc)
                raise
            finally:
                _context_api.detach(token)
                span.end()

        return cast(Callable[P, R], wrapper)


class use_span:
    """Make an existing ``span`` the current span for a ``with`` or ``async with`` block.

    Spans started in the block become its children, log records written in it
    carry its ids and :func:`inject_env` passes it to child processes. An
    exception leaving the block is recorded on the span as :class:`traced`
    records it (ERROR status, ``error.type``, an exception event; cancellation
    as ``rel.cancelled``) unless ``record_exception=False``, and propagates
    unchanged. ``end_on_exit=True`` also ends the span when the block ends.
    The invalid span that :func:`start_span` returns while no tracer provider
    is installed is not attached at all, so the block then costs next to
    nothing. One ``use_span`` object serves one block at a time.
    """

    __slots__ = ("_end_on_exit", "_record_exception", "_span", "_token")

    def __init__(self, span: Span, *, end_on_exit: bool = False, record_exception: bool = True) -> None:
        self._span = span
        self._end_on_exit = end_on_exit
        self._record_exception = record_exception
        self._token: object | None = None

    def __enter__(self) -> Span:
        span = self._span
        if span is not INVALID_SPAN:
            if self._token is not None:
                raise RuntimeError("use_span() is already active; create one per with block")
            self._token = _context_api.attach(_trace_api.set_span_in_context(span))
        return span

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        span = self._span
        token, self._token = self._token, None
        if token is not None:
            _context_api.detach(token)  # type: ignore[arg-type]
        if exc is not None and self._record_exception and span.is_recording():
            record_failure(span, exc)
        if self._end_on_exit:
            span.end()

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def current_span() -> Span:
    """The active span (a non-recording invalid span when there is none)."""
    return _trace_api.get_current_span()


def add_span_event(name: str, attributes: Attributes | None = None) -> None:
    """Add an event to the active span if it is recording; free without a provider, never raises."""
    if not tracing_enabled():
        return
    try:
        span = _trace_api.get_current_span()
        if span.is_recording():
            span.add_event(name, cast(OtelAttributes, attributes))
    except Exception:  # telemetry must never break the caller
        return


def current_trace_ids() -> tuple[str | None, str | None]:
    """Return the current (trace_id, span_id) as W3C hex strings, or (None, None)."""
    ctx = _trace_api.get_current_span().get_span_context()
    if not ctx.is_valid:
        parent = process_parent_context()
        if parent is None:
            return None, None
        ctx = _trace_api.get_current_span(parent).get_span_context()
        if not ctx.is_valid:
            return None, None
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"
