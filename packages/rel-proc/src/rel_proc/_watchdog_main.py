"""The owner-death watchdog: a separate process that ends every managed tree when its owner dies.

Started once per owning process (``python _watchdog_main.py VARIABLE PREFIX``)
with the read end of a pipe as its stdin. The owner writes ``+ pid pgid`` when
it starts a tree and ``- pid`` once that tree is dead. However the owner
dies - even by SIGKILL - the kernel closes the write end, this process reads
end-of-file and SIGKILLs every registered process group, every descendant it
saw while polling, and every process whose environment carries the owner's
marker token, until a pass finds nothing. It imports only the standard
library and psutil so it starts fast and never imports the owner's code.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import time

import psutil

POLL_SECONDS = 0.25


def _children_map() -> dict[int, list[psutil.Process]]:
    children: dict[int, list[psutil.Process]] = {}
    for proc in psutil.process_iter(["ppid"]):
        children.setdefault(proc.info["ppid"] or 0, []).append(proc)
    return children


def _below(children: dict[int, list[psutil.Process]], roots: list[int]) -> list[psutil.Process]:
    found: list[psutil.Process] = []
    stack = list(roots)
    while stack:
        for child in children.get(stack.pop(), ()):
            found.append(child)
            stack.append(child.pid)
    return found


def _marked(variable: str, prefix: str) -> list[psutil.Process]:
    me = os.getpid()
    found = []
    for proc in psutil.process_iter():
        if proc.pid == me:
            continue
        with contextlib.suppress(psutil.Error, OSError):
            value = proc.environ().get(variable)
            if value and any(token.startswith(prefix) for token in value.split(",")):
                found.append(proc)
    return found


def _kill(proc: psutil.Process) -> bool:
    try:
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        proc.kill()
    except psutil.Error:
        return False
    return True


def _group_members(pgids: set[int]) -> list[psutil.Process]:
    """Live (non-zombie) members of the process groups ``pgids``."""
    found = []
    for proc in psutil.process_iter(["status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        with contextlib.suppress(OSError):
            if os.getpgid(proc.pid) in pgids:
                found.append(proc)
    return found


def _end_everything(
    trees: dict[int, int], seen: dict[int, psutil.Process], variable: str, prefix: str
) -> None:
    pgids = set(trees.values())
    for _ in range(50):
        for pgid in pgids:
            with contextlib.suppress(OSError):
                os.killpg(pgid, signal.SIGKILL)
        victims = (
            list(seen.values())
            + _below(_children_map(), list(trees))
            + _marked(variable, prefix)
            + _group_members(pgids)
        )
        hit = False
        for proc in victims:
            hit = _kill(proc) or hit
        # Done once a pass finds nothing alive. A signalled group is not "something
        # alive": it answers killpg() for as long as its zombies wait for init.
        if not hit:
            return
        seen.clear()
        time.sleep(0.02)


def main(argv: list[str]) -> int:
    variable, prefix = argv[1], argv[2]
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    trees: dict[int, int] = {}
    seen: dict[int, psutil.Process] = {}
    pending = b""
    while True:
        ready, _, _ = select.select([0], [], [], POLL_SECONDS if trees else None)
        if not ready:
            children = _children_map()
            for proc in _below(children, list(trees)):
                seen.setdefault(proc.pid, proc)
            for pid in [pid for pid, proc in seen.items() if not proc.is_running()]:
                del seen[pid]
            continue
        try:
            data = os.read(0, 65536)
        except OSError:
            data = b""
        if not data:
            break
        *lines, pending = (pending + data).split(b"\n")
        for line in lines:
            parts = line.split()
            if len(parts) == 3 and parts[0] == b"+":
                trees[int(parts[1])] = int(parts[2])
            elif len(parts) == 2 and parts[0] == b"-":
                trees.pop(int(parts[1]), None)
    _end_everything(trees, seen, variable, prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
