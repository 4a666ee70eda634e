"""rel-guard's instrumentation scope, counters and span events.

Span events go on the caller's current span; rel-guard starts no span of its
own, so a successful call through a closed breaker or a free bulkhead costs
no telemetry work beyond one provider check.
"""

from __future__ import annotations

from typing import Any

# rel-telemetry exports no accessor for the current span; the API it depends on
# is always installed with it, so this is the only direct import of it.
from opentelemetry import trace as _otel_trace

from rel_guard._version import __version__
from rel_telemetry import Instrumentation, metrics_enabled, tracing_enabled

INSTRUMENTATION = Instrumentation("rel_guard", __version__)

BREAKER_CALLS = INSTRUMENTATION.counter(
    "rel.guard.breaker.calls", description="Calls through a circuit breaker, by outcome"
)
BREAKER_REJECTIONS = INSTRUMENTATION.counter(
    "rel.guard.breaker.rejections", description="Calls refused by an open circuit breaker"
)
BREAKER_TRANSITIONS = INSTRUMENTATION.counter(
    "rel.guard.breaker.transitions", description="Circuit breaker state changes"
)
BULKHEAD_REJECTIONS = INSTRUMENTATION.counter(
    "rel.guard.bulkhead.rejections", description="Calls refused by a full bulkhead"
)
BULKHEAD_WAIT = INSTRUMENTATION.histogram(
    "rel.guard.bulkhead.wait", unit="s", description="Time callers queued for a bulkhead slot"
)

__all__ = [
    "BREAKER_CALLS",
    "BREAKER_REJECTIONS",
    "BREAKER_TRANSITIONS",
    "BULKHEAD_REJECTIONS",
    "BULKHEAD_WAIT",
    "INSTRUMENTATION",
    "add_span_event",
    "metrics_enabled",
    "tracing_enabled",
]


def add_span_event(name: str, attributes: dict[str, Any]) -> None:
    """Add an event to the current span, if one is recording. Never raises."""
    if not tracing_enabled():
        return
    try:
        span = _otel_trace.get_current_span()
        if span.is_recording():
            span.add_event(name, attributes)
    except Exception:  # noqa: S110 - telemetry must never break the protected call
        pass
