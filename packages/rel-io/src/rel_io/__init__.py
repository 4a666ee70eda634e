"""rel-io: file I/O that never leaves a torn file, and says clearly what went wrong.

Atomic durable writes, typed reads with retries and time limits, inter-process
file locks, directory helpers, idempotent writes and defensive parsing of
configuration values. Failures are stored as rel-telemetry error reports.
"""

from rel_io._atomic import (
    async_atomic_write_bytes,
    async_atomic_write_json,
    async_atomic_write_text,
    async_cleanup_stale_temps,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    cleanup_stale_temps,
)
from rel_io._atomic_open import AtomicFile, atomic_open
from rel_io._dirs import async_ensure_dir, async_list_dir, async_scan_dir, ensure_dir, list_dir, scan_dir
from rel_io._durable import fsync_dir, fsync_fd
from rel_io._env import env_bool, env_duration, env_float, env_int
from rel_io._errors import (
    CorruptFileError,
    DirectoryOperationError,
    FileReadError,
    FileWriteError,
    IOTimeoutError,
    LockTimeoutError,
    ParseError,
    RelIOError,
)
from rel_io._files import (
    async_read_bytes,
    async_read_file,
    async_read_json,
    async_write_file,
    async_write_json,
    read_bytes,
    read_file,
    read_json,
    write_file,
    write_json,
)
from rel_io._idempotency import (
    async_is_idempotent_write,
    async_write_if_changed,
    compute_content_hash,
    generate_unique_key,
    is_idempotent_write,
    write_if_changed,
)
from rel_io._lock import FileLock, file_lock, lock_path_for
from rel_io._parsing import safe_parse_bool, safe_parse_duration, safe_parse_float, safe_parse_int
from rel_io._safe_read import (
    async_safe_read_json,
    async_safe_read_lines,
    async_safe_read_text,
    safe_read_json,
    safe_read_lines,
    safe_read_text,
)
from rel_io._shared_json import async_atomic_read_json, async_update_json, atomic_read_json, update_json
from rel_io._version import __version__
from rel_retry import with_retry
from rel_telemetry import get_error_reports

# Seed code imports these names from its I/O module. They are the builtins
# themselves (every rel-io I/O error subclasses them), so importing them
# shadows nothing; catch ``RelIOError`` to catch rel-io's errors only.
IOError = OSError
TimeoutError = TimeoutError  # noqa: PLW0127 - re-exported on purpose, see above

__all__ = [
    "__version__",
    # atomic writes
    "AtomicFile",
    "async_atomic_write_bytes",
    "async_atomic_write_json",
    "async_atomic_write_text",
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "async_cleanup_stale_temps",
    "cleanup_stale_temps",
    "fsync_dir",
    "fsync_fd",
    # reads and writes
    "async_read_bytes",
    "async_read_file",
    "async_read_json",
    "async_write_file",
    "async_write_json",
    "read_bytes",
    "read_file",
    "read_json",
    "write_file",
    "write_json",
    "async_safe_read_json",
    "async_safe_read_lines",
    "async_safe_read_text",
    "safe_read_json",
    "safe_read_lines",
    "safe_read_text",
    # locks and shared JSON
    "FileLock",
    "file_lock",
    "lock_path_for",
    "async_atomic_read_json",
    "async_update_json",
    "atomic_read_json",
    "update_json",
    # directories
    "async_ensure_dir",
    "async_list_dir",
    "async_scan_dir",
    "ensure_dir",
    "list_dir",
    "scan_dir",
    # idempotency
    "async_write_if_changed",
    "async_is_idempotent_write",
    "compute_content_hash",
    "generate_unique_key",
    "is_idempotent_write",
    "write_if_changed",
    # parsing and configuration
    "env_bool",
    "env_duration",
    "env_float",
    "env_int",
    "safe_parse_bool",
    "safe_parse_duration",
    "safe_parse_float",
    "safe_parse_int",
    # errors and reports
    "CorruptFileError",
    "DirectoryOperationError",
    "FileReadError",
    "FileWriteError",
    "IOTimeoutError",
    "LockTimeoutError",
    "ParseError",
    "RelIOError",
    "get_error_reports",
    # re-exported for seed code that imports it from its I/O module
    "with_retry",
]
