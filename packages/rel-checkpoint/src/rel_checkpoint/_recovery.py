"""Tail recovery: cut a torn last record off a log, refuse to silently cut more."""

from __future__ import annotations

import os
from dataclasses import dataclass

from rel_checkpoint._errors import EventLogCorruptError
from rel_checkpoint._framing import Tail
from rel_checkpoint._integrity import utc_now_iso
from rel_checkpoint._legacy import scan_log_tail
from rel_checkpoint._telemetry import log, report
from rel_io import FileWriteError, atomic_write_bytes, fsync_fd


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What opening (or appending to) a log removed from its end.

    ``offset`` is where the removed bytes began, ``dropped_bytes`` and
    ``dropped_lines`` how much was removed, ``last_seq`` the last valid record
    kept, ``saved_to`` the file holding a copy of the removed bytes (only for
    a repaired multi-line corrupt end) and ``reason`` a sentence for humans.
    """

    path: str
    offset: int
    dropped_bytes: int
    dropped_lines: int
    last_seq: int
    reason: str
    saved_to: str | None = None


def recover_tail(fd: int, path: str, size: int, *, repair: bool) -> tuple[Tail, RecoveryReport | None]:
    """With the log's lock held: find the last valid record and truncate what follows it.

    One bad line after it is a torn write and is truncated. Several bad lines
    are corruption: :class:`EventLogCorruptError` unless ``repair`` (then they
    are saved to ``<path>.corrupt-<time>`` and truncated).
    """
    tail = scan_log_tail(fd, size)
    if tail.newline_missing:
        # A legacy writer's last line is complete but unterminated: end it before appending.
        _change_end(fd, path, tail.end, add_newline=True)
        return Tail(tail.end + 1, tail.last_seq, 0, 0), None
    if tail.garbage == 0:
        return tail, None
    saved_to = None
    if tail.garbage_lines > 1:
        if not repair:
            err = EventLogCorruptError(
                f"event log {path!r} ends in {tail.garbage_lines} bad lines ({tail.garbage} bytes) from "
                f"byte offset {tail.end}, after seq {tail.last_seq}: more than a torn write. Open it with "
                "repair=True to save them aside and truncate them, or restore the file",
                path=path,
                offset=tail.end,
                seq=tail.last_seq + 1,
            )
            report("eventlog.recover", err, path, offset=tail.end, seq=tail.last_seq + 1)
            raise err
        saved_to = f"{path}.corrupt-{utc_now_iso().replace(':', '')}"
        atomic_write_bytes(saved_to, os.pread(fd, tail.garbage, tail.end))
    _change_end(fd, path, tail.end, add_newline=False)
    reason = (
        "a torn last record (an append interrupted by a crash, never acknowledged) was truncated"
        if saved_to is None
        else f"{tail.garbage_lines} corrupt lines at the end were saved to {saved_to} and truncated"
    )
    found = RecoveryReport(path, tail.end, tail.garbage, tail.garbage_lines, tail.last_seq, reason, saved_to)
    log.warning("event log %s: %s (%d bytes at offset %d)", path, reason, tail.garbage, tail.end)
    report(
        "eventlog.recover",
        EventLogCorruptError(
            f"event log {path!r}: {reason}", path=path, offset=tail.end, seq=tail.last_seq + 1
        ),
        path,
        dropped_bytes=tail.garbage,
        dropped_lines=tail.garbage_lines,
        saved_to=saved_to,
    )
    return Tail(tail.end, tail.last_seq, 0, 0), found


def _change_end(fd: int, path: str, end: int, *, add_newline: bool) -> None:
    """Truncate the log at ``end``, or end its last line, and sync it; :class:`FileWriteError` if that fails."""
    try:
        if add_newline:
            os.write(fd, b"\n")
        else:
            os.ftruncate(fd, end)
        fsync_fd(fd, data_only=True)
    except OSError as exc:
        what = "end the last line of" if add_newline else f"truncate at byte offset {end}"
        err = FileWriteError(
            f"could not {what} event log {path!r} ({exc.strerror or exc}) before appending to it; "
            "nothing was appended: free space or fix the file's permissions and open it again",
            path=path,
            operation="eventlog.recover",
            errno=exc.errno,
        )
        report("eventlog.recover", err, path)
        raise err from exc
