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
import json
import os
import re
import stat
import time
from collections.abc import Callable
from typing import Any

from rel_io._durable import fsync_dir, fsync_fd
from rel_io._errors import FileWriteError, error_class, from_os_error
from rel_io._telemetry import io_span, report

PathLike = str | os.PathLike[str]

TEMP_PATTERN = re.compile(r"^\..+\.rel-[0-9a-f]{12}\.tmp$", re.DOTALL)
"""Names of rel-io's temp files: ``.<target>.rel-<12 hex>.tmp``."""

_MAX_NAME_IN_TEMP = 200  # bytes: keeps temp names under the usual 255-byte limit
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


class _FsyncFailed(OSError):
    """Marks an fsync failure: the write fails and is never retried."""


def temp_name_for(name: str) -> str:
    """A fresh temp file name for target file ``name`` (random, matches TEMP_PATTERN)."""
    short = (
        name if len(name) <= _MAX_NAME_IN_TEMP // 4 else os.fsdecode(os.fsencode(name)[:_MAX_NAME_IN_TEMP])
    )
    return f".{short}.rel-{os.urandom(6).hex()}.tmp"


def resolve_target(path: PathLike) -> tuple[str, os.stat_result | None]:
    """Return the file a write to ``path`` replaces (through symlinks) and its stat, if it exists."""
    target = os.fspath(path)
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return target, None
    if stat.S_ISLNK(st.st_mode):
        target = os.path.realpath(target)
        try:
            st = os.stat(target)
        except FileNotFoundError:
            return target, None  # a dangling link: create the file it names
    return target, st


def _open_temp(directory: str, name: str) -> tuple[int, str]:
    for _ in range(16):
        tmp = os.path.join(directory, temp_name_for(name))
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
    view = memoryview(data).cast("B")
    while view:
        written = os.write(fd, view)
        view = view[written:]


class PendingReplace:
    """A temp file being written that will replace ``target`` on :meth:`commit`."""

    __slots__ = ("directory", "fd", "operation", "target", "tmp")

    def __init__(self, path: PathLike, mode: int | None, operation: str) -> None:
        target, existing = resolve_target(path)
        self.target = target
        self.operation = operation
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            cls = error_class(FileWriteError, errno.EISDIR)
            raise cls(
                f"{operation} failed for {target!r}: the path is a directory; pass a file path",
                path=target,
                operation=operation,
                errno=errno.EISDIR,
            )
        self.directory = os.path.dirname(target) or "."
        try:
            self.fd, self.tmp = _open_temp(self.directory, os.path.basename(target))
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
        if not closed:
            with contextlib.suppress(OSError):
                os.close(self.fd)
        with contextlib.suppress(OSError):  # already gone, or the directory became unwritable
            os.unlink(self.tmp)

    def _wrap(self, exc: BaseException, *, replaced: bool) -> BaseException:
        if not isinstance(exc, OSError) or isinstance(exc, FileWriteError):
            return exc
        err = from_os_error(FileWriteError, self.operation, self.target, exc)
        if isinstance(exc, _FsyncFailed):
            err.fsync_failed = True
            if replaced:
                err.message += " (the new content is in place but may not be durable)"
        return err


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
    pending = PendingReplace(path, mode, operation)
    try:
        _write_all(pending.fd, data)
    except BaseException as exc:
        pending.abort()
        raise pending._wrap(exc, replaced=False) from exc
    pending.commit(durable)
    return pending.target


def atomic_write_bytes(
    path: PathLike, data: bytes | bytearray | memoryview, *, durable: bool = True, mode: int | None = None
) -> None:
    """Replace ``path`` with ``data`` atomically and (unless ``durable=False``) durably.

    A crash at any instant leaves the old or the new content. A new file gets
    0666 less the umask, an existing one keeps its mode (``mode=`` overrides);
    a symlink keeps pointing at the replaced file. Raises :class:`FileWriteError`;
    the old content is then intact and no temp file is left.
    """
    with io_span("atomic_write", path):
        try:
            replace_durably(path, data, durable=durable, mode=mode)
        except BaseException as exc:
            if isinstance(exc, Exception):
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


def cleanup_stale_temps(directory: PathLike, *, older_than: float = 3600.0) -> list[str]:
    """Remove rel-io temp files in ``directory`` last modified more than ``older_than`` s ago.

    Such temps are left only by processes killed mid-write. Returns the removed
    paths. Files that vanish or cannot be removed meanwhile are skipped.
    """
    if older_than < 0:
        raise ValueError(f"older_than must be >= 0 seconds, got {older_than!r}")
    cutoff = time.time() - older_than
    removed: list[str] = []
    with os.scandir(directory) as entries:
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
