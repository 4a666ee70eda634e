"""rel-all: the whole rel stack behind one import line, plus the ``rel`` command.

``from rel_all import retry_with_backoff, atomic_write_json, CircuitBreaker, ...``
reaches the common names of every rel package; each name is the very object
its own package exports.

The packages are imported on first use of any of these names, so that
``import rel_all`` and the ``rel`` command start quickly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rel_all._version import __version__

if TYPE_CHECKING:
    from rel_checkpoint import (
        Checkpoint,
        CheckpointCorruptError,
        CheckpointError,
        EventLog,
        EventLogCorruptError,
        IncompatibleCheckpointError,
        ResumeResult,
        Run,
        cleanup_old_checkpoints,
        create_checkpoint,
        get_incomplete_workers,
        get_latest_checkpoint,
        list_checkpoints,
        load_checkpoint,
        replay_events,
        resume_run,
        save_checkpoint,
        validate_checkpoint_compatibility,
    )
    from rel_guard import (
        Bulkhead,
        BulkheadConfig,
        BulkheadFullError,
        CircuitBreaker,
        CircuitBreakerConfig,
        CircuitBreakerOpenError,
        DeadlineExceededError,
        GuardError,
        TimeoutManager,
        compose,
        deadline,
        remaining,
        timeout,
    )
    from rel_health import (
        GracefulDegradation,
        HealthCheck,
        HealthChecker,
        HealthCheckFailedError,
        HealthError,
        ResourceLeakDetector,
        raise_if_unhealthy,
        serve_health,
    )
    from rel_io import (
        CorruptFileError,
        DirectoryOperationError,
        FileLock,
        FileReadError,
        FileWriteError,
        IOTimeoutError,
        LockTimeoutError,
        RelIOError,
        atomic_open,
        atomic_read_json,
        atomic_write_bytes,
        atomic_write_json,
        atomic_write_text,
        compute_content_hash,
        ensure_dir,
        env_bool,
        env_duration,
        env_float,
        env_int,
        file_lock,
        generate_unique_key,
        is_idempotent_write,
        list_dir,
        read_file,
        read_json,
        safe_parse_float,
        safe_parse_int,
        safe_read_json,
        safe_read_lines,
        safe_read_text,
        scan_dir,
        update_json,
        write_file,
        write_if_changed,
        write_json,
    )
    from rel_proc import (
        ProcessError,
        ProcessFailedError,
        ProcessTimeoutError,
        managed_subprocess,
        run,
        run_sync,
    )
    from rel_retry import (
        FailureClassification,
        RetryBudget,
        RetryConfig,
        RetryContext,
        RetryError,
        async_retry_with_backoff,
        calculate_backoff,
        classify_failure,
        exponential_backoff,
        retry_context,
        retry_with_backoff,
        with_retry,
    )
    from rel_telemetry import (
        ErrorReport,
        JsonFormatter,
        configure,
        configure_error_reports,
        extract_env,
        get_error_reports,
        get_meter,
        get_tracer,
        inject_env,
        log_exception,
        traced,
    )

__all__ = [
    "__version__",
    # rel-telemetry
    "ErrorReport",
    "JsonFormatter",
    "configure",
    "configure_error_reports",
    "extract_env",
    "get_error_reports",
    "get_meter",
    "get_tracer",
    "inject_env",
    "log_exception",
    "traced",
    # rel-retry
    "FailureClassification",
    "RetryBudget",
    "RetryConfig",
    "RetryContext",
    "RetryError",
    "async_retry_with_backoff",
    "calculate_backoff",
    "classify_failure",
    "exponential_backoff",
    "retry_context",
    "retry_with_backoff",
    "with_retry",
    # rel-io
    "CorruptFileError",
    "DirectoryOperationError",
    "FileLock",
    "FileReadError",
    "FileWriteError",
    "IOTimeoutError",
    "LockTimeoutError",
    "RelIOError",
    "atomic_open",
    "atomic_read_json",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "compute_content_hash",
    "ensure_dir",
    "env_bool",
    "env_duration",
    "env_float",
    "env_int",
    "file_lock",
    "generate_unique_key",
    "is_idempotent_write",
    "list_dir",
    "read_file",
    "read_json",
    "safe_parse_float",
    "safe_parse_int",
    "safe_read_json",
    "safe_read_lines",
    "safe_read_text",
    "scan_dir",
    "update_json",
    "write_file",
    "write_if_changed",
    "write_json",
    # rel-checkpoint
    "Checkpoint",
    "CheckpointCorruptError",
    "CheckpointError",
    "EventLog",
    "EventLogCorruptError",
    "IncompatibleCheckpointError",
    "ResumeResult",
    "Run",
    "cleanup_old_checkpoints",
    "create_checkpoint",
    "get_incomplete_workers",
    "get_latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "replay_events",
    "resume_run",
    "save_checkpoint",
    "validate_checkpoint_compatibility",
    # rel-proc
    "ProcessError",
    "ProcessFailedError",
    "ProcessTimeoutError",
    "managed_subprocess",
    "run",
    "run_sync",
    # rel-guard
    "Bulkhead",
    "BulkheadConfig",
    "BulkheadFullError",
    "CircuitBreaker",
    "CircuitBreakerConfig",
    "CircuitBreakerOpenError",
    "DeadlineExceededError",
    "GuardError",
    "TimeoutManager",
    "compose",
    "deadline",
    "remaining",
    "timeout",
    # rel-health
    "GracefulDegradation",
    "HealthCheck",
    "HealthCheckFailedError",
    "HealthChecker",
    "HealthError",
    "ResourceLeakDetector",
    "raise_if_unhealthy",
    "serve_health",
]


# The packages to search for a name, in this order (rel_io also re-exports a
# few names of rel_retry and rel_telemetry: they are the same objects).
_PACKAGES = (
    "rel_telemetry",
    "rel_retry",
    "rel_io",
    "rel_checkpoint",
    "rel_proc",
    "rel_guard",
    "rel_health",
)


def _load() -> None:
    modules = [importlib.import_module(name) for name in _PACKAGES]
    for name in __all__:
        if name in globals():
            continue
        owner = next((m for m in modules if name in getattr(m, "__all__", ())), None)
        if owner is None:
            raise ImportError(f"rel_all.__all__ names {name!r}, which no rel package exports")
        globals()[name] = getattr(owner, name)


def __getattr__(name: str) -> Any:
    if name in __all__:
        _load()
        return globals()[name]
    raise AttributeError(f"module 'rel_all' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
