"""Reading an event log: streaming replay that tells a torn tail from corruption.

The file is read in blocks. Each line's frame and CRC are checked on the
bytes, and the payloads of a block's good records are parsed by one
``json.loads`` call, which keeps replay close to the cost of the JSON parse
itself while memory stays bounded by the block size.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from rel_checkpoint._errors import EventLogCorruptError
from rel_checkpoint._framing import (
    BODY_START,
    HEAD,
    PAYLOAD_KEY,
    SEQ_KEY,
    SEQ_START,
    TS_KEY,
    Event,
    parse_line,
)
from rel_checkpoint._telemetry import checkpoint_span, log, report
from rel_telemetry.attributes import CHECKPOINT_EVENTS

PathLike = str | os.PathLike[str]

BLOCK_SIZE = 1 << 20
_HEAD_LEN = len(HEAD)
_CRC_END = BODY_START - 2
_TS_SKIP = len(TS_KEY)
_PAYLOAD_SKIP = len(PAYLOAD_KEY)
_new_event = partial(tuple.__new__, Event)  # skips NamedTuple's Python-level __new__


@dataclass(frozen=True, slots=True)
class _Bad:
    offset: int
    seq: int | None
    why: str


def _corrupt(path: PathLike, bad: _Bad) -> EventLogCorruptError:
    where = "" if bad.seq is None else f" (expected seq {bad.seq})"
    return EventLogCorruptError(
        f"event log {os.fspath(path)!r} is corrupt at byte offset {bad.offset}{where}: {bad.why}; "
        "valid records follow it, so this is not a torn tail. Replay with skip_corrupt=True to "
        "read past it, or restore the file",
        path=path,
        offset=bad.offset,
        seq=bad.seq,
    )


def _skip(path: PathLike, bads: list[_Bad]) -> None:
    for bad in bads:
        err = _corrupt(path, bad)
        log.warning("skipping a corrupt event record: %s", err)
        report("eventlog.replay", err, path, offset=bad.offset, seq=bad.seq, action="skipped")


def _events(path: PathLike, seqs: list[int], stamps: list[float], payloads: list[bytes]) -> list[Event]:
    try:
        parsed: list[Any] = json.loads(b"[" + b",".join(payloads) + b"]")
        if len(parsed) != len(payloads):
            raise ValueError("a payload held several values")
    except ValueError:
        parsed = []
        for seq, payload in zip(seqs, payloads, strict=True):  # a writer other than rel: one by one
            try:
                parsed.append(json.loads(payload))
            except ValueError as exc:
                raise EventLogCorruptError(
                    f"event log {os.fspath(path)!r}: record seq {seq} passes its checksum but its "
                    f"payload is not JSON ({exc}); the file was not written by rel",
                    path=path,
                    seq=seq,
                ) from None
    return list(map(_new_event, zip(seqs, stamps, parsed, strict=True)))


def _clean_block(
    path: PathLike, lines: list[bytes], expected: int | None, from_seq: int
) -> tuple[list[Event], int | None] | None:
    """The events of a block whose every line is a valid record in sequence, else None.

    The common case, checked with the same rules as :func:`parse_line` but in
    bulk: per line only the frame and CRC; sequence numbers and timestamps
    are converted and checked for the whole block at once. Any anomaly sends
    the block to the careful path, which locates and reports it.
    """
    if not lines:
        return [], expected
    crc32 = zlib.crc32
    digits: list[bytes] = []
    stamps: list[bytes] = []
    payloads: list[bytes] = []
    for line in lines:
        if (
            line[:_HEAD_LEN] != HEAD
            or b"%08x" % crc32(line[BODY_START:]) != line[_HEAD_LEN:_CRC_END]
            or line[BODY_START:SEQ_START] != SEQ_KEY
            or line[-1:] != b"}"
        ):
            return None
        t = line.find(TS_KEY, SEQ_START)
        q = line.find(PAYLOAD_KEY, t)
        if t < 0 or q < 0:
            return None
        digits.append(line[SEQ_START:t])
        stamps.append(line[t + _TS_SKIP : q])
        payloads.append(line[q + _PAYLOAD_SKIP : -1])
    try:
        seqs = list(map(int, digits))
        times = list(map(float, stamps))
    except ValueError:
        return None
    first = seqs[0] if expected is None else expected
    if first < 0 or seqs != list(range(first, first + len(seqs))):
        return None
    if b",".join(digits) != ",".join(map(str, seqs)).encode():
        return None  # signs, spaces, underscores or leading zeros: not how rel writes a seq
    skip = max(0, from_seq - first)
    if skip >= len(seqs):
        return [], seqs[-1] + 1
    events = _events(path, seqs[skip:], times[skip:], payloads[skip:])
    return events, seqs[-1] + 1


def read_events(path: PathLike, from_seq: int = 1, *, skip_corrupt: bool = False) -> Iterator[Event]:
    """Yield the valid records of the log at ``path`` with ``seq >= from_seq``, oldest first.

    Streams in constant memory and reads the file as it was when iteration
    began. A torn tail (one bad last line) ends the replay quietly; a bad
    record followed by valid ones, a duplicate or a gap in the sequence raises
    :class:`EventLogCorruptError` with its byte offset and the expected
    sequence number, unless ``skip_corrupt`` (then each is logged, reported
    and skipped). A missing file yields nothing.
    """
    try:
        fh = open(path, "rb", buffering=0)  # noqa: SIM115 - closed in the finally below
    except FileNotFoundError:
        return
    count = 0
    with checkpoint_span("checkpoint.replay", path) as span:
        try:
            remaining = os.fstat(fh.fileno()).st_size
            pos = 0
            carry = b""
            expected: int | None = None
            bads: list[_Bad] = []
            while remaining > 0:
                block = fh.read(min(BLOCK_SIZE, remaining))
                if not block:
                    break  # the file shrank under us
                remaining -= len(block)
                buffer = carry + block
                lines = buffer.split(b"\n")
                carry = lines.pop()
                if not bads:
                    fast = _clean_block(path, lines, expected, from_seq)
                    if fast is not None:
                        events, expected = fast
                        pos += len(buffer) - len(carry)
                        count += len(events)
                        yield from events
                        continue
                seqs: list[int] = []
                stamps: list[float] = []
                payloads: list[bytes] = []
                for line in lines:
                    start = pos
                    pos += len(line) + 1
                    parsed = parse_line(line)
                    if parsed is None:
                        bads.append(_Bad(start, expected, "the record fails its frame or checksum"))
                        continue
                    seq = parsed[0]
                    if bads or (expected is not None and seq != expected):
                        if payloads:
                            events = _events(path, seqs, stamps, payloads)
                            count += len(events)
                            yield from events
                            seqs, stamps, payloads = [], [], []
                        if not bads:
                            bads.append(_Bad(start, expected, f"found seq {seq}: the sequence is broken"))
                        if not skip_corrupt:
                            raise _corrupt(path, bads[0])
                        _skip(path, bads)
                        bads = []
                        if expected is not None and seq < expected:
                            continue  # a duplicate or out-of-order record
                    expected = seq + 1
                    if seq >= from_seq:
                        seqs.append(seq)
                        stamps.append(parsed[1])
                        payloads.append(parsed[2])
                if payloads:
                    events = _events(path, seqs, stamps, payloads)
                    count += len(events)
                    yield from events
            if carry:
                bads.append(_Bad(pos, expected, "the last record has no newline"))
            if len(bads) > 1:
                if not skip_corrupt:
                    raise _corrupt(path, bads[0])
                _skip(path, bads)
            elif bads:
                log.debug("event log %s ends in a torn record at offset %d", os.fspath(path), bads[0].offset)
        finally:
            fh.close()
            if span.is_recording():
                span.set_attribute(CHECKPOINT_EVENTS, count)
