"""Idempotent writes: content hashes, "would this write change anything?", stable keys."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os

from rel_io._atomic import PathLike, replace_durably, resolve_target
from rel_io._dirs import make_dirs
from rel_io._errors import FileReadError, FileWriteError, IOTimeoutError
from rel_io._files import load_bytes
from rel_io._telemetry import io_span, report
from rel_io._transient import bounded, check_retry_args


def _as_bytes(content: str | bytes, encoding: str = "utf-8") -> bytes:
    return content.encode(encoding) if isinstance(content, str) else bytes(content)


def compute_content_hash(content: str | bytes) -> str:
    """Return the SHA-256 hex digest of ``content`` (text is hashed as UTF-8)."""
    return hashlib.sha256(_as_bytes(content)).hexdigest()


def _same_content(path: PathLike, data: bytes, operation: str) -> bool:
    target, st = resolve_target(path, operation, FileReadError)
    if st is None:
        return False
    if st.st_size != len(data):  # the cheap check first: most changes change the size
        return False
    try:
        return load_bytes(target, operation, len(data)) == data
    except FileReadError as exc:
        if isinstance(exc, FileNotFoundError):
            return False
        raise


def is_idempotent_write(
    path: PathLike, content: str | bytes, *, encoding: str = "utf-8", timeout: float | None = None
) -> bool:
    """True when ``path`` already holds exactly ``content``, so writing it would change nothing.

    A missing file gives False. Raises :class:`FileReadError` if ``path``
    exists but cannot be read, :class:`IOTimeoutError` after ``timeout`` s
    (capped by the ambient deadline).
    """
    check_retry_args(0, timeout)
    data = _as_bytes(content, encoding)
    try:
        return bounded(
            lambda: _same_content(path, data, "is_idempotent_write"), timeout, "is_idempotent_write", path
        )
    except Exception as exc:
        report("is_idempotent_write", exc, path)
        raise


def write_if_changed(
    path: PathLike,
    content: str | bytes,
    *,
    encoding: str = "utf-8",
    durable: bool = True,
    mode: int | None = None,
    timeout: float | None = None,
) -> bool:
    """Write ``content`` to ``path`` atomically unless it already holds it; return whether it wrote.

    Unchanged content is never rewritten (the file's mtime stays). Missing
    parent directories are created (and, when ``durable``, synced into their
    parents too). Raises :class:`FileReadError` if the existing file cannot be
    compared, :class:`FileWriteError` if it cannot be written,
    :class:`IOTimeoutError` after ``timeout`` s (capped by the ambient deadline;
    the abandoned write is dropped, not landed later, unless it had already
    reached the rename).
    """
    check_retry_args(0, timeout)
    data = _as_bytes(content, encoding)

    def write() -> bool:
        if _same_content(path, data, "write_if_changed"):
            return False
        parent = os.path.dirname(os.fspath(path))
        if parent and not os.path.isdir(parent):
            make_dirs(parent, durable=durable)
        replace_durably(path, data, durable=durable, mode=mode, operation="write_if_changed")
        return True

    with io_span("write_if_changed", path):
        try:
            return bounded(write, timeout, "write_if_changed", path)
        except Exception as exc:
            report("write_if_changed", exc, path)
            if isinstance(exc, OSError) and not isinstance(
                exc, FileReadError | FileWriteError | IOTimeoutError
            ):
                raise FileWriteError(
                    f"write_if_changed failed for {os.fspath(path)!r}: {exc}",
                    path=path,
                    operation="write_if_changed",
                    errno=exc.errno or errno.EIO,
                ) from exc
            raise


def generate_unique_key(*parts: object) -> str:
    """Return a stable key (SHA-256 hex) for ``parts``: same parts, same key; any change, another.

    Parts are converted with ``str`` and length-prefixed, so ``("ab", "c")``
    and ``("a", "bc")`` differ. No parts give the key of the empty sequence.
    """
    digest = hashlib.sha256()
    for part in parts:
        encoded = str(part).encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    return digest.hexdigest()


async def async_is_idempotent_write(
    path: PathLike,
    content: str | bytes,
    *,
    encoding: str = "utf-8",
    timeout: float | None = None,  # noqa: ASYNC109 - bounds the blocking I/O in the worker thread
) -> bool:
    """:func:`is_idempotent_write` in a worker thread, off the event loop."""
    return await asyncio.to_thread(is_idempotent_write, path, content, encoding=encoding, timeout=timeout)


async def async_write_if_changed(
    path: PathLike,
    content: str | bytes,
    *,
    encoding: str = "utf-8",
    durable: bool = True,
    mode: int | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - bounds the blocking I/O in the worker thread
) -> bool:
    """:func:`write_if_changed` in a worker thread, off the event loop."""
    return await asyncio.to_thread(
        write_if_changed, path, content, encoding=encoding, durable=durable, mode=mode, timeout=timeout
    )
