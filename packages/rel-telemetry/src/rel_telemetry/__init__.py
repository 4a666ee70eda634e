"""rel-telemetry: the OpenTelemetry spine of the rel packages.

Spans, metrics, structured error logging, error reports, trace propagation to
child processes and the ambient deadline. Talks only to ``opentelemetry-api``;
with no SDK installed it costs next to nothing.
"""

from opentelemetry.trace import Span

from rel_telemetry import attributes
from rel_telemetry._configure import configure
from rel_telemetry._deadline import (
    cap_timeout,
    deadline_scope,
    get_deadline,
    pop_deadline,
    push_deadline,
    time_remaining,
)
from rel_telemetry._errors import (
    ErrorReport,
    clear_error_reports,
    configure_error_reports,
    get_error_reports,
    record_error,
)
from rel_telemetry._logging import JsonFormatter, log_exception
from rel_telemetry._propagation import extract_env, inject_env, trace_env, use_env_context
from rel_telemetry._scope import Instrumentation, metrics_enabled, tracing_enabled
from rel_telemetry._tracing import (
    add_span_event,
    current_span,
    current_trace_ids,
    error_type,
    get_meter,
    get_tracer,
    record_failure,
    set_error_status,
    start_span,
    traced,
    use_span,
)
from rel_telemetry._version import __version__

__all__ = [
    "__version__",
    # tracing and metrics
    "Instrumentation",
    "Span",
    "add_span_event",
    "configure",
    "current_span",
    "current_trace_ids",
    "error_type",
    "get_meter",
    "get_tracer",
    "metrics_enabled",
    "record_failure",
    "set_error_status",
    "start_span",
    "traced",
    "tracing_enabled",
    "use_span",
    "attributes",
    # errors and logging
    "ErrorReport",
    "JsonFormatter",
    "clear_error_reports",
    "configure_error_reports",
    "get_error_reports",
    "log_exception",
    "record_error",
    # propagation
    "extract_env",
    "inject_env",
    "trace_env",
    "use_env_context",
    # ambient deadline
    "cap_timeout",
    "deadline_scope",
    "get_deadline",
    "pop_deadline",
    "push_deadline",
    "time_remaining",
]
