"""Capture rel's spans and metrics in tests, yours and ours.

``capture_spans()`` installs a real SDK tracer provider with an in-memory
exporter for the duration of a ``with`` block and restores the previous
provider afterwards, so tests stay independent. Needs ``opentelemetry-sdk``
(the ``[sdk]`` extra).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace as _trace_api
from opentelemetry.metrics import _internal as _metrics_internal

try:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "rel_telemetry.testing needs the OpenTelemetry SDK: pip install 'rel-telemetry[sdk]'",
        name=_exc.name,
    ) from _exc

__all__ = ["CapturedMetrics", "CapturedSpans", "capture_metrics", "capture_spans"]


class CapturedSpans(Sequence[ReadableSpan]):
    """The spans finished inside a :func:`capture_spans` block, oldest first."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self._exporter = exporter

    @property
    def spans(self) -> list[ReadableSpan]:
        """All finished spans so far."""
        return list(self._exporter.get_finished_spans())

    def __getitem__(self, index: Any) -> Any:
        return self.spans[index]

    def __len__(self) -> int:
        return len(self._exporter.get_finished_spans())

    def names(self) -> list[str]:
        """Names of the finished spans, in finishing order."""
        return [s.name for s in self.spans]

    def named(self, name: str) -> list[ReadableSpan]:
        """Every finished span called ``name``."""
        return [s for s in self.spans if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        """The single finished span called ``name``; AssertionError if there are 0 or several."""
        found = self.named(name)
        if len(found) != 1:
            raise AssertionError(
                f"expected exactly one span {name!r}, found {len(found)} among {self.names()}"
            )
        return found[0]

    def children_of(self, parent: ReadableSpan) -> list[ReadableSpan]:
        """Finished spans whose parent is ``parent``."""
        ctx = parent.get_span_context()
        assert ctx is not None
        return [s for s in self.spans if s.parent is not None and s.parent.span_id == ctx.span_id]

    def clear(self) -> None:
        """Forget the spans captured so far."""
        self._exporter.clear()


def _swap_tracer_provider(provider: Any) -> Any:
    previous = _trace_api._TRACER_PROVIDER
    _trace_api._TRACER_PROVIDER = provider
    return previous


@contextmanager
def capture_spans() -> Iterator[CapturedSpans]:
    """Record every span ended inside the block; yields a :class:`CapturedSpans`."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    previous = _swap_tracer_provider(provider)
    try:
        yield CapturedSpans(exporter)
    finally:
        _swap_tracer_provider(previous)


class CapturedMetrics:
    """Metric points recorded inside a :func:`capture_metrics` block."""

    def __init__(self, reader: InMemoryMetricReader) -> None:
        self._reader = reader

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """(attributes, point) pairs of every data point of metric ``name``."""
        data = self._reader.get_metrics_data()
        found: list[tuple[dict[str, Any], Any]] = []
        if data is None:
            return found
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        found.extend((dict(p.attributes or {}), p) for p in metric.data.data_points)
        return found

    def value(self, name: str, **attributes: Any) -> float:
        """Sum of counter values (or histogram counts) of ``name`` whose attributes include ``attributes``."""
        total: float = 0
        for attrs, point in self.points(name):
            if all(attrs.get(k) == v for k, v in attributes.items()):
                total += point.value if hasattr(point, "value") else point.count
        return total


@contextmanager
def capture_metrics() -> Iterator[CapturedMetrics]:
    """Record every metric point made inside the block; yields a :class:`CapturedMetrics`."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    previous = _metrics_internal._METER_PROVIDER
    _metrics_internal._METER_PROVIDER = provider
    try:
        yield CapturedMetrics(reader)
    finally:
        _metrics_internal._METER_PROVIDER = previous
