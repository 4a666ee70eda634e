"""Whole-file reads and writes with typed errors, transient retries and time limits."""

from __future__ import annotations

import asyncio
import errno
import json
import os
from collections.abc import Callable
from typing import Any

from rel_io._atomic import PathLike, dumps_json, replace_durably
from rel_io._errors import CorruptFileError, FileReadError, error_class, from_os_error
from rel_io._telemetry import io_span, report
from rel_io._transient import DEFAULT_MAX_RETRIES, bounded, check_retry_args, with_retries


def _too_large(operation: str, path: str, size: int | None, max_bytes: int) -> FileReadError:
    found = f"{size} bytes" if size is not None else f"more than {max_bytes} bytes"
    cls = error_class(FileReadError, errno.EFBIG)
    return cls(
        f"{operation} refused {path!r}: it holds {found}, over max_bytes={max_bytes}; "
        "raise max_bytes= if the file is legitimately this large",
        path=path,
        operation=operation,
        errno=errno.EFBIG,
    )


def load_bytes(path: PathLike, operation: str, max_bytes: int | None) -> bytes:
    """Read all of ``path`` once (no retries); OS errors become :class:`FileReadError`."""
    where = os.fspath(path)
    try:
        with open(where, "rb") as fh:
            if max_bytes is None:
                return fh.read()
            size = os.fstat(fh.fileno()).st_size
            if size > max_bytes:
                raise _too_large(operation, where, size, max_bytes)
            data = fh.read(max_bytes + 1)
    except FileReadError:
        raise
    except OSError as exc:
        raise from_os_error(FileReadError, operation, where, exc) from exc
    if len(data) > max_bytes:  # the size was unknown (a pipe, /proc) or the file grew
        raise _too_large(operation, where, None, max_bytes)
    return data


