"""The owner side of the owner-death watchdog (see ``_watchdog_main``).

One watchdog process per owning process, started on first use. Registering
a tree costs one small ``write`` on a pipe.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

_log = logging.getLogger("rel_proc")
MAIN = str(Path(__file__).with_name("_watchdog_main.py"))


class Watchdog:
    """Client of this process's watchdog; every method is best effort and never raises."""

    def __init__(self, variable: str, prefix: str) -> None:
        self.variable = variable
        self.prefix = prefix
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._fd: int | None = None
        self._failed = False

    @property
    def pid(self) -> int | None:
        """The watchdog's pid while it runs."""
        return None if self._proc is None else self._proc.pid

    def _start(self) -> None:
        read_end, write_end = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, MAIN, self.variable, self.prefix],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                close_fds=True,
                start_new_session=True,  # terminal signals aimed at the owner's group must not reach it
            )
        except OSError as exc:
            os.close(write_end)
            self._failed = True
            _log.warning(
                "rel_proc: could not start the owner-death watchdog (%s); die_with_parent is off", exc
            )
            return
        finally:
            os.close(read_end)
        self._fd = write_end

    def ensure_started(self) -> bool:
        """Start the watchdog if it is not running; True if it runs."""
        with self._lock:
            if self._fd is None and not self._failed:
                if self._proc is not None:
                    self._proc.poll()  # reap a watchdog that died
                self._start()
            return self._fd is not None

    def _send(self, line: bytes) -> bool:
        with self._lock:
            for _ in range(2):
                if self._fd is None:
                    if self._failed:
                        return False
                    if self._proc is not None:
                        self._proc.poll()  # reap a watchdog that died
                    self._start()
                    if self._fd is None:
                        return False
                try:
                    os.write(self._fd, line)
                except OSError:  # EPIPE: the watchdog died; start a new one and tell it again
                    os.close(self._fd)
                    self._fd = None
                    continue
                return True
            return False

    def register(self, pid: int, pgid: int) -> bool:
        """Tell the watchdog to end tree ``pid`` (group ``pgid``) if this process dies."""
        return self._send(b"+ %d %d\n" % (pid, pgid))

    def unregister(self, pid: int) -> None:
        """Tell the watchdog tree ``pid`` is dead."""
        with self._lock:
            if self._fd is None:
                return
            with contextlib.suppress(OSError):
                os.write(self._fd, b"- %d\n" % pid)

    def _after_fork(self) -> None:
        # A forked child must not hold the pipe open, or the owner's death would go unnoticed.
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = None
        self._proc = None
        self._lock = threading.Lock()
