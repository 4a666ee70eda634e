"""Directory listing, scanning and creation with typed errors; symlink loops are never followed."""

from __future__ import annotations

import asyncio
import errno
import os
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from rel_io._atomic import PathLike
from rel_io._durable import fsync_dir
from rel_io._errors import DirectoryOperationError, error_class, from_os_error
from rel_io._telemetry import io_span, report
from rel_io._transient import DEFAULT_MAX_RETRIES, bounded, check_retry_args, with_retries


def _run(operation: str, path: PathLike, fn: Any, timeout: float | None, max_retries: int) -> Any:
    check_retry_args(max_retries, timeout)
    with io_span(operation, path):
        try:
            return bounded(lambda: with_retries(fn, max_retries), timeout, operation, path)
        except Exception as exc:
            report(operation, exc, path)
            raise


def ensure_dir(path: PathLike, mode: int = 0o777, *, timeout: float | None = None) -> Path:
    """Create directory ``path`` and its missing parents (``mode`` less the umask); return it.

    An existing directory is fine. Raises :class:`DirectoryOperationError`
    when the path exists as something else or cannot be created, and
    :class:`IOTimeoutError` after ``timeout`` s (capped by the ambient deadline).
    """
    check_retry_args(0, timeout)
    where = os.fspath(path)
    with io_span("ensure_dir", where):
        try:
            bounded(lambda: make_dirs(where, mode), timeout, "ensure_dir", where)
        except Exception as exc:
            report("ensure_dir", exc, where)
            raise
    return Path(where)


def _missing_dirs(where: str) -> list[str]:
    """``where`` and each of its ancestors that does not exist yet, deepest first."""
    missing = []
    here = where
    while here and not os.path.isdir(here):
        missing.append(here)
        up = os.path.dirname(here)
        if up == here:
            break
        here = up
    return missing


def make_dirs(where: str, mode: int = 0o777, *, durable: bool = False) -> None:
    """``os.makedirs(exist_ok=True)`` with :class:`DirectoryOperationError` for failures.

    With ``durable``, the entry of every directory it created is synced into
    that directory's parent, so the new path survives a crash.
    """
    created = _missing_dirs(where) if durable else []
    try:
        os.makedirs(where, mode=mode, exist_ok=True)
        for new in created:
            fsync_dir(os.path.dirname(new) or ".")
    except FileExistsError as exc:  # exists, but not as a directory
        cls = error_class(DirectoryOperationError, errno.ENOTDIR)
        raise cls(
            f"ensure_dir failed for {where!r}: the path exists and is not a directory; "
            "remove it or choose another path",
            path=where,
            operation="ensure_dir",
            errno=errno.ENOTDIR,
        ) from exc
    except OSError as exc:
        raise from_os_error(DirectoryOperationError, "ensure_dir", where, exc) from exc


def _listdir(where: str) -> list[str]:
    try:
        return sorted(os.listdir(where))
    except OSError as exc:
        raise from_os_error(DirectoryOperationError, "list_dir", where, exc) from exc


def list_dir(
    path: PathLike, *, timeout: float | None = None, max_retries: int = DEFAULT_MAX_RETRIES
) -> list[str]:
    """Return the sorted entry names of directory ``path``.

    Transient errors are retried. Raises :class:`DirectoryOperationError`
    (also ``FileNotFoundError``, ``NotADirectoryError``... per errno) or
    :class:`IOTimeoutError` when the listing takes over ``timeout`` s.
    """
    where = os.fspath(path)
    return _run("list_dir", where, lambda: _listdir(where), timeout, max_retries)  # type: ignore[no-any-return]


def _matches(rel: str, pattern: str) -> bool:
    # A pattern matches the relative path or any of its tails, so "*.py" finds
    # "a/b.py" and "__pycache__/*" excludes "pkg/__pycache__/m.pyc".
    parts = rel.split("/")
    return any(fnmatchcase("/".join(parts[i:]), pattern) for i in range(len(parts)))


def _scan(
    root: str,
    *,
    recursive: bool,
    include: str | None,
    exclude: str | None,
    follow_symlinks: bool,
    include_dirs: bool,
) -> list[str]:
    found: list[str] = []
    visited: set[tuple[int, int]] = set()

    def walk(directory: str, rel_prefix: str) -> None:
        try:
            st = os.stat(directory)
            key = (st.st_dev, st.st_ino)
            if key in visited:  # a symlink loop or a second link to a scanned directory
                return
            visited.add(key)
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            raise from_os_error(DirectoryOperationError, "scan_dir", directory, exc) from exc
        for entry in entries:
            rel = rel_prefix + entry.name
            if exclude is not None and _matches(rel, exclude):
                continue
            try:
                is_dir = entry.is_dir()
                enter = is_dir and (follow_symlinks or not entry.is_symlink())
            except OSError:
                is_dir = enter = False
            if (not is_dir or include_dirs) and (include is None or _matches(rel, include)):
                found.append(entry.path)
            if enter and recursive:
                walk(entry.path, rel + "/")

    walk(root, "")
    return found


def scan_dir(
    path: PathLike,
    recursive: bool = False,
    include_pattern: str | None = None,
    exclude_pattern: str | None = None,
    *,
    follow_symlinks: bool = False,
    include_dirs: bool = False,
    timeout: float | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
) -> list[str]:
    """Return the paths of the files under ``path`` (``recursive`` descends), sorted per directory.

    ``include_pattern``/``exclude_pattern`` are shell patterns matched against
    the path relative to ``path`` or any tail of it (``"*.py"``,
    ``"__pycache__/*"``); an excluded directory is not entered. Symlinked
    directories are entered only with ``follow_symlinks=True``, and never twice
    (no loops). Raises :class:`DirectoryOperationError` or :class:`IOTimeoutError`.
    """
    where = os.fspath(path)
    return _run(  # type: ignore[no-any-return]
        "scan_dir",
        where,
        lambda: _scan(
            where,
            recursive=recursive,
            include=include_pattern,
            exclude=exclude_pattern,
            follow_symlinks=follow_symlinks,
            include_dirs=include_dirs,
        ),
        timeout,
        max_retries,
    )


async def async_list_dir(path: PathLike, **kwargs: Any) -> list[str]:
    """:func:`list_dir` in a worker thread, off the event loop."""
    return await asyncio.to_thread(list_dir, path, **kwargs)


async def async_scan_dir(path: PathLike, *args: Any, **kwargs: Any) -> list[str]:
    """:func:`scan_dir` in a worker thread, off the event loop."""
    return await asyncio.to_thread(scan_dir, path, *args, **kwargs)


async def async_ensure_dir(path: PathLike, mode: int = 0o777, **kwargs: Any) -> Path:
    """:func:`ensure_dir` in a worker thread, off the event loop."""
    return await asyncio.to_thread(ensure_dir, path, mode, **kwargs)
