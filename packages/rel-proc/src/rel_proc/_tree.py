"""Ending a whole process tree: SIGTERM, grace, SIGKILL, reap - on every way out.

A managed child starts in its own session, so it leads a process group that
its ordinary descendants share. Teardown signals that group, every descendant
the tracker saw (including those that left the group with ``setsid``), and
every process whose environment carries the tree's marker token, then reaps.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from rel_proc._platform import is_subreaper
from rel_proc._scan import (
    IS_LINUX,
    ProcInfo,
    descendants,
    is_alive,
    marked,
    process_table,
    reap_adopted,
    reap_adopted_zombies,
    signal_group,
    signal_process,
    start_time,
)
from rel_proc._tracker import tracker
from rel_proc._watchdog import Watchdog

if TYPE_CHECKING:
    from rel_proc._supervise import Supervisor

MARKER_VARIABLE = "REL_PROC_TREE"
"""Environment variable listing the tree tokens of every rel-proc owner above a process."""


class _Owner:
    """Process-wide state: the marker prefix, the watchdog, the trees still alive."""

    def __init__(self) -> None:
        self.prefix = f"{os.getpid()}-{secrets.token_hex(4)}-"
        self.counter = itertools.count(1)
        self.watchdog = Watchdog(MARKER_VARIABLE, self.prefix)
        self.live: set[ProcessTree] = set()
        self.lock = threading.Lock()

    def next_token(self) -> str:
        return f"{self.prefix}{next(self.counter)}"

    def after_fork(self) -> None:
        self.watchdog._after_fork()
        self.prefix = f"{os.getpid()}-{secrets.token_hex(4)}-"
        self.watchdog = Watchdog(MARKER_VARIABLE, self.prefix)
        self.live = set()
        self.lock = threading.Lock()


owner = _Owner()
os.register_at_fork(after_in_child=owner.after_fork)


def child_marker(environ_value: str | None, token: str) -> str:
    """The marker value for a child: the inherited tokens plus this tree's."""
    return f"{environ_value},{token}" if environ_value else token


