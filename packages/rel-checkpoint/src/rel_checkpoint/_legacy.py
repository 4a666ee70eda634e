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
from typing import Any, Literal

from rel_checkpoint._framing import HEAD, Tail, lines_backward, record_seq

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
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; RecursionError: "[[[..."
        return "bad", None
    if _frame_like(value) or (not terminated and not isinstance(value, dict | list)):
        return "bad", None
    return "record", value


def scan_log_tail(fd: int, size: int) -> Tail:
    """Find the last valid record of the file behind ``fd`` (of ``size`` bytes), reading backwards.

    The last framed record that verifies ends the valid part. With none, the
    last good legacy line does, unless a line that starts like a frame
    follows it (as in replay, a damaged frame ends the legacy prefix); its
    line number is ``last_seq``, and ``newline_missing`` is set when that line
    is a complete record whose newline was never written. Stops at the last
    framed record; a log of legacy lines only is read once, in bounded memory.
    """
    lines = 0  # lines read so far, from the end
    found: tuple[int, int, bool] | None = None  # the last good legacy line: (end, lines after it, terminated)
    for start, line in lines_backward(fd, size):
        seq = record_seq(line)
        if seq is not None:
            end = start + len(line)
            return Tail(end, seq, size - end, lines)
        if line.startswith(HEAD):
            found = None  # a damaged frame: no line after it is a legacy record
        elif found is None:
            terminated = line.endswith(b"\n")
            if legacy_line(line[:-1] if terminated else line, terminated=terminated)[0] != "bad":
                found = (start + len(line), lines, terminated)
        lines += 1
    if found is None:
        return Tail(0, 0, size, lines)
    end, after, terminated = found
    return Tail(end, lines - after, size - end, after, newline_missing=not terminated)
