"""rel-health: health checks, leak detection and graceful degradation that orchestrators can probe.

``HealthChecker`` runs sync and async checks concurrently, each under its own
timeout; ``serve_health`` and ``health_asgi_app`` expose ``/livez``,
``/readyz`` and ``/healthz`` as ``application/health+json``;
``ResourceLeakDetector`` watches a process for leaks by threshold and by trend;
``GracefulDegradation`` picks a service level from signals without flapping.
"""

from rel_health._asgi import health_asgi_app
from rel_health._check import HealthCheck, HealthStatus
from rel_health._checker import CheckFunction, HealthChecker
from rel_health._degradation import DegradationRule, GracefulDegradation, system_signals
from rel_health._errors import HealthCheckFailedError, HealthError, raise_if_unhealthy
from rel_health._http_server import HealthServer, serve_health
from rel_health._leak import LeakAlert, ResourceLeakDetector
from rel_health._network_checks import event_loop_lag_check, http_check, tcp_check
from rel_health._probes import ProbeResponse, probe
from rel_health._report import HEALTH_JSON, HealthReport, ietf_status
from rel_health._sampling import RESOURCES, ResourceSample
from rel_health._system_checks import cpu_check, disk_space_check, memory_check, open_files_check
from rel_health._trend import Trend, linear_trend
from rel_health._version import __version__

__all__ = [
    "__version__",
    # checks and reports
    "CheckFunction",
    "HealthCheck",
    "HealthChecker",
    "HealthReport",
    "HealthStatus",
    "ietf_status",
    "HEALTH_JSON",
    # built-in checks
    "cpu_check",
    "disk_space_check",
    "event_loop_lag_check",
    "http_check",
    "memory_check",
    "open_files_check",
    "tcp_check",
    # probe endpoints
    "HealthServer",
    "ProbeResponse",
    "health_asgi_app",
    "probe",
    "serve_health",
    # leak detection
    "LeakAlert",
    "RESOURCES",
    "ResourceLeakDetector",
    "ResourceSample",
    "Trend",
    "linear_trend",
    # graceful degradation
    "DegradationRule",
    "GracefulDegradation",
    "system_signals",
    # errors
    "HealthCheckFailedError",
    "HealthError",
    "raise_if_unhealthy",
]
