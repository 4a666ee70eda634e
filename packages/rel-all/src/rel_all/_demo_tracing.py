"""The demo's telemetry: OTLP when a collector is configured, else an optional console tree."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import rel_telemetry
from rel_all._trace_tree import render_tree


@dataclass
class DemoTracing:
    """What :meth:`setup` installed, and the rendered tree after :meth:`shutdown`."""

    provider: Any = None
    exporter: Any = None
    tree: str | None = None

    @classmethod
    def setup(cls, *, print_tree: bool) -> DemoTracing:
        """OTLP export if ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; an in-memory capture if ``print_tree``."""
        tracing = cls()
        if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            tracing.provider = rel_telemetry.configure(service_name="rel-demo", exporter="otlp")
        if print_tree:
            if tracing.provider is None:
                tracing.provider = rel_telemetry.configure(service_name="rel-demo", exporter=None)
            tracing.exporter = InMemorySpanExporter()
            tracing.provider.add_span_processor(SimpleSpanProcessor(tracing.exporter))
        return tracing

    def shutdown(self) -> None:
        """Flush exported spans and render the captured tree."""
        if self.provider is not None:
            self.provider.force_flush()
        if self.exporter is not None:
            self.tree = render_tree(self.exporter.get_finished_spans())
