"""Per-package tracer and meter handles that cost almost nothing without an SDK.

OpenTelemetry's API hands out proxy objects before an application installs a
provider; those proxies still build no-op spans on every call (a few µs each).
`Instrumentation` instead looks at the global provider on each use — one module
attribute read — and skips span work entirely while none is installed. It binds
to the real provider's tracer as soon as one appears, and re-binds if the
provider is swapped (as `rel_telemetry.testing` does), so no code change is
needed for spans to appear.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import metrics as _metrics_api
from opentelemetry import trace as _trace_api
from opentelemetry.metrics import Counter, Histogram, Meter, NoOpMeterProvider
from opentelemetry.metrics import _internal as _metrics_internal
from opentelemetry.trace import NoOpTracerProvider, Tracer, TracerProvider

AttributeValue = str | bool | int | float | Sequence[str] | Sequence[bool] | Sequence[int] | Sequence[float]
Attributes = Mapping[str, AttributeValue]

# Load a provider named by OTEL_PYTHON_TRACER_PROVIDER / OTEL_PYTHON_METER_PROVIDER
# now, so the fast checks below see it.
_trace_api.get_tracer_provider()
_metrics_api.get_meter_provider()


def tracing_enabled() -> bool:
    """Return True when an application has installed a real tracer provider.

    This is the hot-path check every rel package makes before building a span:
    one global read and an ``isinstance`` test.
    """
    provider = _trace_api._TRACER_PROVIDER
    return provider is not None and not isinstance(provider, NoOpTracerProvider)


def metrics_enabled() -> bool:
    """Return True when an application has installed a real meter provider.

    The hot-path check for metrics, the twin of :func:`tracing_enabled`: while
    no provider is installed it is one global read and a comparison, so a
    package may call it on every operation (rel-retry does on every
    first-time success) and record metrics the moment a provider appears.
    """
    provider = _metrics_internal._METER_PROVIDER
    return provider is not None and not isinstance(provider, NoOpMeterProvider)


class Instrumentation:
    """The tracer and meter of one instrumentation scope (a package or module).

    ``scope`` is the import name (``"rel_retry"``) and ``version`` its version.
    Attribute access is cheap and always reflects the current global providers.
    """

    __slots__ = (
        "_instruments",
        "_lock",
        "_meter",
        "_meter_provider",
        "_tracer",
        "_tracer_provider",
        "name",
        "version",
    )

    def __init__(self, name: str, version: str | None = None) -> None:
        if not name:
            raise ValueError("Instrumentation name must be a non-empty import name such as 'rel_retry'")
        self.name = name
        self.version = version
        self._tracer_provider: TracerProvider | None = None
        self._tracer: Tracer | None = None
        self._meter_provider: object | None = None
        self._meter: Meter | None = None
        self._instruments: dict[tuple[str, str], _LazyInstrument] = {}
        self._lock = threading.Lock()

    @property
    def tracing(self) -> bool:
        """True when spans are recorded; check it before building attributes."""
        return tracing_enabled()

    def tracer_for(self, provider: TracerProvider | None = None) -> Tracer:
        """Return this scope's tracer from ``provider`` (default: the global one)."""
        if provider is None:
            provider = _trace_api.get_tracer_provider()
        if provider is not self._tracer_provider or self._tracer is None:
            tracer = provider.get_tracer(self.name, self.version)
            self._tracer, self._tracer_provider = tracer, provider
            return tracer
        return self._tracer

    @property
    def tracer(self) -> Tracer:
        """This scope's tracer on the current global provider."""
        return self.tracer_for(None)

    @property
    def meter(self) -> Meter:
        """This scope's meter on the current global meter provider."""
        provider = _metrics_api.get_meter_provider()
        if provider is not self._meter_provider or self._meter is None:
            self._meter = provider.get_meter(self.name, self.version)
            self._meter_provider = provider
        return self._meter

    def counter(self, name: str, *, unit: str = "1", description: str = "") -> _LazyInstrument:
        """Return a counter whose ``add`` is free until a meter provider exists."""
        return self._instrument("counter", name, unit, description)

    def histogram(self, name: str, *, unit: str = "s", description: str = "") -> _LazyInstrument:
        """Return a histogram whose ``record`` is free until a meter provider exists."""
        return self._instrument("histogram", name, unit, description)

    def _instrument(self, kind: str, name: str, unit: str, description: str) -> _LazyInstrument:
        key = (kind, name)
        instrument = self._instruments.get(key)
        if instrument is None:
            with self._lock:
                instrument = self._instruments.get(key)
                if instrument is None:
                    instrument = _LazyInstrument(self, kind, name, unit, description)
                    self._instruments[key] = instrument
        return instrument

    def __repr__(self) -> str:
        return f"Instrumentation({self.name!r}, {self.version!r})"


class _LazyInstrument:
    """A counter or histogram created on first use under a real meter provider."""

    __slots__ = ("_bound_to", "_instrument", "_scope", "description", "kind", "name", "unit")

    def __init__(self, scope: Instrumentation, kind: str, name: str, unit: str, description: str) -> None:
        self._scope = scope
        self.kind = kind
        self.name = name
        self.unit = unit
        self.description = description
        self._bound_to: object | None = None
        self._instrument: Counter | Histogram | None = None

    def _resolve(self) -> Counter | Histogram | None:
        provider = _metrics_internal._METER_PROVIDER
        if provider is None or isinstance(provider, NoOpMeterProvider):
            return None
        if provider is not self._bound_to or self._instrument is None:
            meter = self._scope.meter
            if self.kind == "counter":
                self._instrument = meter.create_counter(
                    self.name, unit=self.unit, description=self.description
                )
            else:
                self._instrument = meter.create_histogram(
                    self.name, unit=self.unit, description=self.description
                )
            self._bound_to = provider
        return self._instrument

    def add(self, amount: int | float = 1, attributes: Mapping[str, Any] | None = None) -> None:
        """Add to the counter; a no-op while no meter provider is installed."""
        instrument = self._resolve()
        if instrument is not None and isinstance(instrument, Counter):
            instrument.add(amount, attributes)

    def record(self, amount: int | float, attributes: Mapping[str, Any] | None = None) -> None:
        """Record into the histogram; a no-op while no meter provider is installed."""
        instrument = self._resolve()
        if instrument is not None and isinstance(instrument, Histogram):
            instrument.record(amount, attributes)
