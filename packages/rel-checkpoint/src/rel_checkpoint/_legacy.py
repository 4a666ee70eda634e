"""Logs begun by other tools: plain JSON lines, one event per line, with no frame.

Such a log is read as it is: its records are the lines before the first
framed record, each with ``seq`` = its line number (1-based) and timestamp
0.0. rel never rewrites those bytes; it appends framed records after them,
numbered on from the last legacy line. A line is a legacy record when it is
newline-terminated JSON that does not look like a damaged frame; a last line
without a newline counts only when it is a complete JSON object or array (a
cut-off object is never valid JSON, a cut-off number can be). A blank line
keeps its number and yields nothing.
"""

from __future__ import annotations

import json
import os
from typing import Any, Literal

from rel_checkpoint._framing import HEAD, Tail, lines_backward, scan_tail

LineKind = Literal["record", "blank", "bad"]

_FRAME_KEYS = ("crc", "seq", "ts", "payload")


def _frame_like(value: Any) -> bool:
    """True for an object shaped like a frame whose header lost a byte (never a legacy event)."""
    if not isinstance(value, dict) or len(value) != 4:
        return False
    keys: list[str] = list(value)
    return sum(a == b for a, b in zip(keys, _FRAME_KEYS, strict=True)) >= 3


def legacy_line(line: bytes, *, terminated: bool = True) -> tuple[LineKind, Any]:
    """Classify one line (without its newline) of a log's unframed prefix: ``(kind, payload)``."""
    if not line.strip():
        return ("blank", None) if terminated else ("bad", None)
    if line.startswith(HEAD):
        return "bad", None  # a frame that fails its check: the writer was rel
    try:
        value = json.loads(line)
    except ValueError:  # UnicodeDecodeError is a ValueError
        return "bad", None
    if _frame_like(value) or (not terminated and not isinstance(value, dict | list)):
        return "bad", None
    return "record", value


def _count_lines(fd: int, end: int, chunk: int = 1 << 20) -> int:
    count = 0
    for start in range(0, end, chunk):
        count += os.pread(fd, min(chunk, end - start), start).count(b"\n")
    return count


def scan_log_tail(fd: int, size: int) -> Tail:
    """:func:`~rel_checkpoint._framing.scan_tail`, also for a log that holds only legacy lines.

    When no framed record exists, the last good legacy line ends the valid
    part and its line number is ``last_seq``; ``newline_missing`` is set when
    that line is a complete record whose newline was never written.
    """
    tail = scan_tail(fd, size)
    if tail.end or not size:
        return tail
    garbage_lines = 0
    for start, line in lines_backward(fd, size):
        terminated = line.endswith(b"\n")
        if legacy_line(line[:-1] if terminated else line, terminated=terminated)[0] != "bad":
            end = start + len(line)
            last_seq = _count_lines(fd, end) + (not terminated)
            return Tail(end, last_seq, size - end, garbage_lines, newline_missing=not terminated)
        garbage_lines += 1
    return Tail(0, 0, size, garbage_lines)
