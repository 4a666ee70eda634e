"""`EventLog`: an append-only, CRC-framed JSON-lines log that survives kill -9.

Writes go through one ``os.write`` per commit (a record in fsync mode, a
group otherwise) under the log's rel-io file lock, so two processes never
interleave bytes and sequence numbers stay contiguous across writers and
restarts. Before writing, a writer checks whether the file grew under it (another
process appended) and picks up the last sequence number from the tail.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any, Literal

from rel_checkpoint._errors import EventLogClosedError, EventLogFailedError
from rel_checkpoint._framing import Event, encode_record
from rel_checkpoint._recovery import RecoveryReport, recover_tail
from rel_checkpoint._replay import read_events
from rel_checkpoint._telemetry import checkpoint_span, report
from rel_io import FileLock, FileWriteError, LockTimeoutError, ensure_dir, fsync_dir, fsync_fd
from rel_telemetry import tracing_enabled
from rel_telemetry.attributes import CHECKPOINT_BYTES, CHECKPOINT_EVENTS

PathLike = str | os.PathLike[str]
Durability = Literal["fsync", "group", "none"]

_DURABILITIES = ("fsync", "group", "none")
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def sync_fd(fd: int) -> None:
    """Make appended records durable (data and the new size; F_FULLFSYNC on macOS)."""
    fsync_fd(fd, data_only=True)


class EventLog:
    """An append-only event log at ``path`` (JSON lines, see the docs for the format).

    ``durability``: ``"fsync"`` (default) writes and syncs every append before
    it returns; ``"group"`` buffers appends and writes and syncs them together
    every ``group_size`` records or ``group_interval`` seconds, whichever comes
    first — :meth:`flush` returns once everything appended so far is durable;
    ``"none"`` writes at the same group boundaries and leaves syncing to the OS.
    Opening truncates a torn last record (see :attr:`recovery`) and raises
    :class:`EventLogCorruptError` when more than one bad line ends the file
    (``repair=True`` saves them beside the log and truncates instead).
    ``exclusive=True`` holds the lock from open to close (fastest; other
    writers wait); otherwise the lock is taken per commit. ``lock_timeout``
    bounds each wait for it (capped by the ambient deadline). Close the log
    (or use it as a context manager): buffered modes run a commit thread until
    then; logs still open at interpreter exit are flushed and closed.
    """

    def __init__(
        self,
        path: PathLike,
        *,
        durability: Durability = "fsync",
        group_size: int = 256,
        group_interval: float = 0.005,
        exclusive: bool = False,
        lock_timeout: float | None = 30.0,
        repair: bool = False,
    ) -> None:
        if durability not in _DURABILITIES:
            raise ValueError(f"durability must be one of {_DURABILITIES}, got {durability!r}")
        if (
            isinstance(group_size, bool)
            or not isinstance(group_size, int)
            or not 1 <= group_size <= 1_000_000
        ):
            raise ValueError(f"group_size must be an int in [1, 1000000], got {group_size!r}")
        if not isinstance(group_interval, int | float) or not 0 < group_interval <= 60:
            raise ValueError(f"group_interval must be in (0, 60] seconds, got {group_interval!r}")
        self.path = os.fspath(path)
        self.durability: Durability = durability
        self.group_size = group_size
        self.group_interval = float(group_interval)
        self.exclusive = exclusive
        self.repair = repair
        self.recovery: list[RecoveryReport] = []
        """Every torn tail or corrupt end this log truncated, oldest first."""
        self._buffered = durability != "fsync"
        self._lock = FileLock(self.path + ".lock", timeout=lock_timeout)
        self._io = threading.Lock()  # serialises commits, in order
        self._cond = threading.Condition(threading.Lock())  # guards the pending buffer
        self._pending: list[tuple[float, str]] = []
        self._pending_since = 0.0
        self._failed: BaseException | None = None
        self._closed = False
        self._end = -1
        self._last_seq = 0
        self._timer: threading.Thread | None = None
        directory = os.path.dirname(os.path.abspath(self.path))
        ensure_dir(directory)
        existed = os.path.exists(self.path)
        self._fd = os.open(self.path, _OPEN_FLAGS, 0o666)
        try:
            if not existed:
                fsync_dir(directory)
            with self._lock:
                self._catch_up()
            if exclusive:
                self._lock.acquire()
        except BaseException:
            os.close(self._fd)
            raise
        if self._buffered:
            self._timer = threading.Thread(target=_run_timer, args=(weakref.ref(self),), daemon=True)
            self._timer.name = f"rel-checkpoint group commit {os.path.basename(self.path)}"
            self._timer.start()
            _OPEN_LOGS.add(self)

    # -- appending -------------------------------------------------------------
    def append(self, payload: Any) -> int | None:
        """Append one event (any JSON value); return its seq once written, or None while buffered.

        In fsync mode the record is on disk when this returns. In group and none
        modes it is buffered (call :meth:`flush` to make it durable). Raises
        ``TypeError``/``ValueError`` for payloads JSON cannot hold (nothing is
        written), :class:`rel_io.FileWriteError` when the write fails and
        :class:`EventLogFailedError` once a sync has failed.
        """
        item = (time.time(), _dumps(payload))
        if not self._buffered:
            with self._io:
                self._check_usable()
                return self._write([item])
        with self._cond:
            self._check_usable()
            self._pending.append(item)
            count = len(self._pending)
            if count == 1:
                self._pending_since = time.monotonic()
                self._cond.notify()
        if count >= self.group_size:
            self._commit_pending()
        return None

    def append_many(self, payloads: Iterable[Any]) -> int | None:
        """Append several events in one write (and one sync); return the last seq as :meth:`append` does."""
        now = time.time()
        items = [(now, _dumps(p)) for p in payloads]
        if not items:
            return None if self._buffered else self._last_seq
        if not self._buffered:
            with self._io:
                self._check_usable()
                return self._write(items)
        with self._cond:
            self._check_usable()
            if not self._pending:
                self._pending_since = time.monotonic()
                self._cond.notify()
            self._pending.extend(items)
            count = len(self._pending)
        if count >= self.group_size:
            self._commit_pending()
        return None

    def flush(self) -> int:
        """Write (and, except in none mode, sync) every buffered event; return the last seq written.

        Returns once the records are durable. Raises :class:`EventLogFailedError`
        if an earlier background commit failed.
        """
        if self._buffered:
            self._commit_pending()
        with self._cond:
            self._check_usable()
        return self._last_seq

    @property
    def last_seq(self) -> int:
        """The sequence number of the last record this log wrote or saw in the file."""
        return self._last_seq

    # -- reading ---------------------------------------------------------------
    def replay(self, from_seq: int = 1, *, skip_corrupt: bool = False) -> Iterator[Event]:
        """Stream the events with ``seq >= from_seq`` in order, after writing any buffered ones.

        See :func:`replay_events` for the handling of torn tails and corruption.
        """
        if self._buffered and not self._closed:
            self._commit_pending()
        return read_events(self.path, from_seq, skip_corrupt=skip_corrupt)

    # -- lifecycle ---------------------------------------------------------------
    def close(self) -> None:
        """Flush buffered events, stop the group-commit thread and release the file. Idempotent."""
        if self._closed:
            return
        try:
            if self._buffered and self._failed is None:
                self._commit_pending()
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()
            if self._timer is not None and self._timer is not threading.current_thread():
                self._timer.join()
            _OPEN_LOGS.discard(self)
            with self._io:
                if self.exclusive and self._lock.is_locked:
                    self._lock.release()
                os.close(self._fd)

    def __enter__(self) -> EventLog:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- async variants ----------------------------------------------------------
    async def aappend(self, payload: Any) -> int | None:
        """:meth:`append` without blocking the event loop (file work runs in a thread)."""
        return await asyncio.to_thread(self.append, payload)

    async def aappend_many(self, payloads: Iterable[Any]) -> int | None:
        """:meth:`append_many` without blocking the event loop."""
        items = list(payloads)
        return await asyncio.to_thread(self.append_many, items)

    async def aflush(self) -> int:
        """:meth:`flush` without blocking the event loop."""
        return await asyncio.to_thread(self.flush)

    async def __aenter__(self) -> EventLog:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.close)

    def __repr__(self) -> str:
        return f"EventLog({self.path!r}, durability={self.durability!r}, last_seq={self._last_seq})"

    # -- internals -----------------------------------------------------------------
    def _check_usable(self) -> None:
        if self._closed:
            raise EventLogClosedError(
                f"event log {self.path!r} is closed; open a new EventLog", path=self.path
            )
        if self._failed is not None:
            raise EventLogFailedError(
                f"event log {self.path!r} refused the append: an earlier write or sync failed "
                f"({type(self._failed).__name__}: {self._failed}); reopen the log to go on",
                path=self.path,
            ) from self._failed

    def _commit_pending(self) -> None:
        with self._io:
            with self._cond:
                items, self._pending = self._pending, []
                if self._failed is not None:
                    self._check_usable()
            if items:
                try:
                    self._write(items)
                except LockTimeoutError:
                    with self._cond:  # nothing was written: keep the group for the next commit
                        self._pending[:0] = items
                    raise
                except BaseException as exc:
                    with self._cond:
                        self._failed = self._failed or exc
                    raise

    def _catch_up(self) -> None:
        """With the lock held: learn what others appended, truncating a torn tail they left."""
        size = os.fstat(self._fd).st_size
        if size != self._end:
            tail, found = recover_tail(self._fd, self.path, size, repair=self.repair)
            if found is not None:
                self.recovery.append(found)
            self._end, self._last_seq = tail.end, tail.last_seq

    def _write(self, items: list[tuple[float, str]]) -> int:
        """With ``self._io`` held: frame, write and (per mode) sync ``items`` under the file lock."""
        tracing = tracing_enabled()
        with checkpoint_span("checkpoint.eventlog.append", self.path) if tracing else _NO_SPAN as span:
            if not self.exclusive:
                self._lock.acquire()
            try:
                self._catch_up()
                first = self._last_seq + 1
                data = b"".join([encode_record(first + i, ts, pj) for i, (ts, pj) in enumerate(items)])
                last = first + len(items) - 1
                self._write_all(data)
                if self.durability != "none":
                    self._sync(len(data))
                self._end += len(data)
                self._last_seq = last
            finally:
                if not self.exclusive:
                    self._lock.release()
            if tracing:
                span.set_attribute(CHECKPOINT_EVENTS, len(items))
                span.set_attribute(CHECKPOINT_BYTES, len(data))
            return last

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        written = 0
        try:
            while written < len(data):
                written += os.write(self._fd, view[written:])
        except OSError as exc:
            self._truncate_back()
            err = FileWriteError(
                f"could not append to event log {self.path!r}: {exc.strerror or exc}; nothing was "
                "recorded (a full disk or a quota is the usual cause: free space and retry)",
                path=self.path,
                operation="eventlog.append",
                errno=exc.errno,
            )
            report("eventlog.append", err, self.path)
            raise err from exc

    def _sync(self, nbytes: int) -> None:
        try:
            sync_fd(self._fd)
        except OSError as exc:
            # Never retry a failed sync: the kernel may have dropped the pages already.
            self._truncate_back()
            err = EventLogFailedError(
                f"could not sync event log {self.path!r} ({exc.strerror or exc}); the last "
                f"{nbytes} bytes are not durable and were removed; reopen the log to go on",
                path=self.path,
            )
            with self._cond:
                self._failed = err
            report("eventlog.sync", err, self.path)
            raise err from exc

    def _truncate_back(self) -> None:
        try:
            os.ftruncate(self._fd, self._end)
        except OSError as exc:
            report("eventlog.rollback", exc, self.path)


class _NoSpan:
    def __enter__(self) -> Any:
        return None

    def __exit__(self, *args: object) -> None:
        return None


_NO_SPAN = _NoSpan()
_OPEN_LOGS: weakref.WeakSet[EventLog] = weakref.WeakSet()


def _run_timer(ref: weakref.ReferenceType[EventLog]) -> None:
    """Commit a group ``group_interval`` after its first append, until the log closes."""
    log = ref()
    if log is None:
        return
    cond = log._cond
    del log
    while True:
        with cond:
            log = ref()
            if log is None or (log._closed and not log._pending):
                return
            while not log._pending and not log._closed:
                cond.wait()
            if log._closed:
                return
            while log._pending and not log._closed:
                remaining = log._pending_since + log.group_interval - time.monotonic()
                if remaining <= 0:
                    break
                cond.wait(remaining)
            if log._closed or not log._pending:
                continue
        try:
            log._commit_pending()
        except BaseException as exc:  # stored in _failed; the next append or flush raises it
            report("eventlog.group_commit", exc, log.path)
        del log


@atexit.register
def _flush_open_logs() -> None:
    for log in list(_OPEN_LOGS):
        try:
            log.close()
        except Exception as exc:
            report("eventlog.close", exc, log.path)
