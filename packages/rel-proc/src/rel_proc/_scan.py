"""Reading the process table: parents, process groups, descendants and environment markers.

On Linux this reads ``/proc`` directly (a pass over every process costs about
as much as one ``psutil.Process.children(recursive=True)``); elsewhere it asks
psutil. Processes are identified by ``(pid, start time)`` so a recycled pid is
never mistaken for a process we saw before.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Container, Iterable
from typing import NamedTuple

import psutil

IS_LINUX = sys.platform.startswith("linux")


class ProcInfo(NamedTuple):
    """One process: its pid, parent, process group and start time (an opaque token)."""

    pid: int
    ppid: int
    pgid: int
    start: float


def read_proc(path: str) -> bytes | None:
    """The contents of a ``/proc`` file, or None if it is gone.

    Plain ``os`` calls: a table scan opens one file per process, and the file
    objects ``open()`` builds would double its cost.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    return b"".join(chunks)


def _stat_fields(pid: int | str) -> list[bytes]:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first, start time at 19).

    Empty if the process is gone; shorter than 20 for an exiting process, whose file may be empty.
    """
    raw = read_proc(f"/proc/{pid}/stat")
    return [] if raw is None else raw[raw.rfind(b")") + 2 :].split()


def _read_stat(pid: int) -> ProcInfo | None:
    fields = _stat_fields(pid)
    if len(fields) < 20 or fields[0] == b"Z":
        return None
    return ProcInfo(pid, int(fields[1]), int(fields[2]), float(fields[19]))


def process_table() -> dict[int, ProcInfo]:
    """Every live (non-zombie) process we can see, by pid."""
    table: dict[int, ProcInfo] = {}
    if IS_LINUX:
        for name in os.listdir("/proc"):
            if name.isdigit():
                info = _read_stat(int(name))
                if info is not None:
                    table[info.pid] = info
        return table
    for proc in psutil.process_iter(["ppid", "create_time", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            pgid = os.getpgid(proc.pid)
        except (OSError, psutil.Error):
            continue
        table[proc.pid] = ProcInfo(proc.pid, proc.info["ppid"] or 0, pgid, proc.info["create_time"] or 0.0)
    return table


def descendants(table: dict[int, ProcInfo], roots: Iterable[int]) -> list[ProcInfo]:
    """Every process in ``table`` below any of ``roots`` (the roots themselves excluded)."""
    children: dict[int, list[ProcInfo]] = {}
    for info in table.values():
        children.setdefault(info.ppid, []).append(info)
    found: list[ProcInfo] = []
    stack = list(roots)
    seen = set(stack)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child.pid not in seen:
                seen.add(child.pid)
                found.append(child)
                stack.append(child.pid)
    return found


def marked(
    table: dict[int, ProcInfo],
    variable: str,
    token: str,
    *,
    prefix: bool = False,
    since: float = 0.0,
    skip: Container[int] = (),
) -> list[ProcInfo]:
    """Processes whose initial environment lists ``token`` in ``variable``.

    The variable holds comma-separated tokens (nested owners append theirs);
    with ``prefix`` any token starting with ``token`` matches. Processes that
    started before ``since`` (a start time from this table) or whose pid is in
    ``skip`` are not read: reading environments is most of a scan's cost.
    """
    found: list[ProcInfo] = []
    me = os.getpid()
    for info in table.values():
        if info.pid == me or info.start < since or info.pid in skip:
            continue
        value = _environ_value(info.pid, variable)
        if value is not None and _has_token(value, token, prefix):
            found.append(info)
    return found


def _has_token(value: str, token: str, prefix: bool) -> bool:
    return any(t == token or (prefix and t.startswith(token)) for t in value.split(","))


def _environ_value(pid: int, variable: str) -> str | None:
    if IS_LINUX:
        env = read_proc(f"/proc/{pid}/environ")
        if env is None:
            return None
        key = variable.encode() + b"="
        for entry in env.split(b"\0"):
            if entry.startswith(key):
                return entry[len(key) :].decode(errors="replace")
        return None
    try:
        return psutil.Process(pid).environ().get(variable)
    except (psutil.Error, OSError):
        return None


def is_alive(info: ProcInfo) -> bool:
    """True while the process ``info`` describes still runs (not a zombie, pid not recycled)."""
    if IS_LINUX:
        now = _read_stat(info.pid)
        return now is not None and now.start == info.start
    try:
        proc = psutil.Process(info.pid)
        return proc.create_time() == info.start and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def signal_process(info: ProcInfo, sig: int) -> bool:
    """Send ``sig`` to the process ``info`` describes if it is still that process; True if sent."""
    if not is_alive(info):
        return False
    try:
        os.kill(info.pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to process group ``pgid``; True if the group still had members."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        # macOS reports EPERM for a group holding only zombies; nothing is left to signal.
        return False
    return True


def start_time(pid: int) -> float:
    """The start time of ``pid`` (zombie or not) in this table's units; 0.0 if it is gone."""
    if IS_LINUX:
        fields = _stat_fields(pid)
        return float(fields[19]) if len(fields) >= 20 else 0.0
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return 0.0


def identify(pid: int) -> ProcInfo | None:
    """The :class:`ProcInfo` of a running ``pid``, or None."""
    if IS_LINUX:
        return _read_stat(pid)
    try:
        proc = psutil.Process(pid)
        return ProcInfo(pid, proc.ppid(), os.getpgid(pid), proc.create_time())
    except (psutil.Error, OSError):
        return None


def reap_adopted(info: ProcInfo) -> bool:
    """Reap ``info`` if it is now a zombie child of this process (an adopted orphan).

    Checks the start time first, so another child that reused the pid is never reaped.
    Returns True once ``info`` is gone for good.
    """
    if not IS_LINUX:
        return not is_alive(info)
    fields = _stat_fields(info.pid)
    if len(fields) < 20 or float(fields[19]) != info.start:
        return True
    if fields[0] != b"Z":
        return False
    if int(fields[1]) != os.getpid():
        return False  # someone else's zombie: its parent (or init) reaps it
    with contextlib.suppress(ChildProcessError):
        os.waitpid(info.pid, os.WNOHANG)
    return True


def reap_adopted_zombies(pgid: int, known: set[int], exclude: int) -> int:
    """Reap zombie children of this process that belonged to group ``pgid`` or to ``known``.

    A subreaper adopts the zombies of dying parents too; these never appear in
    :func:`process_table`. ``exclude`` (the managed child, reaped by asyncio) is
    left alone. Linux only; returns how many were reaped.
    """
    if not IS_LINUX:
        return 0
    me = os.getpid()
    reaped = 0
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == exclude:
            continue
        fields = _stat_fields(name)
        pid = int(name)
        if (
            len(fields) > 2
            and fields[0] == b"Z"
            and int(fields[1]) == me
            and (int(fields[2]) == pgid or pid in known)
        ):
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    reaped += 1
    return reaped
