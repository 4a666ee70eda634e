"""Reads that return a default instead of raising, for optional files and manifests."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from rel_io._atomic import PathLike
from rel_io._files import decode_text, load_bytes, parse_json
from rel_io._telemetry import report
from rel_io._transient import bounded, check_retry_args

T = TypeVar("T")
_log = logging.getLogger("rel_io")


def _safely(
    operation: str,
    path: PathLike,
    read: Callable[[], T],
    *,
    default: Any,
    context: str | None,
    raise_on_error: bool,
    timeout: float | None,
) -> Any:
    check_retry_args(0, timeout)  # a bad timeout is a configuration error, never swallowed
    try:
        return bounded(read, timeout, operation, path)
    except Exception as exc:
        label = f" [{context}]" if context else ""
        report(operation, exc, path, {"context": context} if context else None)
        if raise_on_error:
            raise
        _log.warning("%s%s: %s; using the default", operation, label, exc)
        return default


def safe_read_text(
    path: PathLike,
    default: str | None = None,
    *,
    context: str | None = None,
    raise_on_error: bool = False,
    encoding: str = "utf-8",
    max_bytes: int | None = None,
    timeout: float | None = None,
) -> str | None:
    """Return the text of ``path``, or ``default`` if it cannot be read or decoded.

    A failure is logged once (labelled with ``context``) and stored as an error
    report. ``raise_on_error=True`` raises the typed error instead
    (:class:`FileReadError`, :class:`CorruptFileError`, :class:`IOTimeoutError`
    when the read takes over ``timeout`` s or outlasts the ambient deadline).
    """
    return _safely(  # type: ignore[no-any-return]
        "safe_read_text",
        path,
        lambda: decode_text(load_bytes(path, "safe_read_text", max_bytes), path, "safe_read_text", encoding),
        default=default,
        context=context,
        raise_on_error=raise_on_error,
        timeout=timeout,
    )


def safe_read_json(
    path: PathLike,
    default: Any = None,
    *,
    context: str | None = None,
    raise_on_error: bool = False,
    max_bytes: int | None = None,
    timeout: float | None = None,
) -> Any:
    """Return the parsed JSON of ``path``, or ``default`` if it is missing, unreadable or invalid.

    Logs and reports a failure as :func:`safe_read_text`; ``raise_on_error=True``
    raises :class:`FileReadError` or :class:`CorruptFileError` instead.
    """
    return _safely(
        "safe_read_json",
        path,
        lambda: parse_json(load_bytes(path, "safe_read_json", max_bytes), path, "safe_read_json"),
        default=default,
        context=context,
        raise_on_error=raise_on_error,
        timeout=timeout,
    )


def safe_read_lines(
    path: PathLike,
    default: list[str] | None = None,
    *,
    context: str | None = None,
    raise_on_error: bool = False,
    skip_blank: bool = False,
    comment_prefix: str | None = None,
    strip: bool = False,
    encoding: str = "utf-8",
    max_bytes: int | None = None,
    timeout: float | None = None,
) -> list[str] | None:
    """Return the lines of ``path`` without their line endings, or ``default`` on failure.

    For manifests: ``skip_blank`` drops empty lines, ``comment_prefix="#"``
    drops comment lines, ``strip`` trims surrounding whitespace. Failures are
    handled as in :func:`safe_read_text`.
    """

    def read() -> list[str]:
        text = decode_text(load_bytes(path, "safe_read_lines", max_bytes), path, "safe_read_lines", encoding)
        lines = text.splitlines()
        result: list[str] = []
        for line in lines:
            item = line.strip() if strip else line
            if skip_blank and not item.strip():
                continue
            if comment_prefix and item.lstrip().startswith(comment_prefix):
                continue
            result.append(item)
        return result

    lines: list[str] | None = _safely(
        "safe_read_lines",
        path,
        read,
        default=default,
        context=context,
        raise_on_error=raise_on_error,
        timeout=timeout,
    )
    return lines


async def async_safe_read_text(path: PathLike, default: str | None = None, **kwargs: Any) -> str | None:
    """:func:`safe_read_text` in a worker thread, off the event loop."""
    return await asyncio.to_thread(safe_read_text, path, default, **kwargs)


async def async_safe_read_json(path: PathLike, default: Any = None, **kwargs: Any) -> Any:
    """:func:`safe_read_json` in a worker thread, off the event loop."""
    return await asyncio.to_thread(safe_read_json, path, default, **kwargs)


async def async_safe_read_lines(
    path: PathLike, default: list[str] | None = None, **kwargs: Any
) -> list[str] | None:
    """:func:`safe_read_lines` in a worker thread, off the event loop."""
    return await asyncio.to_thread(safe_read_lines, path, default, **kwargs)
