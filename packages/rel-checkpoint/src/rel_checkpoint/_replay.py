"""Reading an event log: streaming replay that tells a torn tail from corruption.

The file is read in blocks of 32 KiB (or the size of a longer record). Each
line's frame and CRC are checked on the bytes, and the payloads of a block's
good records are parsed by one ``json.loads`` call, which keeps replay close
to the cost of the JSON parse itself while memory stays bounded by the block
size and the longest record.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator, Sequence
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
from rel_checkpoint._legacy import legacy_line
from rel_checkpoint._telemetry import checkpoint_span, log, report
from rel_telemetry.attributes import CHECKPOINT_EVENTS

PathLike = str | os.PathLike[str]

BLOCK_SIZE = 1 << 15  # small enough for a block's records to stay in the CPU cache
_TS_SKIP = len(TS_KEY)
_PAYLOAD_SKIP = len(PAYLOAD_KEY)
_HEADER = HEAD + b'%08x",' + SEQ_KEY  # '{"crc":"<8 hex>","seq":'
_new_event = partial(tuple.__new__, Event)  # skips NamedTuple's Python-level __new__
_FRAMED = object()  # the payload is framed JSON bytes, parsed in bulk
_BLANK = object()  # a blank legacy line: it keeps its number and yields nothing


@dataclass(frozen=True, slots=True)
class _Bad:
    offset: int
    seq: int | None
    why: str


def _corrupt(path: PathLike, bad: _Bad, trailing: int = 0) -> EventLogCorruptError:
    """The error for ``bad``: before valid records, or the first of ``trailing`` bad lines ending the file."""
    where = "" if bad.seq is None else f" (expected seq {bad.seq})"
    after = (
        f"it is the first of {trailing} bad lines ending the file, more than a torn tail"
        if trailing
        else "valid records follow it, so this is not a torn tail"
    )
    return EventLogCorruptError(
        f"event log {os.fspath(path)!r} is corrupt at byte offset {bad.offset}{where}: {bad.why}; "
        f"{after}. Replay with skip_corrupt=True to read past it, or restore the file",
        path=path,
        offset=bad.offset,
        seq=bad.seq,
    )


def _skip(path: PathLike, bads: list[_Bad], trailing: int = 0) -> None:
    for bad in bads:
        err = _corrupt(path, bad, trailing)
        log.warning("skipping a corrupt event record: %s", err)
        report("eventlog.replay", err, path, offset=bad.offset, seq=bad.seq, action="skipped")


def _events(
    path: PathLike, seqs: Sequence[int], stamps: Sequence[float], payloads: Sequence[bytes]
) -> list[Event]:
    try:
        parsed: list[Any] = json.loads(b"[" + b",".join(payloads) + b"]")
        if len(parsed) != len(payloads):
            raise ValueError("a payload held several values")
    except (ValueError, RecursionError):  # RecursionError: nested too deeply for json ("[[[...")
        parsed = []
        for seq, payload in zip(seqs, payloads, strict=True):  # a writer other than rel: one by one
            try:
                parsed.append(json.loads(payload))
            except (ValueError, RecursionError) as exc:
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
    add_digits, add_stamp, add_payload = digits.append, stamps.append, payloads.append
    for line in lines:
        # One format and one startswith check the fixed header, the CRC and the seq key.
        if not line.startswith(_HEADER % crc32(line[BODY_START:])) or not line.endswith(b"}"):
            return None
        t = line.find(TS_KEY, SEQ_START)
        q = line.find(PAYLOAD_KEY, t)
        if t < 0 or q < 0:
            return None
        add_digits(line[SEQ_START:t])
        add_stamp(line[t + _TS_SKIP : q])
        add_payload(line[q + _PAYLOAD_SKIP : -1])
    try:
        first = int(digits[0]) if expected is None else expected
        times = list(map(float, stamps))
    except ValueError:
        return None
    if first < 0:
        return None
    seqs = range(first, first + len(digits))
    # The seqs must be exactly first, first+1, ... written as rel writes them (no sign, no
    # leading zero): comparing the text checks both without converting each one.
    if b",".join(digits) != ",".join(map(str, seqs)).encode():
        return None
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
    and skipped). Unframed JSON lines before the first framed record are a
    legacy writer's records (see :mod:`rel_checkpoint._legacy`). A missing
    file yields nothing.
    """
    try:
        fh = open(path, "rb", buffering=0)  # noqa: SIM115 - closed in the finally below
    except FileNotFoundError:
        return
    count = 0
    with checkpoint_span("checkpoint.replay", path) as span:
        try:
            remaining = os.fstat(fh.fileno()).st_size
            pos = 0  # byte offset of the next line
            lineno = 0  # lines read so far
            legacy = True  # still in the unframed prefix a legacy writer may have left
            carry = b""
            expected: int | None = None
            bads: list[_Bad] = []
            seqs: list[int] = []
            stamps: list[float] = []
            payloads: list[bytes] = []
            while remaining > 0 or carry:
                if remaining > 0:
                    # A record longer than a block doubles the read instead of re-copying it per block.
                    block = fh.read(min(max(BLOCK_SIZE, len(carry)), remaining))
                    if not block:
                        remaining = 0  # the file shrank under us
                        continue
                    remaining -= len(block)
                    buffer = carry + block
                    lines = buffer.split(b"\n")
                    carry = lines.pop()
                    terminated = True
                else:  # the last line has no newline
                    lines, carry, terminated = [carry], b"", False
                if not bads and terminated:
                    fast = _clean_block(path, lines, expected, from_seq)
                    if fast is not None:
                        events, expected = fast
                        pos += len(buffer) - len(carry)
                        lineno += len(lines)
                        legacy = legacy and not lines
                        count += len(events)
                        yield from events
                        continue
                for line in lines:
                    start = pos
                    pos += len(line) + terminated
                    lineno += 1
                    parsed = parse_line(line) if terminated else None
                    value: Any = _FRAMED
                    if parsed is not None:
                        legacy = False
                        seq, stamp, raw = parsed
                    elif legacy and not line.startswith(HEAD):
                        kind, value = legacy_line(line, terminated=terminated)
                        if kind == "bad":
                            why = "the line is neither a valid record nor JSON"
                            bads.append(
                                _Bad(start, lineno, why if terminated else "the last line is cut off")
                            )
                            continue
                        seq, stamp, raw = lineno, 0.0, b""
                        if kind == "blank":
                            value = _BLANK
                    else:
                        legacy = False  # not legacy already, or a damaged frame: that ends the prefix
                        why = (
                            "the record fails its frame or checksum"
                            if terminated
                            else "the last record has no newline"
                        )
                        bads.append(_Bad(start, expected, why))
                        continue
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
                    if seq < from_seq or value is _BLANK:
                        continue
                    if value is _FRAMED:
                        seqs.append(seq)
                        stamps.append(stamp)
                        payloads.append(raw)
                    else:  # a legacy record: it comes before every framed one
                        count += 1
                        yield _new_event((seq, stamp, value))
                if payloads:
                    events = _events(path, seqs, stamps, payloads)
                    count += len(events)
                    yield from events
                    seqs, stamps, payloads = [], [], []
            if len(bads) > 1:
                if not skip_corrupt:
                    raise _corrupt(path, bads[0], len(bads))
                _skip(path, bads, len(bads))
            elif bads:
                log.debug("event log %s ends in a torn record at offset %d", os.fspath(path), bads[0].offset)
        finally:
            fh.close()
            if span.is_recording():
                span.set_attribute(CHECKPOINT_EVENTS, count)
