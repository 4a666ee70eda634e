"""EventLog: framing, durability modes, torn tails, corruption, restarts and replay."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest

from rel_checkpoint import (
    EventLog,
    EventLogClosedError,
    EventLogCorruptError,
    replay_events,
)
from rel_io import FileWriteError
from rel_telemetry import get_error_reports
from rel_telemetry.testing import capture_spans

MODES = ["fsync", "group", "none"]


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


@pytest.mark.parametrize("mode", MODES)
def test_append_and_replay_in_order(tmp_path: Path, mode: str) -> None:
    """Events come back in order with contiguous sequence numbers in every mode."""
    path = tmp_path / "events.ndjson"
    with EventLog(path, durability=mode) as log:  # type: ignore[arg-type]
        for i in range(10):
            log.append({"i": i})
        log.append_many([{"i": i} for i in range(10, 20)])
        assert log.flush() == 20
        assert [e.payload["i"] for e in log.replay()] == list(range(20))
    events = list(replay_events(path))
    assert [e.seq for e in events] == list(range(1, 21))
    assert all(isinstance(e.timestamp, float) for e in events)


def test_record_format_is_documented_json_lines(tmp_path: Path) -> None:
    """Each line is JSON with crc, seq, ts, payload; crc is CRC-32 of the bytes after the crc field."""
    path = tmp_path / "events.ndjson"
    with EventLog(path) as log:
        assert log.append({"k": "v", "n": [1, 2]}) == 1
    (line,) = _lines(path)
    record = json.loads(line)
    assert list(record) == ["crc", "seq", "ts", "payload"]
    assert record["seq"] == 1
    assert record["payload"] == {"k": "v", "n": [1, 2]}
    body = line[len(b'{"crc":"') + 8 + 2 : -1]
    assert record["crc"] == f"{zlib.crc32(body):08x}"


def test_fsync_mode_returns_seq_and_buffered_modes_return_none(tmp_path: Path) -> None:
    """fsync mode acknowledges with the seq; group mode acknowledges at flush."""
    with EventLog(tmp_path / "a.ndjson") as log:
        assert log.append(1) == 1
        assert log.append_many([2, 3]) == 3
    with EventLog(tmp_path / "b.ndjson", durability="group", group_size=1000, group_interval=30) as log:
        assert log.append(1) is None
        assert (tmp_path / "b.ndjson").stat().st_size == 0  # buffered, not acknowledged
        assert log.flush() == 1
        assert (tmp_path / "b.ndjson").stat().st_size > 0


def test_group_commits_every_n_records(tmp_path: Path) -> None:
    """Reaching group_size writes the group without a flush."""
    path = tmp_path / "events.ndjson"
    with EventLog(path, durability="group", group_size=5, group_interval=30) as log:
        for i in range(12):
            log.append(i)
        assert len(_lines(path)) == 10
    assert len(_lines(path)) == 12


def test_group_commits_after_the_interval(tmp_path: Path) -> None:
    """A lone buffered record reaches the file once group_interval passes, with no flush."""
    path = tmp_path / "events.ndjson"
    with EventLog(path, durability="group", group_size=1000, group_interval=0.05) as log:
        log.append("lonely")
        deadline = time.monotonic() + 10
        while path.stat().st_size == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(_lines(path)) == 1


def test_sequence_numbers_continue_across_restarts(tmp_path: Path) -> None:
    """Reopening picks up the last sequence number from the file."""
    path = tmp_path / "events.ndjson"
    with EventLog(path) as log:
        log.append_many(range(5))
    with EventLog(path, durability="group") as log:
        assert log.last_seq == 5
        log.append("six")
        assert log.flush() == 6
    assert [e.seq for e in replay_events(path)] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("torn", [b'{"crc":"1234', b"\x00\x00\x00\x00", b'{"crc":"00000000","seq":9}\n'])
def test_torn_tail_is_truncated_on_open_with_a_report(tmp_path: Path, torn: bytes) -> None:
    """One bad last line is cut off on open, reported, and appends continue after it."""
    path = tmp_path / "events.ndjson"
    with EventLog(path) as log:
        log.append_many(["a", "b"])
    good_size = path.stat().st_size
    with path.open("ab") as fh:
        fh.write(torn)
    assert [e.payload for e in replay_events(path)] == ["a", "b"]  # readers ignore it
    with EventLog(path) as log:
        assert len(log.recovery) == 1
        report = log.recovery[0]
        assert (report.offset, report.dropped_bytes, report.last_seq) == (good_size, len(torn), 2)
        assert path.stat().st_size == good_size
        assert log.append("c") == 3
    assert get_error_reports(operation="eventlog.recover")
    assert [e.payload for e in replay_events(path)] == ["a", "b", "c"]


def test_several_bad_lines_at_the_end_are_corruption(tmp_path: Path) -> None:
    """More than one bad line at the end raises on open; repair=True saves them and truncates."""
    path = tmp_path / "events.ndjson"
    with EventLog(path) as log:
        log.append_many(["a", "b"])
    size = path.stat().st_size
    with path.open("ab") as fh:
        fh.write(b"garbage one\ngarbage two\n")
    with pytest.raises(EventLogCorruptError) as info:
        EventLog(path)
    assert (info.value.offset, info.value.seq) == (size, 3)
    with EventLog(path, repair=True) as log:
        (report,) = log.recovery
        assert report.saved_to is not None
        assert Path(report.saved_to).read_bytes() == b"garbage one\ngarbage two\n"
        assert log.append("c") == 3


def test_corruption_before_the_tail_raises_with_offset_and_seq(tmp_path: Path) -> None:
    """A flipped byte in a middle record raises EventLogCorruptError naming its offset and seq."""
    path = tmp_path / "events.ndjson"
    with EventLog(path) as log:
        log.append_many([{"i": i} for i in range(5)])
    lines = _lines(path)
    offset = sum(len(x) for x in lines[:2])
    raw = bytearray(path.read_bytes())
    raw[offset + 40] ^= 0x01
    path.write_bytes(bytes(raw))
    seen = []
    events = replay_events(path)
    with pytest.raises(EventLogCorruptError) as info:
        seen.extend(event.seq for event in events)
    assert seen == [1, 2]  # the records before the damage were delivered
    assert (info.value.offset, info.value.seq) == (offset, 3)
    assert str(offset) in str(info.value)
    skipped = [e.seq for e in replay_events(path, skip_corrupt=True)]
    assert skipped == [1, 2, 4, 5]
    assert get_error_reports(operation="eventlog.replay")


def test_duplicate_and_out_of_order_records_are_corruption(tmp_path: Path) -> None:
    """A valid record repeated breaks the sequence and is reported."""
    path = tmp_path / "events.ndjson"
    with EventLog(path) as log:
        log.append_many(["a", "b", "c"])
    lines = _lines(path)
    path.write_bytes(lines[0] + lines[1] + lines[1] + lines[2])
    with pytest.raises(EventLogCorruptError) as info:
        list(replay_events(path))
    assert info.value.seq == 3
    assert [e.payload for e in replay_events(path, skip_corrupt=True)] == ["a", "b", "c"]


def test_replay_from_seq_and_missing_file(tmp_path: Path) -> None:
    """from_seq skips earlier records; a missing log replays nothing."""
    path = tmp_path / "events.ndjson"
    assert list(replay_events(path)) == []
    with EventLog(path) as log:
        log.append_many(range(100))
        assert [e.payload for e in log.replay(from_seq=98)] == [97, 98, 99]


def test_replay_streams_in_constant_memory(tmp_path: Path) -> None:
    """Replaying 20 MB of events never holds more than a few MB."""
    path = tmp_path / "events.ndjson"
    with EventLog(path, durability="none", group_size=10_000) as log:
        for _ in range(20):
            log.append_many([{"blob": "x" * 1000}] * 1000)
    assert path.stat().st_size > 20_000_000
    tracemalloc.start()
    try:
        count = sum(1 for _ in replay_events(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 20_000
    assert peak < 8_000_000


def test_records_longer_than_a_read_block_replay_exactly(tmp_path: Path) -> None:
    """Records of hundreds of KiB, far longer than a read block, come back whole between small ones."""
    path = tmp_path / "events.ndjson"
    payloads = [{"i": 0}, {"big": "a" * 300_000}, {"i": 2}, {"big": "b" * 1_500_000}, {"i": 4}]
    with EventLog(path) as log:
        log.append_many(payloads)
    assert [e.payload for e in replay_events(path)] == payloads
    assert [e.seq for e in replay_events(path, from_seq=4)] == [4, 5]


def test_invalid_configuration_fails_at_construction(tmp_path: Path) -> None:
    """Bad durability, group_size or group_interval raise ValueError naming the parameter."""
    for kwargs, name in [
        ({"durability": "sometimes"}, "durability"),
        ({"group_size": 0}, "group_size"),
        ({"group_interval": 0}, "group_interval"),
    ]:
        with pytest.raises(ValueError, match=name):
            EventLog(tmp_path / "x.ndjson", **kwargs)  # type: ignore[arg-type]


def test_unserialisable_payload_writes_nothing(tmp_path: Path) -> None:
    """A payload JSON cannot hold raises before any byte is written or seq consumed."""
    path = tmp_path / "events.ndjson"
    with EventLog(path) as log:
        with pytest.raises(TypeError):
            log.append({"x": object()})
        with pytest.raises(ValueError, match="JSON compliant"):
            log.append(float("nan"))
        assert log.append("ok") == 1


def test_closed_log_refuses_appends(tmp_path: Path) -> None:
    """Appending after close raises EventLogClosedError; close is idempotent."""
    log = EventLog(tmp_path / "events.ndjson")
    log.close()
    log.close()
    with pytest.raises(EventLogClosedError):
        log.append(1)


async def test_async_variants(tmp_path: Path) -> None:
    """aappend / aappend_many / aflush and async with work without blocking the loop."""
    path = tmp_path / "events.ndjson"
    async with EventLog(path, durability="group") as log:
        await log.aappend("a")
        await log.aappend_many(["b", "c"])
        assert await log.aflush() == 3
    assert [e.payload for e in replay_events(path)] == ["a", "b", "c"]


def test_append_spans_carry_counts(tmp_path: Path) -> None:
    """Each commit is one span with the number of events and bytes; replay has its own span."""
    path = tmp_path / "events.ndjson"
    with capture_spans() as spans, EventLog(path) as log:
        log.append_many(range(7))
        list(log.replay())
    span = spans.one("checkpoint.eventlog.append")
    assert span.attributes["rel.checkpoint.events"] == 7
    assert span.attributes["rel.checkpoint.bytes"] == path.stat().st_size
    assert spans.one("checkpoint.replay").attributes["rel.checkpoint.events"] == 7


def test_exclusive_mode_holds_the_lock_until_close(tmp_path: Path) -> None:
    """With exclusive=True a second writer times out until the first closes."""
    path = tmp_path / "events.ndjson"
    first = EventLog(path, exclusive=True)
    first.append(1)
    from rel_io import LockTimeoutError

    with pytest.raises(LockTimeoutError):
        EventLog(path, lock_timeout=0.2)
    first.close()
    with EventLog(path, lock_timeout=5) as second:
        assert second.append(2) == 2


def _mount_tiny_fs(mountpoint: Path) -> bool:
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mountpoint)], capture_output=True, check=False
    )
    return result.returncode == 0


def test_disk_full_during_append_leaves_a_clean_log(tmp_path: Path) -> None:
    """ENOSPC mid-append: the error is raised, no partial record stays, earlier events replay."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    if not _mount_tiny_fs(mountpoint):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        path = mountpoint / "events.ndjson"
        with EventLog(path) as log:
            log.append("small")
            with pytest.raises(FileWriteError):
                log.append("x" * 200_000)
            assert log.append("after") == 2
        assert [e.payload for e in replay_events(path)] == ["small", "after"]
    finally:
        subprocess.run(["umount", str(mountpoint)], check=False)


