"""rel-guard's instrumentation scope, counters and span events.

Span events go on the caller's current span; rel-guard starts no span of its
own, so a successful call through a closed breaker or a free bulkhead costs
no telemetry work beyond one provider check.
"""

from __future__ import annotations

from rel_guard._version import __version__
from rel_telemetry import Instrumentation, add_span_event, metrics_enabled, tracing_enabled

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
