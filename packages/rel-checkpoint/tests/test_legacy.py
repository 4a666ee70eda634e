"""Run directories and event logs begun by seed 003's system: plain JSON lines, no frame."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import write_snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rel_checkpoint import (
    EventLog,
    EventLogCorruptError,
    Run,
    cleanup_old_checkpoints,
    create_checkpoint,
    get_incomplete_workers,
    replay_events,
    resume_run,
    verify_event_log,
    verify_run_dir,
)
from rel_telemetry import get_error_reports

ALL = ["worker1", "worker2", "worker3", "worker4"]
LEGACY = [
    {"event_type": "RUN_STARTED", "run_id": "run-1"},
    {"event_type": "WORKER_COMPLETED", "worker": "worker1"},
    {"event_type": "WORKER_COMPLETED", "worker": "worker2"},
]


def _legacy_log(path: Path, events: list[object] = LEGACY) -> bytes:
    """Write events the way the seed's system did: one json.dumps per line."""
    raw = "".join(json.dumps(e) + "\n" for e in events).encode()
    path.write_bytes(raw)
    return raw


@pytest.fixture
def legacy_run(run_dir: Path) -> Path:
    """A seed-003 run directory: snapshot.json and an unframed events.ndjson."""
    _legacy_log(run_dir / "events.ndjson")
    return run_dir


def test_seed_003_examples_work_on_an_existing_run_dir(legacy_run: Path) -> None:
    """create_checkpoint, cleanup_old_checkpoints and resume_run work with only the import changed."""
    checkpoint = create_checkpoint(legacy_run)
    assert checkpoint.events_count == 3
    deleted = cleanup_old_checkpoints(legacy_run, keep_last_n=5)
    assert deleted == 0
    all_workers = ["worker1", "worker2", "worker3", "worker4"]
    result = resume_run(legacy_run, all_workers)
    assert (result.run_id, result.checkpoint_loaded, result.success) == (
        "run-1",
        checkpoint.checkpoint_id,
        True,
    )
    assert result.workers_to_rerun == ["worker3", "worker4"]
    assert get_incomplete_workers(legacy_run, all_workers) == ["worker3", "worker4"]
    assert not get_error_reports()  # nothing was taken for corruption


def test_legacy_lines_replay_with_line_numbers(legacy_run: Path) -> None:
    """Each unframed line is an event: seq is its line number, timestamp 0.0, payload the object."""
    events = list(replay_events(legacy_run))
    assert [(e.seq, e.timestamp, e.payload) for e in events] == [
        (1, 0.0, LEGACY[0]),
        (2, 0.0, LEGACY[1]),
        (3, 0.0, LEGACY[2]),
    ]
    assert [e.seq for e in replay_events(legacy_run, from_seq=3)] == [3]
    cp = create_checkpoint(legacy_run)
    assert list(replay_events(legacy_run, cp)) == []


def test_appends_are_framed_after_the_untouched_legacy_lines(legacy_run: Path) -> None:
    """Appending keeps the legacy bytes as they are and continues the numbering in framed records."""
    path = legacy_run / "events.ndjson"
    before = path.read_bytes()
    with EventLog(path) as log:
        assert log.last_seq == 3
        assert log.recovery == []
        assert log.append({"type": "step_completed", "step": "worker3"}) == 4
    assert path.read_bytes().startswith(before)
    with EventLog(path, durability="group") as log:  # reopening reads the framed tail
        assert log.last_seq == 4
        log.append("five")
        assert log.flush() == 5
    events = list(replay_events(path))
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert [e.payload for e in events][3:] == [{"type": "step_completed", "step": "worker3"}, "five"]
    assert events[3].timestamp > 0
    # No checkpoint yet: only the completion rel logged counts (seed 003's fresh start).
    assert resume_run(legacy_run, ALL).workers_to_rerun == ["worker1", "worker2", "worker4"]
    check = verify_event_log(path)
    assert (check.ok, check.records, check.last_seq) == (True, 5, 5)


