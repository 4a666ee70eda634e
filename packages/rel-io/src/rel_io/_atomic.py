"""Atomic, durable file replacement: the old content or the new, never a mix.

The sequence: create a temp file in the target's directory (exclusive
create, so two writers never share one), write everything, fsync it, rename
it over the target, fsync the directory. A crash before the rename leaves the
old file and a stray temp (see :func:`cleanup_stale_temps`); after it, the new
file. Any failure, including ``KeyboardInterrupt``, removes the temp.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import json
import os
import re
import stat
import threading
import time
from collections.abc import Callable
from typing import Any

from rel_io._durable import _CAN_FSYNC_DIR, _FULLFSYNC, _O_DIRECTORY, fsync_dir, fsync_fd
from rel_io._errors import DirectoryOperationError, FileWriteError, RelIOError, error_class, from_os_error
from rel_io._telemetry import io_span, report
from rel_io._transient import _ABANDONED, bounded, check_abandoned, check_retry_args
from rel_telemetry import get_deadline, tracing_enabled

PathLike = str | os.PathLike[str]

TEMP_PATTERN = re.compile(r"^\..+\.rel-[0-9a-f]{12}\.tmp$", re.DOTALL)
"""Names of rel-io's temp files: ``.<target>.rel-<12 hex>.tmp``."""

_MAX_NAME_IN_TEMP = 200  # bytes: keeps temp names under the usual 255-byte limit
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


_S_ISLNK, _S_ISDIR = stat.S_ISLNK, stat.S_ISDIR
_PLAIN_SEP = os.sep == "/" and os.altsep is None
_DIR_FLAGS = os.O_RDONLY | _O_DIRECTORY


class _FsyncFailed(OSError):
    """Marks an fsync failure: the write fails and is never retried."""


def _new_name_source() -> None:
    # A random per-process prefix: a child of a fork never replays its parent's names.
    global _NAME_PREFIX
    _NAME_PREFIX = os.urandom(3).hex()


_NAME_PREFIX = ""
_new_name_source()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_name_source)
_THREAD_SLOTS = itertools.count(int.from_bytes(os.urandom(3), "big"))
_THREAD = threading.local()


def temp_name_for(name: str, *, random: bool = False) -> str:
    """The temp file name for target file ``name`` (matches TEMP_PATTERN).

    A thread reuses one name per target (random per-process prefix, a number
    per thread): the kernel then finds that name cached, instead of
    allocating a new directory-cache entry for every write. Writers in other
    threads and processes use other names; a clash (a nested write of the same
    target, a stale temp) fails the exclusive create, and the retry passes
    ``random=True`` for a name drawn from the OS.
    """
    short = (
        name if len(name) <= _MAX_NAME_IN_TEMP // 4 else os.fsdecode(os.fsencode(name)[:_MAX_NAME_IN_TEMP])
    )
    if random:
        return f".{short}.rel-{os.urandom(6).hex()}.tmp"
    try:
        slot: int = _THREAD.slot
    except AttributeError:
        slot = _THREAD.slot = next(_THREAD_SLOTS) & 0xFFFFFF
    return f".{short}.rel-{_NAME_PREFIX}{slot:06x}.tmp"


def resolve_target(
    path: PathLike, operation: str = "atomic_write", base: type[RelIOError] = FileWriteError
) -> tuple[str, os.stat_result | None]:
    """Return the file a write to ``path`` replaces (through symlinks) and its stat, if it exists.

    A path that cannot be examined (a parent that is a file, a directory we
    may not search) raises ``base`` (:class:`FileWriteError` by default).
    """
    target = os.fspath(path)
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return target, None
    except OSError as exc:
        raise from_os_error(base, operation, target, exc) from exc
    if _S_ISLNK(st.st_mode):
        return _follow_link(target, operation, base)
    return target, st


def _follow_link(target: str, operation: str, base: type[RelIOError]) -> tuple[str, os.stat_result | None]:
    target = os.path.realpath(target)
    try:
        return target, os.stat(target)
    except FileNotFoundError:
        return target, None  # a dangling link: create the file it names
    except OSError as exc:
        raise from_os_error(base, operation, target, exc) from exc


def _is_a_directory(operation: str, target: str) -> FileWriteError:
    cls = error_class(FileWriteError, errno.EISDIR)
    return cls(
        f"{operation} failed for {target!r}: the path is a directory; pass a file path",
        path=target,
        operation=operation,
        errno=errno.EISDIR,
    )


