from __future__ import annotations

import asyncio
import logging

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from rel_telemetry import (
    Instrumentation,
    current_span,
    current_trace_ids,
    inject_env,
    set_error_status,
    start_span,
    traced,
    tracing_enabled,
    use_span,
)
from rel_telemetry.testing import capture_spans

SCOPE = Instrumentation("rel_use_span_test", "0")


def test_span_is_current_inside_the_block() -> None:
    """Inside use_span the span is current: children nest under it, ids and env carry it."""
    with capture_spans() as spans:
        span = start_span(SCOPE, "outer")
        with use_span(span) as active:
            assert active is span
            assert current_span() is span
            with traced("child"):
                pass
            trace_id, span_id = current_trace_ids()
            env = inject_env({})
        assert current_span() is not span
        assert span.is_recording()
        span.end()
    outer = spans.one("outer")
    assert [s.name for s in spans.children_of(outer)] == ["child"]
    assert trace_id == f"{outer.context.trace_id:032x}"
    assert span_id == f"{outer.context.span_id:016x}"
    assert env["TRACEPARENT"].split("-")[2] == span_id


def test_span_is_left_open_unless_asked() -> None:
    """By default the span outlives the block; end_on_exit=True ends it."""
    with capture_spans() as spans:
        kept = start_span(SCOPE, "kept")
        with use_span(kept):
            pass
        assert kept.is_recording()
        kept.end()
        ended = start_span(SCOPE, "ended")
        with use_span(ended, end_on_exit=True):
            pass
        assert not ended.is_recording()
    assert spans.names() == ["kept", "ended"]


def test_failure_is_recorded_and_reraised_unchanged() -> None:
    """An exception leaving the block marks the span ERROR with error.type and propagates as is."""
    err = ConnectionError("down")
    with capture_spans() as spans:
        span = start_span(SCOPE, "io")
        with pytest.raises(ConnectionError) as info, use_span(span, end_on_exit=True):
            raise err
    assert info.value is err
    recorded = spans.one("io")
    assert recorded.status.status_code is StatusCode.ERROR
    assert recorded.attributes is not None
    assert recorded.attributes["error.type"] == "ConnectionError"
    assert [e.name for e in recorded.events] == ["exception"]


def test_record_exception_false_leaves_the_span_alone() -> None:
    """With record_exception=False the caller decides what the failure means for the span."""
    with capture_spans() as spans:
        span = start_span(SCOPE, "handled")
        with pytest.raises(TimeoutError), use_span(span, end_on_exit=True, record_exception=False):
            raise TimeoutError
    recorded = spans.one("handled")
    assert recorded.status.status_code is StatusCode.UNSET
    assert list(recorded.events) == []


async def test_async_with_and_cancellation() -> None:
    """async with works; a cancelled block marks the span cancelled, not failed."""

    async def body(span: trace.Span) -> None:
        async with use_span(span, end_on_exit=True):
            await asyncio.sleep(10)

    with capture_spans() as spans:
        task = asyncio.create_task(body(start_span(SCOPE, "waiting")))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5)
    recorded = spans.one("waiting")
    assert recorded.status.status_code is StatusCode.UNSET
    assert recorded.attributes is not None
    assert recorded.attributes["rel.cancelled"] is True


def test_without_a_provider_nothing_is_attached() -> None:
    """With no tracer provider start_span gives the invalid span, and use_span leaves the context as is."""
    assert not tracing_enabled()
    span = start_span(SCOPE, "nobody listens")
    assert span is trace.INVALID_SPAN
    with use_span(span, end_on_exit=True) as active:
        assert active is span
        assert not current_span().is_recording()


def test_one_block_at_a_time() -> None:
    """Entering the same use_span twice at once is a clear error, and the outer block still works."""
    with capture_spans() as spans:
        span = start_span(SCOPE, "once")
        guard = use_span(span, end_on_exit=True)
        with guard:
            with pytest.raises(RuntimeError, match="already active"), guard:
                pass
            assert current_span() is span
    assert spans.names() == ["once"]


def test_log_records_inside_carry_the_span() -> None:
    """A JSON log line written inside the block carries the span's trace and span ids."""
    import io
    import json

    from rel_telemetry import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("rel.test.use_span")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with capture_spans():
            span = start_span(SCOPE, "logged")
            with use_span(span, end_on_exit=True):
                logger.warning("inside")
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["span_id"] == f"{span.get_span_context().span_id:016x}"
    assert line["trace_id"] == f"{span.get_span_context().trace_id:032x}"


def test_set_error_status_marks_a_failure_without_an_exception() -> None:
    """set_error_status gives the span ERROR status with the description and no exception event."""
    with capture_spans() as spans:
        span = start_span(SCOPE, "rejected")
        set_error_status(span, "result rejected")
        span.end()
    (finished,) = spans.spans
    assert finished.status.status_code is StatusCode.ERROR
    assert finished.status.description == "result rejected"
    assert finished.events == ()


def test_set_error_status_without_a_provider_is_free() -> None:
    """Without a tracer provider the invalid span is left alone and nothing raises."""
    assert not tracing_enabled()
    span = start_span(SCOPE, "nothing")
    set_error_status(span, "ignored")
    assert not span.is_recording()