class Child(Protocol):
    """What teardown needs of the managed child: its pid and, once reaped, its status."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...


class ProcessTree:
    """The processes started by one managed child, and how to end them all.

    ``root`` is the child; ``anchor`` the process whose descendants make up
    the tree (the child itself, or the supervising shim that adopts its
    orphans). With a ``supervisor`` the shim reports when the tree is empty.
    """

    def __init__(
        self,
        root: ProcInfo,
        token: str,
        *,
        track_interval: float | None,
        anchor: int | None = None,
        supervisor: Supervisor | None = None,
    ) -> None:
        self.root = root
        self.pgid = root.pid
        self.anchor = root.pid if anchor is None else anchor
        self.supervisor = supervisor
        self.token = token
        self.started_at = time.monotonic()
        self.track_interval = track_interval if track_interval is not None else float("inf")
        self.seen: dict[int, ProcInfo] = {}
        self.killed = False
        self.ended = False
        self._watched = False
        self.wants_watch = False
        self._lock = threading.Lock()

    def start(self, *, die_with_parent: bool) -> None:
        """Begin tracking descendants and, if asked, arrange death with this process.

        The watchdog learns of the tree at the tracker's first tick, so a
        command that ends sooner costs it nothing; until then the watchdog's
        marker sweep covers the tree.
        """
        with owner.lock:
            owner.live.add(self)
        self.wants_watch = die_with_parent and owner.watchdog.ensure_started()
        if self.track_interval != float("inf") or self.wants_watch:
            tracker.add(self)

    def watch(self) -> None:
        """Register with the owner-death watchdog (called by the tracker thread)."""
        with self._lock:
            if self.wants_watch and not self._watched and not self.ended:
                self._watched = owner.watchdog.register(self.root.pid, self.pgid)

    def remember(self, infos: Iterable[ProcInfo]) -> None:
        """Record descendants seen while the tree runs."""
        with self._lock:
            for info in infos:
                if info.pid not in (self.root.pid, self.anchor):
                    self.seen.setdefault(info.pid, info)

    def survey(self) -> list[ProcInfo]:
        """Every live process of the tree, the root excluded: one pass over the process table."""
        table = process_table()
        found: dict[int, ProcInfo] = {}
        for info in descendants(table, [self.anchor]):
            found[info.pid] = info
        for info in table.values():
            if info.pgid == self.pgid:
                found[info.pid] = info
        with self._lock:
            for pid, info in self.seen.items():
                now = table.get(pid)
                if now is not None and now.start == info.start:
                    found[pid] = info
        # Nothing started before the root can carry its token: skip reading those environments.
        since = self.root.start if IS_LINUX else 0.0
        for info in marked(table, MARKER_VARIABLE, self.token, since=since, skip=found):
            found[info.pid] = info
        for pid in (self.anchor, os.getpid()):
            found.pop(pid, None)
        if self.supervisor is None or not self.supervisor.status_lost:
            # The child is signalled and reaped through ``child``. Not a program whose killed
            # shim lost its status: that one is just another process of the tree.
            found.pop(self.root.pid, None)
        self.remember(found.values())
        return list(found.values())

    def _signal_all(
        self, child: Child, victims: list[ProcInfo], sig: int, *, group_covers: bool = False
    ) -> None:
        """Signal the group, the child and ``victims``; with ``group_covers``, skip victims the group signal reached."""
        signal_group(self.pgid, sig)
        if child.returncode is None:
            # Not process.send_signal(): Popen.send_signal() polls first, and that
            # waitpid() steals the exit status from asyncio's child watcher.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child.pid, sig)
        for info in victims:
            if not (group_covers and info.pgid == self.pgid):
                signal_process(info, sig)

    def _quiet(self) -> bool:
        """Cheap check that nothing we know of is left (no table scan)."""
        if self.supervisor is not None and (self.supervisor.quiet or self.supervisor.connected):
            return self.supervisor.quiet  # the subreaper shim has no child left: nothing is
        with self._lock:
            known = list(self.seen.values())
        return not signal_group(self.pgid, 0) and not any(is_alive(info) for info in known)

    async def end(self, child: Child, exited: asyncio.Future[None], grace: float) -> None:
        """End the tree: SIGTERM, up to ``grace`` seconds, SIGKILL; reap the child and adopted orphans.

        Returns once every process of the tree is dead. Safe to call more than once.
        """
        if self.ended:
            return
        tracker.discard(self)
        if child.returncode is not None and self._quiet():
            await self._finish(exited)
            return
        if self.root.start == 0.0 and child.returncode is None:
            # Not reaped, so the pid is still the child's: its start time bounds the marker sweep.
            self.root = self.root._replace(start=start_time(self.root.pid))
        # The grace period counts from the start of teardown, scan included:
        # the whole teardown of a stubborn tree then takes grace plus the kill.
        deadline = time.monotonic() + grace
        victims = self.survey()
        self._signal_all(child, victims, signal.SIGTERM, group_covers=True)
        clean, victims = await self._await_exit(child, exited, victims, deadline)
        if not clean:
            self.killed = True
            await self._kill(child, exited, victims)
        await self._finish(exited)

    async def _await_exit(
        self, child: Child, exited: asyncio.Future[None], victims: list[ProcInfo], deadline: float
    ) -> tuple[bool, list[ProcInfo]]:
        """Wait until the tree is gone (True) or ``deadline`` passes (False)."""
        pause = 0.001
        while True:
            if child.returncode is not None and not any(is_alive(v) for v in victims):
                if self._quiet():
                    return True, []
                victims = self.survey()
                if not victims:
                    return True, victims
                self._signal_all(child, victims, signal.SIGTERM)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False, victims
            await _pause(exited, min(pause, remaining))
            pause = min(pause * 2, 0.005)

    async def _kill(self, child: Child, exited: asyncio.Future[None], victims: list[ProcInfo]) -> None:
        """SIGKILL the tree and wait for every process of it to die.

        A SIGKILLed process never runs user code again, so nothing it does can
        hide it; the scans that look for anything unknown (a late escapee, a
        fork racing the signal) run right after the signals, while the victims
        die, instead of after. Bounded: a process stuck in the kernel cannot
        block teardown forever.
        """
        known = {v.pid: v for v in victims}
        fresh = victims
        for _ in range(50):
            self._signal_all(child, fresh, signal.SIGKILL)
            fresh = [v for v in self.survey() if v.pid not in known or known[v.pid].start != v.start]
            if not fresh:
                break
            known.update((v.pid, v) for v in fresh)
        pending = list(known.values())
        for _ in range(400):
            if child.returncode is None:
                await _pause(exited, 0.005)
                self._signal_all(child, [], signal.SIGKILL)
                continue
            pending = [v for v in pending if is_alive(v)]
            supervisor = self.supervisor
            if not pending and (supervisor is None or supervisor.quiet or not supervisor.connected):
                return
            await asyncio.sleep(0.001)
            self._signal_all(child, pending, signal.SIGKILL)

    async def _finish(self, exited: asyncio.Future[None]) -> None:
        await asyncio.shield(exited)
        if self.supervisor is not None:
            await self.supervisor.close()
        if is_subreaper():
            await self._reap_adopted()
        with self._lock:
            self.ended = True
            watched = self._watched
        with owner.lock:
            owner.live.discard(self)
        if watched:
            owner.watchdog.unregister(self.root.pid)

    async def _reap_adopted(self) -> None:
        with self._lock:
            pending = list(self.seen.values())
        known = {info.pid for info in pending}
        for _ in range(250):
            reap_adopted_zombies(self.pgid, known, exclude=self.anchor)
            pending = [info for info in pending if not reap_adopted(info)]
            if not pending:
                break
            await asyncio.sleep(0.002)
        reap_adopted_zombies(self.pgid, known, exclude=self.anchor)

    def kill_now(self) -> None:
        """SIGKILL the tree without waiting (interpreter exit, no event loop left)."""
        if self.supervisor is not None:
            self.supervisor.request_end()
        signal_group(self.pgid, signal.SIGKILL)
        with self._lock:
            known = list(self.seen.values())
        for info in known:
            signal_process(info, signal.SIGKILL)


async def _pause(exited: asyncio.Future[None], seconds: float) -> None:
    """Sleep ``seconds``, waking early when the child exits."""
    if exited.done():
        await asyncio.sleep(seconds)
    else:
        await asyncio.wait([exited], timeout=seconds)


async def finish_despite_cancellation(future: asyncio.Future[Any]) -> bool:
    """Wait for ``future`` to finish even if the waiting task is cancelled; True if it was.

    The caller re-raises the cancellation once its cleanup is done.
    """
    cancelled = False
    while not future.done():
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            if future.cancelled():
                break
            cancelled = True
    return cancelled


@atexit.register
def _kill_remaining_trees() -> None:
    with owner.lock:
        trees = list(owner.live)
    for tree in trees:
        tree.kill_now()
