"""Read-only verification of event logs and run directories (what ``rel ... verify`` reports).

Unlike opening an :class:`~rel_checkpoint.EventLog`, verifying never changes a
file: a torn tail is reported, not truncated.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from rel_checkpoint._errors import CheckpointError
from rel_checkpoint._framing import HEAD, parse_line
from rel_checkpoint._legacy import legacy_line
from rel_checkpoint._rundir import (
    EVENTS_FILE,
    SNAPSHOT_FILE,
    _ids,
    _read_meta,
    _verified_copy,
    parse_snapshot,
)

PathLike = str | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class EventLogVerification:
    """What :func:`verify_event_log` found: valid records, a torn tail, corrupt records."""

    path: str
    records: int = 0
    last_seq: int = 0
    torn_tail: tuple[int, int] | None = None
    """(byte offset, length) of an incomplete last record, as a crash mid-append leaves it."""
    corrupt: tuple[tuple[int, str], ...] = ()
    """(byte offset, reason) of each bad record before the tail."""

    @property
    def ok(self) -> bool:
        """True when every byte of the log is a valid record in sequence."""
        return self.torn_tail is None and not self.corrupt

    def lines(self) -> list[str]:
        """A human-readable report, one finding per line."""
        out = [f"{self.path}: {self.records} valid records, last seq {self.last_seq}"]
        if self.torn_tail is not None:
            offset, length = self.torn_tail
            out.append(
                f"{self.path}: torn tail of {length} bytes at offset {offset} "
                "(an append cut short; opening the log truncates it)"
            )
        out += [f"{self.path}: corrupt record at byte offset {o}: {why}" for o, why in self.corrupt]
        out.append(f"{self.path}: {'OK' if self.ok else 'NOT OK'}")
        return out


def verify_event_log(path: PathLike) -> EventLogVerification:
    """Check every record's frame, checksum and sequence number without modifying the file.

    One bad final line is a torn tail; a bad record followed by valid ones, a
    duplicate or a gap in the sequence is corruption. Unframed JSON lines before
    the first framed record are a legacy writer's records, numbered by line.
    Streams in constant memory.

    :raises FileNotFoundError: the log does not exist.
    """
    records = 0
    last_seq = 0
    bad: list[tuple[int, int, str]] = []  # (start, end, reason)
    good_end = 0
    offset = 0
    lineno = 0
    legacy = True  # still in the unframed prefix a legacy writer may have left
    after_bad = False  # a damaged record used up a sequence number: the next may skip one
    with open(path, "rb") as fh:
        for line in fh:
            start, offset = offset, offset + len(line)
            lineno += 1
            terminated = line.endswith(b"\n")
            body = line[:-1] if terminated else line
            parsed = parse_line(body) if terminated else None
            if parsed is None and legacy and not body.startswith(HEAD):
                kind, _ = legacy_line(body, terminated=terminated)
                if kind != "bad":
                    records += kind == "record"
                    last_seq, good_end, after_bad = lineno, offset, False
                    continue
                bad.append((start, offset, "neither a valid record nor JSON"))
                after_bad = True
                continue
            if parsed is None:
                legacy = False  # not legacy already, or a damaged frame: that ends the prefix
                why = "frame or CRC does not verify" if terminated else "incomplete line"
                bad.append((start, offset, why))
                after_bad = True
                continue
            legacy = False
            seq = parsed[0]
            expected_gap = after_bad and seq > last_seq + 1
            after_bad = False
            if seq != last_seq + 1 and not expected_gap:
                bad.append((start, offset, f"sequence {seq} where {last_seq + 1} was expected"))
            last_seq = max(last_seq, seq)
            records += 1
            good_end = offset
    torn = None
    trailing = [b for b in bad if b[0] >= good_end]
    if len(trailing) == 1:  # one bad last line: an append cut short
        torn = (trailing[0][0], trailing[0][1] - trailing[0][0])
        bad.remove(trailing[0])
    corrupt = tuple((b[0], b[2]) for b in bad)
    return EventLogVerification(os.fspath(path), records, last_seq, torn, corrupt)


@dataclass(frozen=True, slots=True)
class RunVerification:
    """What :func:`verify_run_dir` found in a run directory."""

    run_dir: str
    checkpoints: tuple[tuple[str, str | None], ...] = ()
    """(checkpoint id, problem or None) for every checkpoint metadata file."""
    snapshot_problem: str | None = None
    events: EventLogVerification | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when the snapshot, every checkpoint and the event log verify."""
        return (
            self.snapshot_problem is None
            and all(problem is None for _, problem in self.checkpoints)
            and (self.events is None or self.events.ok)
        )

    def lines(self) -> list[str]:
        """A human-readable report, one finding per line."""
        out = [f"{self.run_dir}: {len(self.checkpoints)} checkpoints"]
        for checkpoint_id, problem in self.checkpoints:
            out.append(f"  checkpoint {checkpoint_id}: {'OK' if problem is None else 'CORRUPT: ' + problem}")
        out.append(f"  {SNAPSHOT_FILE}: {self.snapshot_problem or 'OK'}")
        if self.events is not None:
            out += ["  " + line for line in self.events.lines()]
        out += [f"  {note}" for note in self.notes]
        out.append(f"{self.run_dir}: {'OK' if self.ok else 'NOT OK'}")
        return out


def verify_run_dir(run_dir: PathLike) -> RunVerification:
    """Verify every checkpoint (metadata and snapshot copy), the snapshot and the event log, read-only."""
    root = Path(run_dir)
    checkpoints: list[tuple[str, str | None]] = []
    for checkpoint_id in _ids(root):
        try:
            _verified_copy(root, _read_meta(root, checkpoint_id))
            checkpoints.append((checkpoint_id, None))
        except CheckpointError as exc:
            checkpoints.append((checkpoint_id, str(exc)))
    snapshot_problem: str | None = None
    snapshot = root / SNAPSHOT_FILE
    notes: list[str] = []
    if snapshot.exists():
        try:
            parse_snapshot(snapshot.read_bytes(), snapshot)
        except (CheckpointError, OSError) as exc:
            snapshot_problem = str(exc)
    else:
        notes.append(f"no {SNAPSHOT_FILE}")
    events_path = root / EVENTS_FILE
    events = verify_event_log(events_path) if events_path.exists() else None
    if events is None:
        notes.append(f"no {EVENTS_FILE}")
    return RunVerification(os.fspath(root), tuple(checkpoints), snapshot_problem, events, tuple(notes))