def _open_temp(directory: str, name: str) -> tuple[int, str]:
    for attempt in range(16):
        tmp = os.path.join(directory, temp_name_for(name, random=attempt > 0))
        try:
            return os.open(tmp, _OPEN_FLAGS, 0o666), tmp  # 0666 less the umask, as open() gives
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a unique temp file in {directory!r}")


def _apply_mode(fd: int, existing: os.stat_result | None, mode: int | None) -> None:
    if mode is None and existing is None:
        return  # a new file: open() already gave it 0666 less the umask
    created = os.fstat(fd)
    wanted = mode if mode is not None else stat.S_IMODE(existing.st_mode)  # type: ignore[union-attr]
    if stat.S_IMODE(created.st_mode) != wanted:
        # Only when needed: a mode change is one more inode update for the journal to sync.
        os.fchmod(fd, wanted)
    if existing is not None and (existing.st_uid, existing.st_gid) != (created.st_uid, created.st_gid):
        with contextlib.suppress(PermissionError):  # only root may give a file away
            os.fchown(fd, existing.st_uid, existing.st_gid)


def _write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    if isinstance(data, bytes | bytearray):  # one write almost always takes it all: no view needed
        written = os.write(fd, data)
        if written == len(data):
            return
        view = memoryview(data)[written:]
    else:
        view = memoryview(data).cast("B")
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _discard(fd: int | None, tmp: str) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
    with contextlib.suppress(OSError):  # already gone, or the directory became unwritable
        os.unlink(tmp)


def _wrap(exc: BaseException, operation: str, target: str, *, replaced: bool) -> BaseException:
    if not isinstance(exc, OSError) or isinstance(exc, RelIOError):
        return exc
    err = from_os_error(FileWriteError, operation, target, exc)
    if isinstance(exc, _FsyncFailed):
        err.fsync_failed = True
        if replaced:
            err.message += " (the new content is in place but may not be durable)"
    return err


class PendingReplace:
    """A temp file being written that will replace ``target`` on :meth:`commit` (for streaming writes)."""

    __slots__ = ("directory", "fd", "operation", "target", "tmp")

    def __init__(self, path: PathLike, mode: int | None, operation: str) -> None:
        check_abandoned()
        target, existing = resolve_target(path, operation)
        self.target = target
        self.operation = operation
        if existing is not None and _S_ISDIR(existing.st_mode):
            raise _is_a_directory(operation, target)
        directory, name = os.path.split(target)
        self.directory = directory or "."
        try:
            self.fd, self.tmp = _open_temp(self.directory, name)
        except OSError as exc:
            raise from_os_error(FileWriteError, operation, target, exc) from exc
        try:
            _apply_mode(self.fd, existing, mode)
        except BaseException as exc:
            self.abort()
            raise self._wrap(exc, replaced=False) from exc

    def commit(self, durable: bool, *, closed: bool = False) -> None:
        """fsync, close, rename over the target, fsync the directory; abort on any failure."""
        replaced = False
        try:
            try:
                if durable:
                    try:
                        fsync_fd(self.fd)
                    except OSError as exc:
                        raise _FsyncFailed(exc.errno, exc.strerror) from exc
            finally:
                if not closed:
                    closed = True
                    os.close(self.fd)
            check_abandoned()  # a write its caller gave up on must not land later
            os.replace(self.tmp, self.target)
            replaced = True
            if durable:
                try:
                    fsync_dir(self.directory)
                except OSError as exc:
                    raise _FsyncFailed(exc.errno, exc.strerror) from exc
        except BaseException as exc:
            if not replaced:
                self.abort(closed=closed)
            raise self._wrap(exc, replaced=replaced) from exc

    def abort(self, *, closed: bool = False) -> None:
        """Close and remove the temp; the target is untouched."""
        _discard(None if closed else self.fd, self.tmp)

    def _wrap(self, exc: BaseException, *, replaced: bool) -> BaseException:
        return _wrap(exc, self.operation, self.target, replaced=replaced)


