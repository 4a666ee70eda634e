from __future__ import annotations

import importlib

import rel_all

PACKAGES = ["rel_telemetry", "rel_retry", "rel_io", "rel_checkpoint", "rel_proc", "rel_guard", "rel_health"]


def test_every_name_is_the_packages_own_object() -> None:
    """Each name in rel_all.__all__ is the identical object its own package exports."""
    modules = [importlib.import_module(m) for m in PACKAGES]
    for name in rel_all.__all__:
        if name == "__version__":
            continue
        owners = [m for m in modules if name in getattr(m, "__all__", ())]
        assert owners, f"{name} is exported by no rel package"
        assert getattr(rel_all, name) is getattr(owners[0], name)


def test_covers_the_seed_names() -> None:
    """The helpers the requirement documents call are all one import away."""
    for name in [
        "atomic_write_json",
        "safe_read_json",
        "managed_subprocess",
        "retry_with_backoff",
        "async_retry_with_backoff",
        "safe_parse_float",
        "load_checkpoint",
        "validate_checkpoint_compatibility",
        "log_exception",
        "read_file",
        "write_file",
        "list_dir",
        "scan_dir",
        "ensure_dir",
        "atomic_read_json",
        "with_retry",
        "file_lock",
        "get_error_reports",
        "CircuitBreaker",
        "CircuitBreakerConfig",
        "Bulkhead",
        "BulkheadConfig",
        "ResourceLeakDetector",
        "HealthChecker",
        "HealthCheck",
        "GracefulDegradation",
        "TimeoutManager",
        "RetryConfig",
        "calculate_backoff",
        "classify_failure",
        "write_if_changed",
        "generate_unique_key",
        "create_checkpoint",
        "cleanup_old_checkpoints",
        "resume_run",
    ]:
        assert name in rel_all.__all__, name
