"""A child process that uses rel-telemetry and reports its spans as JSON on stdout."""

from __future__ import annotations

import json

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import rel_telemetry

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)


@rel_telemetry.traced("child.work")
def work() -> int:
    with rel_telemetry.traced("child.inner"):
        return 42


work()
print(
    json.dumps(
        [
            {
                "name": s.name,
                "trace_id": f"{s.context.trace_id:032x}",
                "span_id": f"{s.context.span_id:016x}",
                "parent_span_id": f"{s.parent.span_id:016x}" if s.parent else None,
            }
            for s in exporter.get_finished_spans()
        ]
    )
)
