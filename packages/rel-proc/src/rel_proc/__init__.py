"""rel-proc: subprocesses that never outlive their owner.

``managed_subprocess`` ends the whole process tree on every way out of its
block; ``run`` / ``run_sync`` run a command to completion with timeouts,
bounded capture and typed errors. Trace context reaches the child through
``TRACEPARENT``.
"""

from rel_proc._errors import (
    ProcessError,
    ProcessFailedError,
    ProcessSpawnError,
    ProcessTimeoutError,
    ProgramNotFoundError,
)
from rel_proc._managed import DEVNULL, PIPE, STDOUT, ManagedProcess, managed_subprocess
from rel_proc._platform import become_subreaper, subreaper_supported
from rel_proc._result import CompletedProcess, signal_name
from rel_proc._run import run, run_sync
from rel_proc._spawn import TRANSIENT_SPAWN_ERRNOS, RetryPolicy
from rel_proc._supervise import supervise_supported
from rel_proc._testing import DEFAULT_GRACE, is_testing, set_testing
from rel_proc._tree import MARKER_VARIABLE
from rel_proc._version import __version__

__all__ = [
    "__version__",
    # running
    "managed_subprocess",
    "ManagedProcess",
    "run",
    "run_sync",
    "CompletedProcess",
    "signal_name",
    "PIPE",
    "DEVNULL",
    "STDOUT",
    "DEFAULT_GRACE",
    "RetryPolicy",
    "TRANSIENT_SPAWN_ERRNOS",
    # testing
    "set_testing",
    "is_testing",
    # platform
    "MARKER_VARIABLE",
    "become_subreaper",
    "subreaper_supported",
    "supervise_supported",
    # errors
    "ProcessError",
    "ProcessSpawnError",
    "ProgramNotFoundError",
    "ProcessTimeoutError",
    "ProcessFailedError",
]
