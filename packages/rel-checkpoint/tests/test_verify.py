from __future__ import annotations

import json
from pathlib import Path

from rel_checkpoint import EventLog, Run, verify_event_log, verify_run_dir
from rel_telemetry import traced
from rel_telemetry.testing import capture_spans


def _log(path: Path, n: int) -> None:
    with EventLog(path) as log:
        for i in range(n):
            log.append({"i": i})


def test_sound_log_verifies(tmp_path: Path) -> None:
    """A log written by EventLog verifies: every record, last seq, no findings."""
    path = tmp_path / "events.ndjson"
    _log(path, 25)
    report = verify_event_log(path)
    assert report.ok
    assert (report.records, report.last_seq) == (25, 25)
    assert report.lines()[-1].endswith("OK")


def test_torn_tail_reported_and_file_untouched(tmp_path: Path) -> None:
    """One incomplete last record is a torn tail; verifying never modifies the file."""
    path = tmp_path / "events.ndjson"
    _log(path, 3)
    size = path.stat().st_size
    with open(path, "ab") as fh:
        fh.write(b'{"crc":"deadbeef","seq":4,"ts":1.0,"pay')
    before = path.read_bytes()
    report = verify_event_log(path)
    assert not report.ok
    assert report.torn_tail is not None
    assert report.torn_tail[0] == size
    assert report.corrupt == ()
    assert path.read_bytes() == before


def test_corruption_before_tail_has_offset(tmp_path: Path) -> None:
    """A damaged record followed by valid ones is corruption at its byte offset."""
    path = tmp_path / "events.ndjson"
    _log(path, 5)
    data = bytearray(path.read_bytes())
    offset = data.index(b"\n") + 1
    data[offset + 25] ^= 0x02
    path.write_bytes(bytes(data))
    report = verify_event_log(path)
    assert not report.ok
    assert report.torn_tail is None
    assert [o for o, _ in report.corrupt] == [offset]


def test_sequence_gap_is_corruption(tmp_path: Path) -> None:
    """A missing record (a gap in sequence numbers) is reported even though every CRC verifies."""
    path = tmp_path / "events.ndjson"
    _log(path, 4)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + lines[2] + lines[3])
    report = verify_event_log(path)
    assert not report.ok
    assert "sequence 3 where 2 was expected" in report.corrupt[0][1]


def test_run_dir_verification(tmp_path: Path) -> None:
    """verify_run_dir checks every checkpoint's metadata and snapshot copy."""
    root = tmp_path / "run"
    with Run(root) as run:
        with run.step("a"):
            pass
        run.checkpoint()
        run.checkpoint()
    report = verify_run_dir(root)
    assert report.ok
    assert len(report.checkpoints) == 2
    copies = sorted((root / "checkpoints").glob("*.snapshot.json"))
    copies[0].write_text(json.dumps({"run_id": "forged"}))
    report = verify_run_dir(root)
    assert not report.ok
    assert report.checkpoints[0][1] is not None
    assert report.checkpoints[1][1] is None


def test_step_span_covers_its_body(tmp_path: Path) -> None:
    """A step is one span; work inside it nests under it, and its record is written inside it."""
    with capture_spans() as spans, Run(tmp_path / "run") as run:
        with run.step("fetch"):
            pass
        with run.step("publish"), traced("inner work"):
            pass
    steps = {(s.attributes or {})["rel.checkpoint.step"]: s for s in spans.named("checkpoint.step")}
    assert set(steps) == {"fetch", "publish"}
    publish = steps["publish"]
    inner = spans.one("inner work")
    assert inner.parent is not None
    assert inner.parent.span_id == publish.context.span_id
    appends = spans.named("checkpoint.eventlog.append")
    assert any(s.parent is not None and s.parent.span_id == publish.context.span_id for s in appends)


def test_failed_step_span_is_an_error_and_records_nothing(tmp_path: Path) -> None:
    """A step whose body raises marks its span failed and records no completion."""
    with capture_spans() as spans, Run(tmp_path / "run") as run:
        try:
            with run.step("boom"):
                raise RuntimeError("step failed")
        except RuntimeError:
            pass
        assert "boom" not in run.completed
    (span,) = spans.named("checkpoint.step")
    assert not span.status.is_ok
