"""JSON files shared between processes: read and read-modify-write under a file lock.

Every function here takes the lock ``<path>.lock`` (see ``lock_path_for``), so
an :func:`update_json` is never lost to a concurrent one in another process.
Under an ambient rel deadline the wait for the lock is capped by it, and the
read and write under the lock run in a worker thread the caller stops waiting
for when the deadline passes (:class:`IOTimeoutError`). The lock is then held
until that thread returns, and its write is dropped, never landing over a
later update.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

from rel_io._atomic import PathLike, dumps_json, replace_durably
from rel_io._errors import FileReadError
from rel_io._files import load_bytes, parse_json
from rel_io._lock import FileLock, lock_path_for
from rel_io._telemetry import io_span, report
from rel_io._transient import bounded

_MISSING: Any = object()


def atomic_read_json(path: PathLike, default: Any = _MISSING, *, lock_timeout: float | None = 30.0) -> Any:
    """Return the JSON content of ``path``, read while holding its lock.

    A missing file gives ``default`` when one is passed; otherwise it raises
    :class:`FileReadError` (a ``FileNotFoundError``). Invalid content raises
    :class:`CorruptFileError`; waiting over ``lock_timeout`` s, :class:`LockTimeoutError`;
    outlasting the ambient deadline, :class:`IOTimeoutError`.
    """
    with io_span("atomic_read_json", path):
        try:
            lock = FileLock(lock_path_for(path), timeout=lock_timeout).acquire()
            return bounded(
                lambda: _load(path, default, "atomic_read_json"),
                None,
                "atomic_read_json",
                path,
                release=lock.release,
            )
        except Exception as exc:
            report("atomic_read_json", exc, path)
            raise


def _load(path: PathLike, default: Any, operation: str) -> Any:
    try:
        return parse_json(load_bytes(path, operation, None), path, operation)
    except FileReadError as exc:
        if isinstance(exc, FileNotFoundError) and default is not _MISSING:
            return copy.deepcopy(default)
        raise


def update_json(
    path: PathLike,
    fn: Callable[[Any], Any],
    default: Any = None,
    *,
    lock_timeout: float | None = 30.0,
    indent: int | None = 2,
    durable: bool = True,
) -> Any:
    """Atomically replace the JSON in ``path`` with ``fn(current)``; return the new value.

    Holds the lock ``<path>.lock`` across read, ``fn`` and durable write, so
    concurrent updates from any number of processes are serialised and none is
    lost. A missing file starts from a copy of ``default``. If ``fn`` returns
    None the (possibly mutated) current value is written. Raises
    :class:`CorruptFileError`, :class:`FileWriteError`, :class:`LockTimeoutError`,
    :class:`IOTimeoutError` (the ambient deadline passed; ``fn`` then runs in a
    worker thread) or whatever ``fn`` raises (the file is then unchanged).
    """

    def update() -> Any:
        current = _load(path, default, "update_json")  # a missing file gives a copy of default
        result = fn(current)
        new = current if result is None else result
        replace_durably(path, dumps_json(new, indent, False, None), durable=durable, operation="update_json")
        return new

    with io_span("update_json", path):
        try:
            lock = FileLock(lock_path_for(path), timeout=lock_timeout).acquire()
            return bounded(update, None, "update_json", path, release=lock.release)
        except Exception as exc:
            report("update_json", exc, path)
            raise


async def async_atomic_read_json(
    path: PathLike, default: Any = _MISSING, *, lock_timeout: float | None = 30.0
) -> Any:
    """:func:`atomic_read_json` in a worker thread, off the event loop."""
    return await asyncio.to_thread(atomic_read_json, path, default, lock_timeout=lock_timeout)


async def async_update_json(
    path: PathLike,
    fn: Callable[[Any], Any],
    default: Any = None,
    *,
    lock_timeout: float | None = 30.0,
    indent: int | None = 2,
    durable: bool = True,
) -> Any:
    """:func:`update_json` in a worker thread (``fn`` runs there too), off the event loop."""
    return await asyncio.to_thread(
        update_json, path, fn, default, lock_timeout=lock_timeout, indent=indent, durable=durable
    )
