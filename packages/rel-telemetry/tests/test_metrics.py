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


def test_metrics_enabled_follows_the_installed_provider() -> None:
    """metrics_enabled is False with no provider, True while one is installed, False again after."""
    assert not metrics_enabled()
    with capture_metrics():
        assert metrics_enabled()
    assert not metrics_enabled()


def test_metrics_enabled_sees_set_meter_provider_in_a_fresh_process() -> None:
    """A provider installed through the OpenTelemetry API switches metrics on; a no-op one does not."""
    import subprocess
    import sys

    template = (
        "import rel_telemetry\n"
        "from opentelemetry import metrics\n"
        "from opentelemetry.metrics import NoOpMeterProvider\n"
        "from opentelemetry.sdk.metrics import MeterProvider\n"
        "before = rel_telemetry.metrics_enabled()\n"
        "metrics.set_meter_provider({provider}())\n"
        "print(before, rel_telemetry.metrics_enabled())\n"
    )
    results = {}
    for provider in ("NoOpMeterProvider", "MeterProvider"):
        out = subprocess.run(
            [sys.executable, "-c", template.format(provider=provider)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        results[provider] = out.stdout.split()
    assert results == {"NoOpMeterProvider": ["False", "False"], "MeterProvider": ["False", "True"]}


def test_get_meter_records_under_its_scope() -> None:
    """get_meter(scope, version) gives a meter of that scope on the installed provider."""
    from rel_telemetry import get_meter

    with capture_metrics() as metrics:
        get_meter("rel_get_meter_test", "9.9").create_counter("rel.test.direct").add(4)
        assert metrics.value("rel.test.direct") == 4
        data = metrics._reader.get_metrics_data()
    assert data is not None
    scopes = {(sm.scope.name, sm.scope.version) for rm in data.resource_metrics for sm in rm.scope_metrics}
    assert ("rel_get_meter_test", "9.9") in scopes
