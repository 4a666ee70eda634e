"""A background thread that remembers every descendant of each running managed tree.

A grandchild that calls ``setsid`` leaves its process group, and if its parent
then exits it is re-parented away from the tree; once that happens nothing
links it to us. Polling the process table while the tree runs records it
before that, so teardown can still kill it. One thread serves every tree and
scans the table once per tick, and only when some tree has lived longer than
one interval, so short-lived commands never pay for a scan.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING

from rel_proc._scan import descendants, process_table

if TYPE_CHECKING:
    from rel_proc._tree import ProcessTree

DEFAULT_INTERVAL = 0.1
LINGER = 2.0  # seconds without trees before the thread sleeps until woken
_log = logging.getLogger("rel_proc")


class _Tracker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._trees: weakref.WeakSet[ProcessTree] = weakref.WeakSet()
        self._thread: threading.Thread | None = None
        self._dormant = False
        self.interval = DEFAULT_INTERVAL

    def add(self, tree: ProcessTree) -> None:
        with self._lock:
            self._trees.add(tree)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="rel-proc-tracker", daemon=True)
                self._thread.start()
            elif self._dormant:
                # Only a dormant thread needs waking: waking it for each short command
                # would cost every spawn a thread switch.
                self._dormant = False
                self._wake.notify()

    def discard(self, tree: ProcessTree) -> None:
        with self._lock:
            self._trees.discard(tree)

    def _loop(self) -> None:
        idle_since: float | None = None
        while True:
            with self._lock:
                if not self._trees:
                    now = time.monotonic()
                    idle_since = now if idle_since is None else idle_since
                    if now - idle_since < LINGER:
                        self._wake.wait(self.interval / 2)
                        continue
                    self._dormant = True
                    while self._dormant:
                        self._wake.wait()
                idle_since = None
                trees = list(self._trees)
            now = time.monotonic()
            for tree in trees:
                if tree.wants_watch and now - tree.started_at >= self.interval:
                    tree.watch()
            due = [t for t in trees if now - t.started_at >= t.track_interval]
            if due:
                try:
                    self.scan(due)
                except Exception:  # a vanished /proc entry must never kill the tracker
                    _log.debug("rel_proc: descendant scan failed", exc_info=True)
            time.sleep(min([t.track_interval for t in trees] + [self.interval]) / 2)

    @staticmethod
    def scan(trees: list[ProcessTree]) -> None:
        table = process_table()
        for tree in trees:
            tree.remember(descendants(table, [tree.anchor]))
            tree.remember(info for info in table.values() if info.pgid == tree.pgid)

    def _after_fork(self) -> None:
        self._dormant = False
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._trees = weakref.WeakSet()
        self._thread = None


tracker = _Tracker()
os.register_at_fork(after_in_child=tracker._after_fork)
