"""`traced` overhead with no SDK and with the SDK, against the raw OpenTelemetry API."""

from __future__ import annotations

import contextlib

from harness import Group
from opentelemetry import trace

from rel_telemetry import traced


def _work() -> int:
    return 1


def run(quick: bool) -> list[Group]:
    repeat = 3 if quick else 7
    no_sdk = Group(
        "context manager, no tracer provider installed",
        reference="contextlib.nullcontext()",
        baseline="bare call",
        goal="traced at most 2x a nullcontext; the raw API builds a no-op span (13-18x).",
    )
    api_tracer = trace.get_tracer("bench")
    decorated = traced("work")(_work)
    no_sdk.time("bare call", _work, repeat=repeat)
    no_sdk.time("contextlib.nullcontext()", _null, repeat=repeat)
    no_sdk.time("rel traced('x') block", _rel_block, repeat=repeat)
    no_sdk.time("rel @traced function", decorated, repeat=repeat)
    no_sdk.time("raw API start_as_current_span", lambda: _raw(api_tracer), repeat=repeat)

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from rel_telemetry.testing import _swap_tracer_provider

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    previous = _swap_tracer_provider(provider)
    try:
        sdk_tracer = provider.get_tracer("bench")
        with_sdk = Group(
            "with the SDK installed (in-memory exporter)",
            reference="raw API start_as_current_span",
            goal="traced within 1.1x of the raw API span.",
        )

        def raw_sdk() -> None:
            _raw(sdk_tracer)
            exporter.clear()

        def rel_sdk() -> None:
            _rel_block()
            exporter.clear()

        def rel_deco() -> None:
            decorated()
            exporter.clear()

        with_sdk.time("raw API start_as_current_span", raw_sdk, repeat=repeat)
        with_sdk.time("rel traced('x') block", rel_sdk, repeat=repeat)
        with_sdk.time("rel @traced function", rel_deco, repeat=repeat)
    finally:
        _swap_tracer_provider(previous)
    return [no_sdk, with_sdk]


def _null() -> int:
    with contextlib.nullcontext():
        return _work()


def _rel_block() -> int:
    with traced("x"):
        return _work()


def _raw(tracer: trace.Tracer) -> int:
    with tracer.start_as_current_span("x"):
        return _work()