WRITER = """
import os, sys, time
from rel_checkpoint import EventLog
path, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
open(path + "." + name + ".ready", "w").close()
deadline = time.monotonic() + 60
while not os.path.exists(path + ".go") and time.monotonic() < deadline:
    time.sleep(0.005)
with EventLog(path, durability="group", group_size=16, group_interval=0.002) as log:
    for i in range(count):
        log.append({"w": name, "i": i, "pad": "p" * (i % 50)})
"""


def test_two_processes_appending_never_interleave(tmp_path: Path) -> None:
    """Two processes x 5,000 appends: 10,000 intact records, seqs 1..10000, each writer in order."""
    path = tmp_path / "events.ndjson"
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, "5000"])
        for name in ("left", "right")
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"events.ndjson.{n}.ready").exists() for n in ("left", "right")):
        assert time.monotonic() < deadline, "the writers never started"
        time.sleep(0.01)
    (tmp_path / "events.ndjson.go").touch()  # both start appending at once
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    raw = path.read_bytes()
    assert raw.count(b"\n") == 10_000
    events = list(replay_events(path))
    assert [e.seq for e in events] == list(range(1, 10_001))
    for name in ("left", "right"):
        assert [e.payload["i"] for e in events if e.payload["w"] == name] == list(range(5000))