def test_two_writers_take_turns_on_a_legacy_log(legacy_run: Path) -> None:
    """Two open logs appending in turn keep one contiguous sequence after the legacy lines."""
    path = legacy_run / "events.ndjson"
    with EventLog(path) as first, EventLog(path) as second:
        seqs = [log.append(i) for i in range(6) for log in (first, second)][::2]
    assert seqs == [4, 6, 8, 10, 12, 14]
    assert [e.seq for e in replay_events(path)] == list(range(1, 16))


def test_torn_last_legacy_line_is_detected_and_truncated(legacy_run: Path) -> None:
    """A cut-off last line is ignored by replay and truncated (with a report) before an append."""
    path = legacy_run / "events.ndjson"
    good = path.read_bytes()
    path.write_bytes(good + b'{"event_type": "WORKER_COMP')
    assert len(list(replay_events(path))) == 3
    check = verify_event_log(path)
    assert check.torn_tail == (len(good), 27)
    assert check.corrupt == ()
    with EventLog(path) as log:
        (report,) = log.recovery
        assert (report.offset, report.last_seq, report.dropped_lines) == (len(good), 3, 1)
        assert log.append("next") == 4
    assert path.read_bytes().startswith(good + b'{"crc":"')
    assert get_error_reports(operation="eventlog.recover")


def test_cut_off_number_is_torn_but_a_complete_object_without_newline_is_kept(tmp_path: Path) -> None:
    """Only a complete object or array may lack its newline; a bare value could be cut short."""
    path = tmp_path / "events.ndjson"
    path.write_bytes(b'{"n": 1}\n12')
    assert [e.payload for e in replay_events(path)] == [{"n": 1}]
    path.write_bytes(b'{"n": 1}\n{"n": 2}')
    assert [(e.seq, e.payload) for e in replay_events(path)] == [(1, {"n": 1}), (2, {"n": 2})]
    assert verify_event_log(path).ok
    with EventLog(path) as log:
        assert log.recovery == []
        assert log.append({"n": 3}) == 3
    assert path.read_bytes().startswith(b'{"n": 1}\n{"n": 2}\n{"crc":"')
    assert [e.payload for e in replay_events(path)] == [{"n": 1}, {"n": 2}, {"n": 3}]


