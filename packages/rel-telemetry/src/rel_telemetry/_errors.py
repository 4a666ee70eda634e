"""A bounded, thread-safe store of error reports with an optional JSONL sink."""

from __future__ import annotations

import collections
import datetime as _dt
import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import EllipsisType
from typing import Any

from rel_telemetry._jsonable import jsonable, safe_repr
from rel_telemetry._tracing import current_trace_ids

_log = logging.getLogger("rel_telemetry")

DEFAULT_CAPACITY = 1000
SINK_FILENAME = "error_reports.jsonl"


@dataclass(frozen=True, slots=True)
class ErrorReport:
    """One failure: what was attempted, on what, what went wrong, and in which trace."""

    operation: str
    path: str | None
    exception_type: str
    exception_msg: str
    context: Mapping[str, Any] = field(default_factory=dict)
    timestamp: str = ""
    trace_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-safe primitives."""
        data = asdict(self)
        data["context"] = jsonable(self.context)
        return data


class _Sink:
    """Appends reports as JSON lines to ``directory``, rotating at ``max_bytes``."""

    def __init__(self, directory: Path, max_bytes: int, backups: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.backups = backups
        self.path = directory / SINK_FILENAME
        self._warned = False

    def write(self, report: ErrorReport) -> None:
        line = json.dumps(report.to_dict(), ensure_ascii=False) + "\n"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            try:
                size = self.path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size and size + len(line) > self.max_bytes:
                self._rotate()
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                _log.warning(
                    "error report sink %s is not writable (%s); reports stay in memory only",
                    self.directory,
                    exc,
                )

    def _rotate(self) -> None:
        for i in range(self.backups, 0, -1):
            src = self.path if i == 1 else self.path.with_name(f"{SINK_FILENAME}.{i - 1}")
            dst = self.path.with_name(f"{SINK_FILENAME}.{i}")
            if src.exists():
                os.replace(src, dst)
        if self.backups == 0:
            self.path.unlink(missing_ok=True)


class _Store:
    def __init__(self, capacity: int) -> None:
        self._lock = threading.Lock()
        self._reports: collections.deque[ErrorReport] = collections.deque(maxlen=capacity)
        self._sink: _Sink | None = None

    def add(self, report: ErrorReport) -> None:
        with self._lock:
            self._reports.append(report)
            sink = self._sink
            if sink is not None:
                sink.write(report)

    def query(self, operation: str | None, limit: int | None) -> list[ErrorReport]:
        with self._lock:
            snapshot = list(self._reports)
        result: list[ErrorReport] = []
        for report in reversed(snapshot):
            if operation is None or report.operation == operation:
                result.append(report)
                if limit is not None and len(result) >= limit:
                    break
        return result


_store = _Store(DEFAULT_CAPACITY)


def _now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def record_error(
    operation: str,
    error: BaseException,
    *,
    path: str | os.PathLike[str] | None = None,
    context: Mapping[str, Any] | None = None,
) -> ErrorReport:
    """Store an :class:`ErrorReport` for ``error`` and return it. Never raises.

    ``operation`` is a low-cardinality name (``"read_file"``); ``path`` the
    resource; ``context`` any extra fields. The current trace id is attached.
    """
    try:
        ctx = dict(jsonable(dict(context))) if context else {}
    except Exception:
        ctx = {"context": safe_repr(context)}
    try:
        message = str(error)
    except Exception:
        message = safe_repr(error)
    report = ErrorReport(
        operation=str(operation),
        path=None if path is None else os.fspath(path),
        exception_type=type(error).__name__,
        exception_msg=message,
        context=ctx,
        timestamp=_now_iso(),
        trace_id=current_trace_ids()[0],
    )
    _store.add(report)
    return report


def get_error_reports(operation: str | None = None, limit: int | None = None) -> list[ErrorReport]:
    """Return stored reports, newest first, optionally for one ``operation`` and at most ``limit``."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0 or None, got {limit!r}")
    return _store.query(operation, limit)


def clear_error_reports() -> None:
    """Forget every stored report (the sink's files are left alone)."""
    with _store._lock:
        _store._reports.clear()


def configure_error_reports(
    *,
    capacity: int | None = None,
    sink_dir: str | os.PathLike[str] | EllipsisType | None = ...,
    sink_max_bytes: int = 5 * 1024 * 1024,
    sink_backups: int = 3,
) -> None:
    """Set the store's ``capacity`` and/or a JSONL sink directory (None: memory only).

    Arguments left out keep their current setting.

    The sink appends one JSON object per line to ``<sink_dir>/error_reports.jsonl``
    and rotates it at ``sink_max_bytes`` keeping ``sink_backups`` old files. An
    unwritable sink logs one warning and never breaks the caller.
    """
    if capacity is not None and (not isinstance(capacity, int) or capacity < 1):
        raise ValueError(f"capacity must be an int >= 1, got {capacity!r}")
    if sink_max_bytes < 1:
        raise ValueError(f"sink_max_bytes must be >= 1, got {sink_max_bytes!r}")
    if sink_backups < 0:
        raise ValueError(f"sink_backups must be >= 0, got {sink_backups!r}")
    with _store._lock:
        if capacity is not None:
            _store._reports = collections.deque(_store._reports, maxlen=capacity)
        if not isinstance(sink_dir, EllipsisType):
            _store._sink = None if sink_dir is None else _Sink(Path(sink_dir), sink_max_bytes, sink_backups)
