"""Linux-only process controls (``prctl``), degrading to no-ops elsewhere."""

from __future__ import annotations

import ctypes
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
            _libc = ctypes.CDLL(None, use_errno=True)  # the running program's symbols include libc's
    return int(_libc.prctl(option, arg, 0, 0, 0)) == 0


def subreaper_supported() -> bool:
    """True where a process can adopt its orphaned descendants (Linux 3.4+)."""
    return IS_LINUX


def become_subreaper() -> bool:
    """Make this process adopt orphaned descendants (Linux ``PR_SET_CHILD_SUBREAPER``).

    Process-wide and inherited by nothing; rel-proc then reaps the orphans of
    its trees. Returns False where unsupported (macOS).
    """
    global _subreaper
    ok = _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _subreaper = ok or None
    return ok


_subreaper: bool | None = None


def is_subreaper() -> bool:
    """True if this process is a child subreaper (asked the kernel once, then remembered)."""
    global _subreaper
    if _subreaper is None:
        _subreaper = _ask_subreaper()
    return _subreaper


def _ask_subreaper() -> bool:
    if not IS_LINUX:
        return False
    value = ctypes.c_int(0)
    global _libc
    with _lock:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)  # the running program's symbols include libc's
    ok = int(_libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(value), 0, 0, 0)) == 0
    return ok and value.value != 0


def reap(pid: int) -> bool:
    """Reap ``pid`` if it is a finished child of this process; True if reaped."""
    try:
        got, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return got == pid