def replace_durably(
    path: PathLike,
    data: bytes | bytearray | memoryview,
    *,
    durable: bool = True,
    mode: int | None = None,
    operation: str = "atomic_write",
) -> str:
    """Write ``data`` into a fresh temp beside ``path``, then swap it in; return the target.

    Raises :class:`FileWriteError` (also the builtin of its errno) on any OS
    failure; the temp is removed and ``path`` untouched unless the rename happened.
    """
    # PendingReplace's steps, written out in one function on purpose: the
    # process wakes from each fsync with cold caches (other processes ran
    # meanwhile), and every further function or module the write touches
    # then costs a measurable share of a small durable write.
    abandoned = _ABANDONED.get()
    if abandoned is not None and abandoned.is_set():
        check_abandoned()
    target = os.fspath(path)
    try:
        existing: os.stat_result | None = os.lstat(target)
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise from_os_error(FileWriteError, operation, target, exc) from exc
    if existing is not None:
        if _S_ISLNK(existing.st_mode):
            target, existing = _follow_link(target, operation, FileWriteError)
        if existing is not None and _S_ISDIR(existing.st_mode):
            raise _is_a_directory(operation, target)
    if _PLAIN_SEP:  # POSIX paths: string operations instead of posixpath calls
        head, sep, name = target.rpartition("/")
        directory = head or sep or "."
        slot = getattr(_THREAD, "slot", None)
        short = name if slot is not None and len(name) <= _MAX_NAME_IN_TEMP // 4 else ""
    else:  # pragma: no cover - Windows
        directory, name = os.path.split(target)
        directory = directory or "."
        slot = short = None
    try:
        if short:
            tmp = f"{head}{sep}.{short}.rel-{_NAME_PREFIX}{slot:06x}.tmp"
            try:
                fd = os.open(tmp, _OPEN_FLAGS, 0o666)
            except FileExistsError:
                fd, tmp = _open_temp(directory, name)
        else:
            fd, tmp = _open_temp(directory, name)
    except OSError as exc:
        raise from_os_error(FileWriteError, operation, target, exc) from exc
    stage = 0  # 0: temp open, 1: temp closed, 2: renamed over the target
    try:
        if existing is not None or mode is not None:
            _apply_mode(fd, existing, mode)
        if isinstance(data, bytes):
            written = os.write(fd, data)  # the usual case: one write takes it all
            if written != len(data):
                _write_all(fd, memoryview(data)[written:])
        else:
            _write_all(fd, data)
        if durable:
            try:
                if _FULLFSYNC is None:
                    os.fsync(fd)
                else:  # pragma: no cover - macOS
                    fsync_fd(fd)
            except OSError as exc:
                raise _FsyncFailed(exc.errno, exc.strerror) from exc
        stage = 1
        os.close(fd)
        if abandoned is not None and abandoned.is_set():
            check_abandoned()  # a write its caller gave up on must not land later
        os.replace(tmp, target)
        stage = 2
        if durable and _CAN_FSYNC_DIR:
            try:
                dfd = os.open(directory, _DIR_FLAGS)
                try:
                    if _FULLFSYNC is None:
                        os.fsync(dfd)
                    else:  # pragma: no cover - macOS
                        fsync_fd(dfd)
                finally:
                    os.close(dfd)
            except OSError as exc:
                raise _FsyncFailed(exc.errno, exc.strerror) from exc
    except BaseException as exc:
        if stage < 2:
            _discard(fd if stage == 0 else None, tmp)
        raise _wrap(exc, operation, target, replaced=stage == 2) from exc
    return target


def atomic_write_bytes(
    path: PathLike, data: bytes | bytearray | memoryview, *, durable: bool = True, mode: int | None = None
) -> None:
    """Replace ``path`` with ``data`` atomically and (unless ``durable=False``) durably.

    A crash at any instant leaves the old or the new content. A new file gets
    0666 less the umask, an existing one keeps its mode (``mode=`` overrides);
    a symlink keeps pointing at the replaced file. Raises :class:`FileWriteError`;
    the old content is then intact and no temp file is left. Under an ambient
    rel deadline, raises :class:`IOTimeoutError` when it passes first; the
    abandoned write then removes its temp instead of landing later (unless
    it had already reached the rename).
    """
    if get_deadline() is None and not tracing_enabled():  # the common case, kept short
        try:
            replace_durably(path, data, durable=durable, mode=mode)
        except Exception as exc:
            report("atomic_write", exc, path)
            raise
        return
    with io_span("atomic_write", path):
        try:
            bounded(
                lambda: replace_durably(path, data, durable=durable, mode=mode), None, "atomic_write", path
            )
        except Exception as exc:
            report("atomic_write", exc, path)
            raise


