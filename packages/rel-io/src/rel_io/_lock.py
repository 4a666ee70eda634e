"""Inter-process file locks on `filelock`, sync and async, with timeouts that explain themselves.

The lock is an OS lock (``flock`` on Unix, ``LockFileEx`` on Windows) on a
lock file, released by the kernel when its holder dies, so a crashed holder
never wedges the others. The holder writes its pid and host into the lock file
so that a waiter that gives up can say who it waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import math
import os
import socket
import sys
import time
from types import TracebackType

import filelock

from rel_io._errors import FileWriteError, LockTimeoutError, from_os_error
from rel_io._telemetry import report
from rel_telemetry import cap_timeout

PathLike = str | os.PathLike[str]

DEFAULT_POLL_INTERVAL = 0.05
_HOLDER_RECORD_LEN = 128
_HOST = socket.gethostname()


class _Default(enum.Enum):
    TOKEN = enum.auto()


DEFAULT = _Default.TOKEN


def lock_path_for(path: PathLike) -> str:
    """The lock file guarding data file ``path``: ``<path>.lock`` beside it."""
    return os.fspath(path) + ".lock"


def _check_timeout(name: str, value: float | None) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) or value < 0
    ):
        raise ValueError(f"{name} must be None (wait forever) or a number of seconds >= 0, got {value!r}")


class FileLock:
    """An exclusive lock on ``lock_file`` held across processes.

    Use it as ``with FileLock(p):``, ``async with FileLock(p):`` or through
    :meth:`acquire`/:meth:`release`. ``timeout`` is the default wait in seconds
    (None: wait forever; it is capped by the ambient rel deadline). One object
    is re-entrant for its holder: nested acquisitions count, the last release
    unlocks. Give each thread or task its own object (``file_lock`` does).
    Failing to get the lock in time raises :class:`LockTimeoutError` naming the
    lock file, the wait and the holder's pid and host where recorded.
    """

    __slots__ = ("_lock", "lock_file", "poll_interval", "record_holder", "timeout")

    def __init__(
        self,
        lock_file: PathLike,
        *,
        timeout: float | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        record_holder: bool = True,
    ) -> None:
        _check_timeout("timeout", timeout)
        if not (isinstance(poll_interval, int | float) and 0 < poll_interval <= 60):
            raise ValueError(f"poll_interval must be in (0, 60] seconds, got {poll_interval!r}")
        self.lock_file = os.fspath(lock_file)
        self.timeout = timeout
        self.poll_interval = float(poll_interval)
        self.record_holder = record_holder
        self._lock = filelock.FileLock(self.lock_file, thread_local=False)

    @property
    def is_locked(self) -> bool:
        """True while this object holds the lock."""
        return bool(self._lock.is_locked)

    def acquire(self, timeout: float | _Default | None = DEFAULT) -> FileLock:
        """Wait up to ``timeout`` s (default: the object's) for the lock; return self.

        Raises :class:`LockTimeoutError` when the wait runs out and
        :class:`FileWriteError` when the lock file cannot be created or opened.
        """
        wait = self.timeout if isinstance(timeout, _Default) else timeout
        _check_timeout("timeout", wait)
        wait = cap_timeout(wait)
        started = time.monotonic()
        try:
            self._lock.acquire(timeout=-1 if wait is None else wait, poll_interval=self.poll_interval)
        except filelock.Timeout:
            raise self._timeout_error(time.monotonic() - started) from None
        except OSError as exc:
            raise self._open_error(exc) from exc
        self._after_acquire()
        return self

    async def acquire_async(self, timeout: float | _Default | None = DEFAULT) -> FileLock:  # noqa: ASYNC109 - the lock's own wait
        """Like :meth:`acquire` but waits with ``asyncio.sleep``, never blocking the loop."""
        wait = self.timeout if isinstance(timeout, _Default) else timeout
        _check_timeout("timeout", wait)
        wait = cap_timeout(wait)
        started = time.monotonic()
        while True:
            try:
                self._lock.acquire(blocking=False)
                break
            except filelock.Timeout:
                waited = time.monotonic() - started
                if wait is not None and waited >= wait:
                    raise self._timeout_error(waited) from None
                pause = self.poll_interval if wait is None else min(self.poll_interval, wait - waited)
                await asyncio.sleep(max(pause, 0.0))
            except OSError as exc:
                raise self._open_error(exc) from exc
        self._after_acquire()
        return self

    def release(self) -> None:
        """Release one level of the lock (the last level unlocks the file)."""
        self._lock.release()

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._lock.release()

    async def __aenter__(self) -> FileLock:
        return await self.acquire_async()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._lock.release()

    def __repr__(self) -> str:
        state = "locked" if self.is_locked else "unlocked"
        return f"FileLock({self.lock_file!r}, timeout={self.timeout!r}) [{state}]"

    # -- internals ------------------------------------------------------------
    def _fd(self) -> int | None:
        context = getattr(self._lock, "_context", None)
        fd = getattr(context, "lock_file_fd", None)
        return fd if isinstance(fd, int) else None

    def _after_acquire(self) -> None:
        if not self.record_holder:
            return
        fd = self._fd()
        if fd is None:
            return
        record = f"pid={os.getpid()} host={_HOST}\n".encode()[:_HOLDER_RECORD_LEN]
        with contextlib.suppress(OSError, AttributeError):  # a courtesy for messages; the lock holds
            head = os.pread(fd, 4, 0)
            if head and head != b"pid=":
                return  # not our record (filelock's own marker on a filesystem without flock): leave it
            os.pwrite(fd, record.ljust(_HOLDER_RECORD_LEN, b" "), 0)

    def _timeout_error(self, waited: float) -> LockTimeoutError:
        pid, host = read_holder(self.lock_file)
        holder = ""
        if pid is not None:
            holder = f", held by pid {pid}" + (f" on host {host}" if host else "")
        message = (
            f"could not acquire lock {self.lock_file!r} within {waited:.2f} s{holder}; "
            "the holder is still working or hung: wait longer, or stop the holder "
            "(a lock of a dead process is released by the OS)"
        )
        err = LockTimeoutError(
            message, lock_file=self.lock_file, waited=waited, holder_pid=pid, holder_host=host
        )
        report("file_lock", err, self.lock_file)
        return err

    def _open_error(self, exc: OSError) -> Exception:
        err = from_os_error(FileWriteError, "file_lock", self.lock_file, exc)
        report("file_lock", err, self.lock_file)
        return err


def read_holder(lock_file: PathLike) -> tuple[int | None, str | None]:
    """Return (pid, host) recorded in ``lock_file`` by its holder, or from the OS; Nones if unknown."""
    try:
        with open(lock_file, "rb") as fh:
            text = fh.read(_HOLDER_RECORD_LEN).decode("utf-8", "replace")
    except OSError:
        text = ""
    fields = dict(part.split("=", 1) for part in text.split() if "=" in part)
    pid_text = fields.get("pid", "")
    if pid_text.isdigit():
        return int(pid_text), fields.get("host") or None
    pid = _pid_from_proc_locks(lock_file)
    return pid, (_HOST if pid is not None else None)


def _pid_from_proc_locks(lock_file: PathLike) -> int | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        st = os.stat(lock_file)
        with open("/proc/locks", encoding="ascii", errors="replace") as fh:
            lines = fh.readlines()
    except OSError:
        return None
    wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in lines:
        parts = line.split()
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5] == wanted and parts[4].isdigit():
            return int(parts[4])
    return None


def file_lock(
    path: PathLike,
    timeout: float | None = None,
    *,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    record_holder: bool = True,
) -> FileLock:
    """Return a fresh :class:`FileLock` on ``path``: ``with file_lock("x.lock", timeout=5):``.

    ``path`` is the lock file itself. To guard a data file use
    ``file_lock(lock_path_for(data))``, the lock :func:`update_json` takes.
    Raises ValueError for an invalid ``timeout`` or ``poll_interval``.
    """
    return FileLock(path, timeout=timeout, poll_interval=poll_interval, record_holder=record_holder)
