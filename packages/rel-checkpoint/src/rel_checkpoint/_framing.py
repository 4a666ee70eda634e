"""The on-disk frame of one event record: a JSON line whose CRC covers everything after it.

A record is one line of JSON text::

    {"crc":"<8 hex>","seq":<int>,"ts":<float>,"payload":<any JSON>}\\n

``crc`` is the CRC-32 (zlib polynomial, lowercase hex, zero-padded) of the
bytes after ``"crc":"<8 hex>",`` up to, not including, the newline. JSON text
never holds a raw newline, so the newline is the frame boundary; the fixed
header lets a reader verify a record before parsing it and lets any JSON-lines
tool read the file.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

HEAD = b'{"crc":"'
PAYLOAD_KEY = b',"payload":'
TS_KEY = b',"ts":'
BODY_START = len(HEAD) + 8 + 2  # after '{"crc":"' + 8 hex + '",'
SEQ_START = BODY_START + len(b'"seq":')
SEQ_KEY = b'"seq":'
_HEAD_LEN = len(HEAD)
_CRC_END = BODY_START - 2
_TS_SKIP = len(TS_KEY)
_PAYLOAD_SKIP = len(PAYLOAD_KEY)


class Event(NamedTuple):
    """One replayed record: its sequence number, append time (Unix seconds) and payload."""

    seq: int
    timestamp: float
    payload: Any


def encode_record(seq: int, timestamp: float, payload_json: str) -> bytes:
    """Frame a payload that is already JSON text as one record line."""
    body = f'"seq":{seq},"ts":{timestamp!r},"payload":{payload_json}}}'.encode()
    return b'{"crc":"%08x",%b\n' % (zlib.crc32(body), body)


def parse_line(line: bytes) -> tuple[int, float, bytes] | None:
    """``(seq, ts, payload JSON)`` of a line (without its newline) whose frame and CRC verify, else None."""
    body = line[BODY_START:]
    if line[:_HEAD_LEN] != HEAD or b"%08x" % zlib.crc32(body) != line[_HEAD_LEN:_CRC_END]:
        return None
    t = line.find(TS_KEY, SEQ_START)
    p = line.find(PAYLOAD_KEY, t)
    if t < 0 or p < 0 or line[-1:] != b"}" or line[BODY_START:SEQ_START] != SEQ_KEY:
        return None
    digits = line[SEQ_START:t]
    if not digits.isdigit() or (digits[:1] == b"0" and len(digits) > 1):
        return None
    try:
        ts = float(line[t + _TS_SKIP : p])
    except ValueError:
        return None
    return int(digits), ts, line[p + _PAYLOAD_SKIP : -1]


def record_seq(line: bytes) -> int | None:
    """The sequence number of a newline-terminated record line that verifies, else None."""
    if line[-1:] != b"\n":
        return None
    parsed = parse_line(line[:-1])
    return None if parsed is None else parsed[0]


@dataclass(frozen=True, slots=True)
class Tail:
    """What a backward scan found at the end of a log file.

    ``end`` is the offset just after the last valid record (0 if none),
    ``last_seq`` its sequence number (0 if none), ``garbage`` the number of
    bytes after it and ``garbage_lines`` how many lines those bytes span.
    ``newline_missing`` marks a last legacy record complete but for its
    newline (see :mod:`rel_checkpoint._legacy`).
    """

    end: int
    last_seq: int
    garbage: int
    garbage_lines: int
    newline_missing: bool = False


def lines_backward(fd: int, size: int, chunk: int = 1 << 16) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, line)`` for each line of the file behind ``fd``, last line first.

    A line keeps its newline (the last one may have none). Memory stays
    bounded by ``chunk`` plus twice the longest line, whatever the size of the
    file, and a long line (a zero-filled tail, say) costs time linear in its length.
    """
    buf = b""
    buf_start = end = size  # buf holds the file's bytes [buf_start, end)
    while end > 0:
        # The line ending at `end` starts after the last newline before its own (at end - 1).
        found = buf.rfind(b"\n", 0, max(0, end - 1 - buf_start))
        while found < 0 and buf_start > 0:
            # Read at least as much again as is held, so that a line of n bytes takes
            # O(log n) reads and O(n) copying, and search only the bytes just read.
            new_start = max(0, buf_start - max(chunk, end - buf_start))
            new = buf_start - new_start
            buf = os.pread(fd, new, new_start) + buf[: end - buf_start]
            buf_start = new_start
            found = buf.rfind(b"\n", 0, min(new, end - 1 - buf_start))
        start = buf_start + found + 1
        yield start, buf[start - buf_start : end - buf_start]
        end = start
