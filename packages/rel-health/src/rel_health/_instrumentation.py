"""The package's telemetry scope and instruments (free while nothing listens)."""

from __future__ import annotations

from rel_health._version import __version__
from rel_telemetry import Instrumentation

INSTRUMENTATION = Instrumentation("rel_health", __version__)

check_counter = INSTRUMENTATION.counter(
    "rel.health.checks", description="Health check results, by check and status"
)
check_duration = INSTRUMENTATION.histogram(
    "rel.health.check.duration", unit="s", description="Time each health check took"
)
leak_alerts = INSTRUMENTATION.counter(
    "rel.health.leak_alerts", description="Resource leak alerts, by resource and kind"
)
level_changes = INSTRUMENTATION.counter(
    "rel.health.degradation.changes", description="Graceful degradation level changes, by new level"
)
