from __future__ import annotations

import asyncio

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from rel_telemetry import Instrumentation, start_span, traced, tracing_enabled
from rel_telemetry.testing import capture_spans


def test_no_provider_no_span_object() -> None:
    """Without a tracer provider, traced builds no span and returns the invalid span."""
    assert not tracing_enabled()
    with traced("block") as span:
        assert span is trace.INVALID_SPAN
        assert not span.is_recording()


def test_spans_appear_when_a_provider_is_installed() -> None:
    """The same decorated function starts producing spans once a provider exists."""

    @traced()
    def work() -> int:
        return 7

    assert work() == 7
    with capture_spans() as spans:
        assert work() == 7
    assert spans.names() == ["test_spans_appear_when_a_provider_is_installed.<locals>.work"]
    assert work() == 7
    assert len(spans) == 1


def test_nesting_and_attributes() -> None:
    """Spans nest under the active span and keep their attributes."""

    @traced("inner", {"rel.test.k": "v"})
    def inner() -> None:
        return None

    with capture_spans() as spans, traced("outer", {"n": 3}):
        inner()
    outer, child = spans.one("outer"), spans.one("inner")
    assert child.parent is not None
    assert child.parent.span_id == outer.context.span_id
    assert child.context.trace_id == outer.context.trace_id
    assert dict(child.attributes or {}) == {"rel.test.k": "v"}
    assert dict(outer.attributes or {}) == {"n": 3}


async def test_async_function_span() -> None:
    """An async function's span covers the awaited body and nests its children."""

    @traced()
    async def child() -> int:
        await asyncio.sleep(0)
        return 1

    @traced("parent")
    async def parent() -> int:
        return await child() + await child()

    with capture_spans() as spans:
        assert await parent() == 2
    top = spans.one("parent")
    assert len(spans.children_of(top)) == 2


async def test_async_with_block() -> None:
    """traced works as an async context manager too."""
    with capture_spans() as spans:
        async with traced("ablock"):
            await asyncio.sleep(0)
    assert spans.names() == ["ablock"]


@pytest.mark.parametrize("is_async", [False, True])
def test_exception_recorded_and_reraised(is_async: bool) -> None:
    """A failure marks the span ERROR with error.type and an exception event, and propagates unchanged."""
    err = KeyError("missing")

    @traced("fails")
    def sync_fail() -> None:
        raise err

    @traced("fails")
    async def async_fail() -> None:
        raise err

    def call() -> None:
        if is_async:
            asyncio.run(async_fail())
        else:
            sync_fail()

    with capture_spans() as spans, pytest.raises(KeyError) as info:
        call()
    assert info.value is err
    span = spans.one("fails")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == "KeyError"
    assert [e.name for e in span.events] == ["exception"]


def test_error_type_uses_class_path() -> None:
    """error.type is the qualified class name for non-builtin exceptions."""

    class Boom(Exception):
        pass

    with capture_spans() as spans, pytest.raises(Boom), traced("x"):
        raise Boom
    attrs = spans.one("x").attributes
    assert attrs is not None
    assert attrs["error.type"] == f"{__name__}.test_error_type_uses_class_path.<locals>.Boom"


def test_handled_failure_does_not_fail_outer_span() -> None:
    """A failure caught inside the block leaves the outer span unset, not ERROR."""
    with capture_spans() as spans, traced("outer"):
        try:
            with traced("attempt"):
                raise ConnectionError("blip")
        except ConnectionError:
            pass
    assert spans.one("outer").status.status_code is StatusCode.UNSET
    assert spans.one("attempt").status.status_code is StatusCode.ERROR


async def test_cancellation_is_not_an_error() -> None:
    """A cancelled coroutine's span is marked cancelled, not failed."""

    @traced("slow")
    async def slow() -> None:
        await asyncio.sleep(10)

    with capture_spans() as spans:
        task = asyncio.create_task(slow())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    span = spans.one("slow")
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes is not None
    assert span.attributes["rel.cancelled"] is True


def test_context_manager_needs_a_name_when_tracing() -> None:
    """Using traced() as a block without a name is a clear TypeError when spans are recorded."""
    with capture_spans(), pytest.raises(TypeError, match="needs a span name"), traced():
        pass


def test_explicit_tracer_provider() -> None:
    """tracer_provider= sends spans to that provider even with no global one."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with traced("mine", tracer_provider=provider):
        pass
    assert [s.name for s in exporter.get_finished_spans()] == ["mine"]
    assert not tracing_enabled()


def test_instrumentation_scope_and_rebinding() -> None:
    """Instrumentation uses its name/version as scope and re-binds when providers change."""
    scope = Instrumentation("rel_example", "1.2.3")
    with capture_spans() as first:
        start_span(scope, "a").end()
    with capture_spans() as second:
        start_span(scope, "b").end()
    assert first.names() == ["a"]
    assert second.names() == ["b"]
    info = second.one("b").instrumentation_scope
    assert info is not None
    assert (info.name, info.version) == ("rel_example", "1.2.3")


def test_instrumentation_rejects_empty_name() -> None:
    """An empty scope name is a configuration error."""
    with pytest.raises(ValueError, match="non-empty"):
        Instrumentation("")


def test_get_tracer_follows_global_provider() -> None:
    """A tracer obtained before any provider exists records once one is installed."""
    from rel_telemetry import get_tracer

    tracer = get_tracer("rel_user", "0.1")
    with capture_spans() as spans, tracer.start_as_current_span("early-bound"):
        pass
    assert spans.names() == ["early-bound"]


def test_add_span_event_on_active_span() -> None:
    """add_span_event lands on the active span and is a no-op without a provider."""
    from rel_telemetry import add_span_event, current_span

    add_span_event("ignored", {"k": 1})
    assert not current_span().is_recording()
    with capture_spans() as spans, traced("holder"):
        add_span_event("rel.test.event", {"k": 1})
        assert current_span().is_recording()
    (event,) = spans.one("holder").events
    assert event.name == "rel.test.event"
    assert dict(event.attributes or {}) == {"k": 1}


def test_block_form_switches_on_with_a_provider() -> None:
    """A traced object built before any provider records its block once a provider is installed."""
    block = traced("late block")
    with block as span:
        assert span is trace.INVALID_SPAN
    with capture_spans() as spans, block as span:
        assert span.is_recording()
    with block as span:
        assert span is trace.INVALID_SPAN
    assert spans.names() == ["late block"]


async def test_async_decorator_switches_on_with_a_provider() -> None:
    """A coroutine function decorated before any provider is traced once one is installed."""

    @traced("late async")
    async def work() -> int:
        return 3

    assert await work() == 3
    with capture_spans() as spans:
        assert await work() == 3
    assert spans.names() == ["late async"]


def test_decorator_with_explicit_provider() -> None:
    """@traced(tracer_provider=...) sends the function's span to that provider."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    @traced(tracer_provider=provider)
    def work() -> int:
        return 1

    assert work() == 1
    assert [s.name for s in exporter.get_finished_spans()] == [work.__qualname__]