def test_group_survives_a_lock_timeout(tmp_path: Path) -> None:
    """A group that could not get the lock stays buffered and is written by the next flush."""
    from rel_io import FileLock, LockTimeoutError

    path = tmp_path / "events.ndjson"
    log = EventLog(path, durability="group", group_size=1000, group_interval=30, lock_timeout=0.1)
    log.append("kept")
    with FileLock(str(path) + ".lock"), pytest.raises(LockTimeoutError):
        log.flush()
    assert log.flush() == 1
    log.close()
    assert [e.payload for e in replay_events(path)] == ["kept"]


def test_corruption_offsets_are_exact_across_read_blocks(tmp_path: Path, monkeypatch) -> None:
    """With tiny read blocks, a damaged record far into the file is reported at its exact offset."""
    import rel_checkpoint._replay as replay_module

    monkeypatch.setattr(replay_module, "BLOCK_SIZE", 256)
    path = tmp_path / "events.ndjson"
    with EventLog(path) as log:
        log.append_many([{"i": i, "pad": "z" * (i % 40)} for i in range(200)])
    lines = _lines(path)
    offset = sum(len(x) for x in lines[:150])
    raw = bytearray(path.read_bytes())
    raw[offset + 30] ^= 0x04
    path.write_bytes(bytes(raw))
    first = replay_events(path, from_seq=140)
    assert [next(first).seq for _ in range(3)] == [140, 141, 142]
    with pytest.raises(EventLogCorruptError) as info:
        list(replay_events(path))
    assert (info.value.offset, info.value.seq) == (offset, 151)
    assert [e.seq for e in replay_events(path, skip_corrupt=True)] == [s for s in range(1, 201) if s != 151]


@pytest.mark.parametrize("payload", ["not json", "[" * 100_000 + "]" * 100_000], ids=["text", "too-deep"])
def test_checksummed_payload_that_is_not_json_is_corruption(tmp_path: Path, payload: str) -> None:
    """A record from another writer whose frame verifies but whose payload json cannot read is corruption."""
    from rel_checkpoint._framing import encode_record

    path = tmp_path / "events.ndjson"
    path.write_bytes(encode_record(1, 1.0, '{"ok": 1}') + encode_record(2, 2.0, payload))
    with pytest.raises(EventLogCorruptError) as info:
        list(replay_events(path))
    assert info.value.seq == 2
    assert "not written by rel" in str(info.value)
