"""`configure`: one call for an application to see rel's spans (needs the [sdk] extra)."""

from __future__ import annotations

import os
from typing import Any, Literal

from opentelemetry import trace as _trace_api

Exporter = Literal["console", "otlp", "auto"] | None

_SDK_HINT = "rel_telemetry.configure() needs the OpenTelemetry SDK: pip install 'rel-telemetry[sdk]'"


def _sdk() -> Any:
    try:
        from opentelemetry.sdk import resources, trace  # noqa: PLC0415 - optional extra
        from opentelemetry.sdk.trace import export  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError(_SDK_HINT) from exc
    return resources, trace, export


def _otlp_exporter(endpoint: str | None) -> Any:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )
    except ImportError as exc:
        raise ImportError(
            "exporter='otlp' needs the OTLP/HTTP exporter: pip install 'rel-telemetry[sdk]'"
        ) from exc
    if endpoint is not None and not endpoint.rstrip("/").endswith("/v1/traces"):
        endpoint = endpoint.rstrip("/") + "/v1/traces"
    return OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()


def configure(
    service_name: str = "rel",
    *,
    exporter: Exporter = "auto",
    endpoint: str | None = None,
    batch: bool = True,
    resource_attributes: dict[str, str] | None = None,
) -> Any:
    """Install an SDK tracer provider so rel's spans are exported; return it.

    ``exporter``: ``"otlp"`` (OTLP/HTTP to ``endpoint`` or
    ``OTEL_EXPORTER_OTLP_ENDPOINT``), ``"console"``, None (spans recorded, not
    exported: add your own processor), or ``"auto"``: OTLP when
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, else None. ``batch=False`` exports
    each span as it ends. If an SDK provider is already installed the exporter
    is added to it. Raises ``ImportError`` naming the ``[sdk]`` extra when the
    SDK is missing and ``ValueError`` for an unknown exporter.
    """
    if exporter not in ("console", "otlp", "auto", None):
        raise ValueError(f"exporter must be 'console', 'otlp', 'auto' or None, got {exporter!r}")
    resources, sdk_trace, export = _sdk()
    if exporter == "auto":
        exporter = "otlp" if (endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")) else None

    current = _trace_api._TRACER_PROVIDER
    if isinstance(current, sdk_trace.TracerProvider):
        provider = current
    else:
        attrs: dict[str, str] = {"service.name": service_name}
        attrs.update(resource_attributes or {})
        provider = sdk_trace.TracerProvider(resource=resources.Resource.create(attrs))
        _trace_api.set_tracer_provider(provider)

    span_exporter: Any = None
    if exporter == "console":
        span_exporter = export.ConsoleSpanExporter()
    elif exporter == "otlp":
        span_exporter = _otlp_exporter(endpoint)
    if span_exporter is not None:
        processor = (
            export.BatchSpanProcessor(span_exporter) if batch else export.SimpleSpanProcessor(span_exporter)
        )
        provider.add_span_processor(processor)
    return provider
