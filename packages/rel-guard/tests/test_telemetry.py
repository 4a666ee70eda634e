"""Span events and counters: transitions and rejections are visible, the success path adds no span."""

from __future__ import annotations

import pytest
from opentelemetry import trace

from rel_guard import (
    Bulkhead,
    BulkheadConfig,
    BulkheadFullError,
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitBreakerOpenError,
)
from rel_telemetry.testing import capture_metrics, capture_spans


def _raise() -> None:
    raise ConnectionError("down")


def test_transitions_and_rejections_are_events_on_the_current_span() -> None:
    """Opening adds a state_change event and a refusal a rejected event, with the breaker's state."""
    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=1, name="payments"))
    with capture_spans() as spans:
        tracer = trace.get_tracer("test")
        with tracer.start_as_current_span("request"):
            assert breaker.call(lambda: 1) == 1
            with pytest.raises(ConnectionError):
                breaker.call(_raise)
            with pytest.raises(CircuitBreakerOpenError):
                breaker.call(lambda: 1)
        request = spans.one("request")
        assert spans.names() == ["request"]  # the breaker starts no span of its own
    events = {e.name: dict(e.attributes or {}) for e in request.events}
    change = events["rel.guard.breaker.state_change"]
    assert change["rel.guard.breaker.from_state"] == "closed"
    assert change["rel.guard.breaker.state"] == "open"
    assert change["rel.guard.name"] == "payments"
    assert "consecutive" in str(change["rel.guard.breaker.reason"])
    assert events["rel.guard.breaker.rejected"]["rel.guard.breaker.state"] == "open"


def test_counters_by_outcome_rejection_and_transition() -> None:
    """Calls are counted by outcome (fast successes included), plus rejections and transitions."""
    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=2, name="inventory"))
    with capture_metrics() as metrics:

        @breaker
        def ok() -> int:
            return 1

        for _ in range(3):
            ok()
        for _ in range(2):
            with pytest.raises(ConnectionError):
                breaker.call(_raise)
        with pytest.raises(CircuitBreakerOpenError):
            ok()
        calls = "rel.guard.breaker.calls"
        assert metrics.value(calls, **{"rel.guard.outcome": "success"}) == 3
        assert metrics.value(calls, **{"rel.guard.outcome": "failure"}) == 2
        assert metrics.value("rel.guard.breaker.rejections", **{"rel.guard.name": "inventory"}) == 1
        assert metrics.value("rel.guard.breaker.transitions", **{"rel.guard.breaker.state": "open"}) == 1


def test_bulkhead_rejection_is_an_event_and_a_counter() -> None:
    """A refused call adds a rejected event with active/waiting and counts a rejection."""
    bulkhead = Bulkhead(BulkheadConfig(max_concurrent_calls=1, name="render"))
    with capture_spans() as spans, capture_metrics() as metrics:
        with (
            trace.get_tracer("test").start_as_current_span("job"),
            bulkhead,
            pytest.raises(BulkheadFullError),
        ):
            bulkhead.call(lambda: None)
        assert metrics.value("rel.guard.bulkhead.rejections", **{"rel.guard.name": "render"}) == 1
        job = spans.one("job")
    (event,) = job.events
    assert event.name == "rel.guard.bulkhead.rejected"
    assert dict(event.attributes or {})["rel.guard.bulkhead.active"] == 1