ENDING_A_LINE_PAST_A_FILE_SIZE_LIMIT = """
import resource, signal, sys
from rel_checkpoint import EventLog
from rel_io import FileWriteError

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), resource.RLIM_INFINITY))
try:
    EventLog(sys.argv[1])
except FileWriteError as err:
    print(err.errno, err)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
def test_a_newline_that_cannot_be_written_is_a_typed_error(tmp_path: Path) -> None:
    """When ending a legacy writer's last line fails (a full disk), opening raises FileWriteError naming the log."""
    path = tmp_path / "events.ndjson"
    path.write_bytes(b'{"n": 1}')
    argv = [sys.executable, "-c", ENDING_A_LINE_PAST_A_FILE_SIZE_LIMIT, str(path), "8"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.startswith(f"{errno.EFBIG} could not end the last line of event log"), done
    assert str(path) in done.stdout
    assert path.read_bytes() == b'{"n": 1}'


def test_invalid_json_inside_a_legacy_log(legacy_run: Path) -> None:
    """As for any log: replay raises with offset and seq, skip_corrupt reads past, resume skips it."""
    path = legacy_run / "events.ndjson"
    lines = path.read_bytes().splitlines(keepends=True)
    lines.insert(1, b"{not json at all\n")
    path.write_bytes(b"".join(lines))
    with pytest.raises(EventLogCorruptError) as info:
        list(replay_events(path))
    assert (info.value.offset, info.value.seq) == (len(lines[0]), 2)
    assert "valid records follow it" in str(info.value)
    skipped = list(replay_events(path, skip_corrupt=True))
    assert [e.seq for e in skipped] == [1, 3, 4]  # the bad line keeps its number
    assert [e.payload for e in skipped] == LEGACY
    result = resume_run(legacy_run, ALL)
    assert result.success
    assert result.workers_to_rerun == ALL  # no checkpoint: seed 003's fresh start
    assert get_error_reports(operation="eventlog.replay")
    with EventLog(path) as log:  # corruption before the tail does not block appends
        assert log.append("after") == 5
    (bad,) = verify_event_log(path).corrupt
    assert bad[0] == len(lines[0])


def test_several_bad_lines_ending_a_legacy_log_are_corruption(legacy_run: Path) -> None:
    """Two bad last lines are more than a torn write: opening refuses, repair saves them aside."""
    path = legacy_run / "events.ndjson"
    good = path.read_bytes()
    path.write_bytes(good + b"garbage\n{also garbage\n")
    with pytest.raises(EventLogCorruptError) as info:
        list(replay_events(path))
    assert info.value.offset == len(good)
    assert "first of 2 bad lines ending the file" in str(info.value)
    with pytest.raises(EventLogCorruptError) as info:
        EventLog(path)
    assert (info.value.offset, info.value.seq) == (len(good), 4)
    with EventLog(path, repair=True) as log:
        (report,) = log.recovery
        assert Path(report.saved_to or "").read_bytes() == b"garbage\n{also garbage\n"
        assert log.append("x") == 4


def test_deeply_nested_garbage_line_is_a_bad_line(tmp_path: Path) -> None:
    """A line of thousands of "[" is too deep for json, yet is only a bad line: corruption or a torn tail."""
    path = tmp_path / "events.ndjson"
    deep = b"[" * 100_000 + b"\n"
    path.write_bytes(b'{"a": 1}\n' + deep + b'{"a": 2}\n')
    with pytest.raises(EventLogCorruptError) as info:
        list(replay_events(path))
    assert (info.value.offset, info.value.seq) == (9, 2)
    assert [e.payload for e in replay_events(path, skip_corrupt=True)] == [{"a": 1}, {"a": 2}]
    assert [offset for offset, _ in verify_event_log(path).corrupt] == [9]
    path.write_bytes(b'{"a": 1}\n' + deep)
    assert [e.payload for e in replay_events(path)] == [{"a": 1}]
    assert verify_event_log(path).torn_tail == (9, len(deep))
    with EventLog(path) as log:
        assert (log.last_seq, log.recovery[0].offset) == (1, 9)
        assert log.append("b") == 2


def test_blank_lines_keep_their_number(tmp_path: Path) -> None:
    """A blank line yields nothing but counts, so seq stays the line number."""
    path = tmp_path / "events.ndjson"
    path.write_bytes(b'{"a": 1}\n\n{"b": 2}\n\n')
    assert [(e.seq, e.payload) for e in replay_events(path)] == [(1, {"a": 1}), (3, {"b": 2})]
    with EventLog(path) as log:
        assert log.append("c") == 5
    check = verify_event_log(path)
    assert (check.ok, check.records, check.last_seq) == (True, 3, 5)


def test_unframed_line_after_framed_records_is_corruption(tmp_path: Path) -> None:
    """Legacy lines are only a prefix: a plain line written after rel's records is not an event."""
    path = tmp_path / "events.ndjson"
    with EventLog(path) as log:
        log.append_many(["a", "b"])
    framed = path.read_bytes()
    path.write_bytes(framed + b'{"plain": true}\n')
    assert [e.payload for e in replay_events(path)] == ["a", "b"]  # a torn tail at most
    with EventLog(path) as log:
        assert len(log.recovery) == 1
        assert log.append("c") == 3
    raw = path.read_bytes()
    path.write_bytes(raw[: len(framed)] + b'{"plain": true}\n' + raw[len(framed) :])
    with pytest.raises(EventLogCorruptError) as info:
        list(replay_events(path))
    assert (info.value.offset, info.value.seq) == (len(framed), 3)


def test_a_torn_first_frame_ends_the_legacy_prefix_for_writers_too(tmp_path: Path) -> None:
    """Plain lines after a damaged frame are bad for replay, verify and a writer alike: no append after them."""
    path = tmp_path / "events.ndjson"
    torn = b'{"crc":"0badc0de","seq":3,"ts":1.0,"pay'  # a first append cut short, no newline
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n' + torn + b'{"a": 4}\n{"a": 5}\n')
    with pytest.raises(EventLogCorruptError) as info:
        list(replay_events(path))
    assert info.value.offset == 18
    check = verify_event_log(path)
    assert (check.last_seq, [offset for offset, _ in check.corrupt]) == (2, [18, len(torn) + 27])
    with pytest.raises(EventLogCorruptError) as info:
        EventLog(path)
    assert (info.value.offset, info.value.seq) == (18, 3)
    with EventLog(path, repair=True) as log:
        assert log.append("c") == 3
    assert [(e.seq, e.payload) for e in replay_events(path)] == [(1, {"a": 1}), (2, {"a": 2}), (3, "c")]


def test_a_frame_with_a_damaged_header_is_never_read_as_a_legacy_event(tmp_path: Path) -> None:
    """A framed record whose "crc" key lost a bit is still valid JSON, yet is refused, not replayed."""
    path = tmp_path / "events.ndjson"
    with EventLog(path) as log:
        log.append_many(["a", "b"])
    raw = path.read_bytes()
    path.write_bytes(raw.replace(b'{"crc"', b'{"cbc"', 1))
    json.loads(path.read_bytes().splitlines()[0])  # still JSON
    with pytest.raises(EventLogCorruptError) as info:
        list(replay_events(path))
    assert (info.value.offset, info.value.seq) == (0, 1)
    assert [e.payload for e in replay_events(path, skip_corrupt=True)] == ["b"]


def test_run_opens_a_legacy_run_dir(legacy_run: Path) -> None:
    """Run works on a seed run directory and reads step completions from legacy lines too."""
    with (legacy_run / "events.ndjson").open("a") as fh:
        fh.write(json.dumps({"type": "step_completed", "step": "worker1"}) + "\n")
    with Run(legacy_run) as run:
        assert run.run_id == "run-1"
        assert list(run.completed) == ["worker1"]
        with run.step("worker2"):
            pass
    assert get_incomplete_workers(legacy_run, ALL) == ["worker3", "worker4"]
    assert verify_run_dir(legacy_run).ok


def test_legacy_run_dir_without_any_checkpoint_uses_the_snapshot_run_id(tmp_path: Path) -> None:
    """A fresh start on a legacy directory names the snapshot's run and reruns every worker."""
    write_snapshot(tmp_path, run_id="legacy-7", run_state="RUNNING", completed_workers=["worker1"])
    _legacy_log(tmp_path / "events.ndjson")
    result = resume_run(tmp_path, ALL)
    assert (result.run_id, result.workers_to_rerun, result.success) == ("legacy-7", ALL, True)


legacy_values = st.dictionaries(
    st.text(max_size=6),
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    max_size=4,
)
damage = st.one_of(
    st.tuples(st.just("flip"), st.integers(min_value=0), st.integers(min_value=1, max_value=255)),
    st.tuples(st.just("truncate"), st.integers(min_value=0), st.just(0)),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=st.lists(legacy_values, min_size=1, max_size=6),
    framed=st.lists(st.integers(), max_size=3),
    how=damage,
)
def test_damaged_mixed_log_never_replays_wrong_data(
    events: list[dict[str, object]], framed: list[int], how: tuple[str, int, int]
) -> None:
    """Legacy lines then framed records, damaged: replay gives written records or raises the documented error."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.ndjson"
        _legacy_log(path, events)  # type: ignore[arg-type]
        with EventLog(path) as log:
            log.append_many(framed)
        written = list(enumerate([*events, *framed], start=1))
        raw = path.read_bytes()
        kind, where, mask = how
        where %= len(raw)
        if kind == "flip":
            damaged = bytearray(raw)
            damaged[where] ^= mask
            path.write_bytes(bytes(damaged))
        else:
            path.write_bytes(raw[:where])
        replayed: list[tuple[int, object]] | None = None
        offset: int | None = None
        try:
            replayed = [(e.seq, e.payload) for e in replay_events(path)]
        except EventLogCorruptError as err:
            offset = err.offset
        if replayed is None:
            assert offset is not None
        else:
            assert [seq for seq, _ in replayed] == [seq for seq, _ in written[: len(replayed)]]
            wrong = [seq for (seq, got), (_, put) in zip(replayed, written, strict=False) if got != put]
            # A legacy line has no checksum: a flip that leaves valid JSON goes unseen. A framed one never.
            assert len(wrong) <= (1 if kind == "flip" else 0)
            assert all(seq <= len(events) for seq in wrong)
        check = verify_event_log(path)
        try:
            log = EventLog(path)
        except EventLogCorruptError:
            return
        with log:
            assert log.last_seq == check.last_seq  # the writer goes on where readers stop
            assert log.append("next") == check.last_seq + 1


@settings(max_examples=150, deadline=None)
@given(raw=st.binary(max_size=60).map(lambda b: b.replace(b"\x00", b"\n")), chunk=st.integers(1, 8))
def test_lines_are_read_backwards_exactly(raw: bytes, chunk: int) -> None:
    """The backward line reader behind tail scans yields every line with its offset, whatever the chunk."""
    from rel_checkpoint._framing import lines_backward

    with tempfile.TemporaryFile() as fh:
        fh.write(raw)
        fh.flush()
        got = list(lines_backward(fh.fileno(), len(raw), chunk))
    expected, offset = [], 0
    parts = raw.split(b"\n")
    for i, part in enumerate(parts):
        line = part + (b"\n" if i < len(parts) - 1 else b"")
        if line:
            expected.append((offset, line))
        offset += len(line)
    assert got == expected[::-1]


def test_a_long_line_is_read_backwards_in_few_growing_reads(tmp_path: Path, monkeypatch) -> None:
    """A tail of 8 MB without a newline (zero-filled by a crash) takes a few reads, not one per block."""
    from rel_checkpoint import _framing

    path = tmp_path / "events.ndjson"
    with EventLog(path) as log:
        log.append_many(["a", "b"])
    good = path.stat().st_size
    with path.open("ab") as fh:
        fh.write(bytes(8_000_000))
    reads: list[int] = []
    real_pread = os.pread

    def counting_pread(fd: int, n: int, offset: int) -> bytes:
        reads.append(n)
        return real_pread(fd, n, offset)

    monkeypatch.setattr(_framing.os, "pread", counting_pread)
    fd = os.open(path, os.O_RDONLY)
    try:
        lines = list(_framing.lines_backward(fd, os.fstat(fd).st_size))
    finally:
        os.close(fd)
    monkeypatch.undo()
    assert [offset for offset, _ in lines][:2] == [good, good // 2]
    assert len(reads) <= 10  # over 120 with one 64 KiB read per block, each re-copying the line
    assert sum(reads) == good + 8_000_000
    with EventLog(path) as log:  # a 2-line log plus one torn line: truncated
        assert (log.last_seq, log.recovery[0].offset) == (2, good)


def test_opening_a_large_legacy_log_holds_little_memory(tmp_path: Path) -> None:
    """Finding the end of a 20 MB unframed log reads it in bounded blocks, not all at once."""
    import tracemalloc

    path = tmp_path / "events.ndjson"
    line = json.dumps({"event_type": "TICK", "pad": "x" * 200}).encode() + b"\n"
    path.write_bytes(line * 100_000)
    tracemalloc.start()
    try:
        with EventLog(path) as log:
            assert log.last_seq == 100_000
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000
