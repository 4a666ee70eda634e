"""Linux-only process controls (``prctl``), degrading to no-ops elsewhere."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading

from rel_proc._scan import IS_LINUX

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37

_lock = threading.Lock()
_libc: ctypes.CDLL | None = None


def _prctl(option: int, arg: int) -> bool:
    global _libc
    if not IS_LINUX:
        return False
    with _lock:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return int(_libc.prctl(option, arg, 0, 0, 0)) == 0


def subreaper_supported() -> bool:
    """True where a process can adopt its orphaned descendants (Linux 3.4+)."""
    return IS_LINUX


def become_subreaper() -> bool:
    """Make this process adopt orphaned descendants (Linux ``PR_SET_CHILD_SUBREAPER``).

    Process-wide and inherited by nothing. Returns False where unsupported.
    """
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def is_subreaper() -> bool:
    """True if this process is a child subreaper."""
    if not IS_LINUX:
        return False
    value = ctypes.c_int(0)
    global _libc
    with _lock:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    ok = int(_libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(value), 0, 0, 0)) == 0
    return ok and value.value != 0


def reap(pid: int) -> bool:
    """Reap ``pid`` if it is a finished child of this process; True if reaped."""
    try:
        got, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return got == pid