def atomic_write_text(
    path: PathLike,
    text: str,
    *,
    encoding: str = "utf-8",
    durable: bool = True,
    mode: int | None = None,
) -> None:
    """Replace ``path`` with ``text`` encoded as ``encoding``; see :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode(encoding), durable=durable, mode=mode)


def dumps_json(data: Any, indent: int | None, sort_keys: bool, default: Callable[[Any], Any] | None) -> bytes:
    """Serialise ``data`` the way every rel-io JSON write does (UTF-8, trailing newline)."""
    text = json.dumps(data, indent=indent, sort_keys=sort_keys, ensure_ascii=False, default=default)
    return (text + "\n").encode("utf-8")


def atomic_write_json(
    path: PathLike,
    data: Any,
    *,
    indent: int | None = 2,
    sort_keys: bool = False,
    default: Callable[[Any], Any] | None = None,
    durable: bool = True,
    mode: int | None = None,
) -> None:
    """Serialise ``data`` as UTF-8 JSON and replace ``path`` with it atomically.

    Raises ``TypeError``/``ValueError`` for data JSON cannot hold (before any
    file is touched) and :class:`FileWriteError` as :func:`atomic_write_bytes`.
    """
    try:
        payload = dumps_json(data, indent, sort_keys, default)
    except (TypeError, ValueError) as exc:
        report("atomic_write", exc, path)
        raise
    atomic_write_bytes(path, payload, durable=durable, mode=mode)


def cleanup_stale_temps(
    directory: PathLike, *, older_than: float = 3600.0, timeout: float | None = None
) -> list[str]:
    """Remove rel-io temp files in ``directory`` last modified more than ``older_than`` s ago.

    Such temps are left only by processes killed mid-write. Returns the removed
    paths. Files that vanish or cannot be removed meanwhile are skipped. Raises
    :class:`DirectoryOperationError` when ``directory`` cannot be listed and
    :class:`IOTimeoutError` after ``timeout`` s (capped by the ambient deadline).
    """
    if older_than < 0:
        raise ValueError(f"older_than must be >= 0 seconds, got {older_than!r}")
    check_retry_args(0, timeout)
    where = os.fspath(directory)
    try:
        return bounded(lambda: _remove_stale(where, older_than), timeout, "cleanup_stale_temps", where)
    except Exception as exc:
        report("cleanup_stale_temps", exc, where)
        raise


def _remove_stale(directory: str, older_than: float) -> list[str]:
    cutoff = time.time() - older_than
    removed: list[str] = []
    try:
        with os.scandir(directory) as it:
            entries = list(it)
    except OSError as exc:
        raise from_os_error(DirectoryOperationError, "cleanup_stale_temps", directory, exc) from exc
    for entry in entries:
        if not TEMP_PATTERN.match(entry.name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode) or st.st_mtime > cutoff:
                continue
            os.unlink(entry.path)
        except OSError:
            continue
        removed.append(entry.path)
    return sorted(removed)


async def async_atomic_write_bytes(
    path: PathLike, data: bytes | bytearray | memoryview, *, durable: bool = True, mode: int | None = None
) -> None:
    """:func:`atomic_write_bytes` in a worker thread, off the event loop."""
    await asyncio.to_thread(atomic_write_bytes, path, data, durable=durable, mode=mode)


async def async_atomic_write_text(
    path: PathLike, text: str, *, encoding: str = "utf-8", durable: bool = True, mode: int | None = None
) -> None:
    """:func:`atomic_write_text` in a worker thread, off the event loop."""
    await asyncio.to_thread(atomic_write_text, path, text, encoding=encoding, durable=durable, mode=mode)


async def async_atomic_write_json(
    path: PathLike,
    data: Any,
    *,
    indent: int | None = 2,
    sort_keys: bool = False,
    default: Callable[[Any], Any] | None = None,
    durable: bool = True,
    mode: int | None = None,
) -> None:
    """:func:`atomic_write_json` in a worker thread, off the event loop."""
    await asyncio.to_thread(
        atomic_write_json,
        path,
        data,
        indent=indent,
        sort_keys=sort_keys,
        default=default,
        durable=durable,
        mode=mode,
    )


async def async_cleanup_stale_temps(
    directory: PathLike,
    *,
    older_than: float = 3600.0,
    timeout: float | None = None,  # noqa: ASYNC109 - bounds the blocking I/O in the worker thread
) -> list[str]:
    """:func:`cleanup_stale_temps` in a worker thread, off the event loop."""
    return await asyncio.to_thread(cleanup_stale_temps, directory, older_than=older_than, timeout=timeout)
