"""W3C trace context across process boundaries via TRACEPARENT / TRACESTATE."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context as _context_api
from opentelemetry import trace as _trace_api
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT = "TRACEPARENT"
TRACESTATE = "TRACESTATE"

_log = logging.getLogger("rel_telemetry")
_propagator = TraceContextTextMapPropagator()
_UNSET = object()
_process_parent: object = _UNSET


def extract_env(env: Mapping[str, str] | None = None) -> Context:
    """Return the trace context carried by ``TRACEPARENT``/``TRACESTATE`` in ``env``.

    ``env`` defaults to ``os.environ``. A missing or malformed value yields an
    empty context (logged at debug level); this never raises.
    """
    source = os.environ if env is None else env
    try:
        traceparent = source.get(TRACEPARENT)
        if not traceparent:
            return Context()
        carrier = {"traceparent": str(traceparent)}
        tracestate = source.get(TRACESTATE)
        if tracestate:
            carrier["tracestate"] = str(tracestate)
        ctx = _propagator.extract(carrier, context=Context())
        if not _trace_api.get_current_span(ctx).get_span_context().is_valid:
            _log.debug("ignoring malformed %s=%r", TRACEPARENT, traceparent)
            return Context()
        return ctx
    except Exception:  # a hostile mapping must not break the caller
        _log.debug("could not read trace context from the environment", exc_info=True)
        return Context()


def process_parent_context() -> Context | None:
    """The trace context this process inherited through ``TRACEPARENT``, if valid.

    Read once per process; spans started with no current span use it as their
    parent, so a child process joins its parent's trace without extra code.
    """
    global _process_parent
    if _process_parent is _UNSET:
        ctx = extract_env()
        valid = _trace_api.get_current_span(ctx).get_span_context().is_valid
        _process_parent = ctx if valid else None
    return _process_parent  # type: ignore[return-value]


def trace_env() -> dict[str, str]:
    """Return only the trace-context variables a child process needs, never the rest of the environment.

    ``{"TRACEPARENT": ..., "TRACESTATE": ...}`` for the active span (TRACESTATE
    only when there is one); with no active span, those this process inherited;
    ``{}`` when there is no trace context at all. Merge the result into the
    environment you already build for a child. Unlike :func:`inject_env` this
    does not remove stale values from that environment: drop ``TRACEPARENT`` /
    ``TRACESTATE`` from it first when they may be stale. Never raises.
    """
    ctx: Context | None = None
    if not _trace_api.get_current_span().get_span_context().is_valid:
        ctx = process_parent_context()
        if ctx is None:
            return {}
    carrier: dict[str, str] = {}
    try:
        _propagator.inject(carrier, context=ctx)
    except Exception:  # a broken span must not break a spawn
        _log.debug("could not write the trace context", exc_info=True)
        return {}
    result: dict[str, str] = {}
    if "traceparent" in carrier:
        result[TRACEPARENT] = carrier["traceparent"]
    if carrier.get("tracestate"):
        result[TRACESTATE] = carrier["tracestate"]
    return result


def inject_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return a copy of ``env`` (default ``os.environ``) carrying the current trace context.

    ``TRACEPARENT``/``TRACESTATE`` are set from the active span; with no active
    span the context this process inherited is passed on, and stale values are
    removed when there is none. Pass the result as a child process's ``env``.
    :func:`trace_env` returns the trace variables alone.
    """
    result = dict(os.environ if env is None else env)
    result.pop(TRACEPARENT, None)
    result.pop(TRACESTATE, None)
    result.update(trace_env())
    return result


@contextmanager
def use_env_context(env: Mapping[str, str] | None = None) -> Iterator[Context]:
    """Make the trace context from ``env`` current for the duration of the block."""
    ctx = extract_env(env)
    token = _context_api.attach(ctx)
    try:
        yield ctx
    finally:
        _context_api.detach(token)


def _reset_process_parent() -> None:
    """Forget the cached inherited context (for tests that change the environment)."""
    global _process_parent
    _process_parent = _UNSET