def decode_text(data: bytes, path: PathLike, operation: str, encoding: str) -> str:
    """Decode ``data``; undecodable bytes raise :class:`CorruptFileError` with the byte offset."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        where = os.fspath(path)
        raise CorruptFileError(
            f"{operation} failed for {where!r}: not valid {encoding} at byte offset {exc.start} "
            f"({exc.reason}); the file is corrupt or in another encoding (pass encoding=)",
            path=where,
            operation=operation,
            offset=exc.start,
        ) from exc


def parse_json(data: bytes, path: PathLike, operation: str) -> Any:
    """Parse UTF-8 JSON; invalid content raises :class:`CorruptFileError` with line and column."""
    text = decode_text(data, path, operation, "utf-8-sig")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = os.fspath(path)
        what = "empty file" if not text.strip() else f"invalid JSON at line {exc.lineno} column {exc.colno}"
        raise CorruptFileError(
            f"{operation} failed for {where!r}: {what} ({exc.msg}); the file is corrupt or truncated: "
            "restore it from a backup or rewrite it",
            path=where,
            operation=operation,
            line=exc.lineno,
            column=exc.colno,
            offset=exc.pos,
        ) from exc


def _run(
    operation: str,
    path: PathLike,
    fn: Callable[[], Any],
    timeout: float | None,
    max_retries: int,
) -> Any:
    check_retry_args(max_retries, timeout)
    with io_span(operation, path):
        try:
            return bounded(lambda: with_retries(fn, max_retries), timeout, operation, path)
        except Exception as exc:
            report(operation, exc, path)
            raise


def read_bytes(
    path: PathLike,
    *,
    timeout: float | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    max_bytes: int | None = None,
) -> bytes:
    """Return the content of ``path`` as bytes.

    Transient OS errors are retried up to ``max_retries`` times. Raises
    :class:`FileReadError` (also ``FileNotFoundError``, ``PermissionError``...
    per errno), :class:`IOTimeoutError` after ``timeout`` s, and refuses files
    over ``max_bytes`` without reading them.
    """
    return _run(  # type: ignore[no-any-return]
        "read_file", path, lambda: load_bytes(path, "read_file", max_bytes), timeout, max_retries
    )


def read_file(
    path: PathLike,
    *,
    encoding: str = "utf-8",
    timeout: float | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    max_bytes: int | None = None,
) -> str:
    """Return the content of ``path`` as text.

    Raises as :func:`read_bytes`, and :class:`CorruptFileError` (with the byte
    offset) when the content is not valid ``encoding``.
    """

    def read() -> str:
        return decode_text(load_bytes(path, "read_file", max_bytes), path, "read_file", encoding)

    return _run("read_file", path, read, timeout, max_retries)  # type: ignore[no-any-return]


def read_json(
    path: PathLike,
    *,
    timeout: float | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    max_bytes: int | None = None,
) -> Any:
    """Return the parsed JSON content of ``path``.

    Raises as :func:`read_bytes`, and :class:`CorruptFileError` (with line and
    column) when the content is not valid UTF-8 JSON, truncated or empty.
    """
    return _run(
        "read_json",
        path,
        lambda: parse_json(load_bytes(path, "read_json", max_bytes), path, "read_json"),
        timeout,
        max_retries,
    )


def write_file(
    path: PathLike,
    content: str | bytes,
    *,
    encoding: str = "utf-8",
    durable: bool = True,
    mode: int | None = None,
    timeout: float | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
) -> bool:
    """Replace ``path`` with ``content`` atomically and durably; return True.

    Transient OS errors are retried (a failed fsync never is). Raises
    :class:`FileWriteError` (the old content is then intact) or
    :class:`IOTimeoutError` after ``timeout`` s (capped by the ambient
    deadline); the abandoned write then removes its temp instead of landing,
    unless it had already reached the rename.
    """
    data = content.encode(encoding) if isinstance(content, str) else bytes(content)
    _run(
        "write_file",
        path,
        lambda: replace_durably(path, data, durable=durable, mode=mode, operation="write_file"),
        timeout,
        max_retries,
    )
    return True


def write_json(
    path: PathLike,
    data: Any,
    *,
    indent: int | None = 2,
    sort_keys: bool = False,
    default: Callable[[Any], Any] | None = None,
    durable: bool = True,
    mode: int | None = None,
    timeout: float | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
) -> bool:
    """Serialise ``data`` as JSON and write it as :func:`write_file` does; return True.

    Data JSON cannot hold raises ``TypeError``/``ValueError`` before any file is touched.
    """
    try:
        payload = dumps_json(data, indent, sort_keys, default)
    except (TypeError, ValueError) as exc:
        report("write_json", exc, path)
        raise
    _run(
        "write_json",
        path,
        lambda: replace_durably(path, payload, durable=durable, mode=mode, operation="write_json"),
        timeout,
        max_retries,
    )
    return True


async def async_read_bytes(path: PathLike, **kwargs: Any) -> bytes:
    """:func:`read_bytes` in a worker thread, off the event loop."""
    return await asyncio.to_thread(read_bytes, path, **kwargs)


async def async_read_file(path: PathLike, **kwargs: Any) -> str:
    """:func:`read_file` in a worker thread, off the event loop."""
    return await asyncio.to_thread(read_file, path, **kwargs)


async def async_read_json(path: PathLike, **kwargs: Any) -> Any:
    """:func:`read_json` in a worker thread, off the event loop."""
    return await asyncio.to_thread(read_json, path, **kwargs)


async def async_write_file(path: PathLike, content: str | bytes, **kwargs: Any) -> bool:
    """:func:`write_file` in a worker thread, off the event loop."""
    return await asyncio.to_thread(write_file, path, content, **kwargs)


async def async_write_json(path: PathLike, data: Any, **kwargs: Any) -> bool:
    """:func:`write_json` in a worker thread, off the event loop."""
    return await asyncio.to_thread(write_json, path, data, **kwargs)
