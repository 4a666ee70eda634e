from __future__ import annotations

from rel_telemetry import Instrumentation, metrics_enabled
from rel_telemetry.testing import capture_metrics


def test_counter_is_free_without_provider() -> None:
    """Adding to a counter with no meter provider does nothing and raises nothing."""
    scope = Instrumentation("rel_metrics_test", "0")
    assert not metrics_enabled()
    scope.counter("rel.test.calls").add(1, {"outcome": "ok"})


def test_counter_and_histogram_recorded() -> None:
    """Counters and histograms reach an installed meter provider, by attributes."""
    scope = Instrumentation("rel_metrics_test", "0")
    calls = scope.counter("rel.test.calls")
    durations = scope.histogram("rel.test.duration")
    with capture_metrics() as metrics:
        calls.add(2, {"outcome": "ok"})
        calls.add(1, {"outcome": "error"})
        durations.record(0.5)
        assert metrics.value("rel.test.calls") == 3
        assert metrics.value("rel.test.calls", outcome="ok") == 2
        assert metrics.value("rel.test.duration") == 1
    assert scope.counter("rel.test.calls") is calls
