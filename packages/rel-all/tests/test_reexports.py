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


def test_star_import_reaches_every_name() -> None:
    """`from rel_all import *` binds every name of __all__ to its package's object."""
    namespace: dict[str, object] = {}
    exec("from rel_all import *", namespace)
    assert set(rel_all.__all__) <= set(namespace)
    assert namespace["atomic_write_json"] is importlib.import_module("rel_io").atomic_write_json


def test_unknown_name_is_an_attribute_error() -> None:
    """A name rel_all does not export raises AttributeError (and ImportError in a from-import)."""
    import pytest

    with pytest.raises(AttributeError, match="no_such_name"):
        rel_all.no_such_name  # noqa: B018
    with pytest.raises(ImportError):
        exec("from rel_all import no_such_name", {})


def test_import_and_help_do_not_load_the_stack() -> None:
    """`import rel_all` and `rel --help` import none of the seven packages: the command starts at once."""
    import subprocess
    import sys

    code = (
        "import sys, contextlib, io\n"
        "import rel_all\n"
        "from rel_all._cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        f"print(sorted(m for m in {PACKAGES!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_type_checkers_see_every_name() -> None:
    """The TYPE_CHECKING imports, which type checkers read, name exactly the lazily loaded __all__."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(rel_all.__file__).read_text(encoding="utf-8"))
    block = next(
        node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    imported = {
        alias.asname or alias.name
        for node in ast.walk(block)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert imported == set(rel_all.__all__) - {"__version__"}
