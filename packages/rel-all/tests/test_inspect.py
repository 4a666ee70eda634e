from __future__ import annotations

import json
from pathlib import Path

import pytest

from rel_checkpoint import EventLog, Run

from .conftest import Rel


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run directory with two checkpoints and a few events."""
    root = tmp_path / "run"
    with Run(root, run_id="r1") as run:
        for name in ("a", "b"):
            with run.step(name):
                pass
            run.checkpoint()
        run.mark_completed("c")
    return root


def test_checkpoint_ls_and_show(rel: Rel, run_dir: Path) -> None:
    """`ls` lists the checkpoints oldest first; `show` prints the latest as JSON."""
    out = rel("checkpoint", "ls", str(run_dir))
    assert out.returncode == 0
    rows = out.stdout.strip().splitlines()
    assert len(rows) == 2
    assert "completed=1" in rows[0]
    assert "completed=2" in rows[1]
    shown = rel("checkpoint", "show", str(run_dir))
    assert shown.returncode == 0
    assert json.loads(shown.stdout)["completed_workers"] == ["a", "b"]


def test_checkpoint_verify_ok_then_corrupt(rel: Rel, run_dir: Path) -> None:
    """`verify` exits 0 on a sound run directory and 1 naming a tampered checkpoint."""
    assert rel("checkpoint", "verify", str(run_dir)).returncode == 0
    meta = sorted((run_dir / "checkpoints").glob("*_*_*.json"))
    meta = [p for p in meta if not p.name.endswith(".snapshot.json")]
    data = json.loads(meta[0].read_text())
    data["completed_workers"] = ["forged"]
    meta[0].write_text(json.dumps(data))
    out = rel("checkpoint", "verify", str(run_dir))
    assert out.returncode == 1
    assert "CORRUPT" in out.stdout
    assert meta[0].stem in out.stdout


def test_checkpoint_missing_dir(rel: Rel, tmp_path: Path) -> None:
    """A directory that does not exist is a bad argument: one line naming it, exit 2."""
    out = rel("checkpoint", "ls", str(tmp_path / "nope"))
    assert out.returncode == 2
    assert "no such directory" in out.stderr


def test_checkpoint_verify_refuses_a_directory_that_is_no_run(rel: Rel, tmp_path: Path) -> None:
    """`verify` on an ordinary directory does not report OK: it says it is not a run directory (exit 2)."""
    (tmp_path / "notes.txt").write_text("hello")
    out = rel("checkpoint", "verify", str(tmp_path))
    assert out.returncode == 2
    assert "not a run directory" in out.stderr
    assert "OK" not in out.stdout


def test_checkpoint_verify_truncated_snapshot_copy(rel: Rel, run_dir: Path) -> None:
    """A checkpoint whose snapshot copy was cut short on disk is reported corrupt: exit 1."""
    copies = sorted((run_dir / "checkpoints").glob("*.snapshot.json"))
    assert copies, sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    data = copies[-1].read_bytes()
    copies[-1].write_bytes(data[: len(data) // 2])
    out = rel("checkpoint", "verify", str(run_dir))
    assert out.returncode == 1, out.stdout
    assert "CORRUPT" in out.stdout
    assert "NOT OK" in out.stdout


def test_checkpoint_verify_reports_a_torn_event_log(rel: Rel, run_dir: Path) -> None:
    """A run directory whose events.ndjson ends in a torn append fails `verify` (exit 1)."""
    with open(run_dir / "events.ndjson", "ab") as fh:
        fh.write(b'{"seq": 99, "crc"')
    out = rel("checkpoint", "verify", str(run_dir))
    assert out.returncode == 1, out.stdout
    assert "torn tail" in out.stdout


def test_checkpoint_show_unknown_and_malformed_id(rel: Rel, run_dir: Path) -> None:
    """`show --id` of a checkpoint that does not exist exits 1; a malformed id is a bad argument (2)."""
    missing = rel("checkpoint", "show", str(run_dir), "--id", "19990101_000000_000000")
    assert missing.returncode == 1
    assert "19990101_000000_000000" in missing.stderr
    malformed = rel("checkpoint", "show", str(run_dir), "--id", "latest")
    assert malformed.returncode == 2
    assert len(malformed.stderr.strip().splitlines()) == 1
    assert "rel checkpoint ls" in malformed.stderr


def test_checkpoint_show_falls_back_past_a_corrupt_latest(rel: Rel, run_dir: Path) -> None:
    """With the newest checkpoint damaged, `show` prints the older valid one."""
    metas = [p for p in sorted((run_dir / "checkpoints").glob("*.json")) if ".snapshot." not in p.name]
    metas[-1].write_text("{ torn")
    out = rel("checkpoint", "show", str(run_dir))
    assert out.returncode == 1, out.stderr
    assert json.loads(out.stdout)["completed_workers"] == ["a"]
    assert f"newer checkpoint {metas[-1].stem} is corrupt" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_checkpoint_ls_lists_a_corrupt_checkpoint(rel: Rel, run_dir: Path) -> None:
    """`ls` marks a damaged checkpoint CORRUPT among the valid ones and exits 1."""
    metas = [p for p in sorted((run_dir / "checkpoints").glob("*.json")) if ".snapshot." not in p.name]
    metas[0].write_bytes(metas[0].read_bytes()[:-20])
    out = rel("checkpoint", "ls", str(run_dir))
    assert out.returncode == 1
    rows = out.stdout.strip().splitlines()
    assert len(rows) == 2
    assert rows[0].startswith(f"{metas[0].stem}  CORRUPT")
    assert "completed=2" in rows[1]
    assert "Traceback" not in out.stderr


def _log(path: Path, n: int) -> None:
    with EventLog(path) as log:
        for i in range(n):
            log.append({"i": i})


def test_events_verify_and_tail(rel: Rel, tmp_path: Path) -> None:
    """`verify` accepts a sound log; `tail -n 2` prints the last two records."""
    log = tmp_path / "events.ndjson"
    _log(log, 5)
    out = rel("events", "verify", str(log))
    assert out.returncode == 0
    assert "5 valid records" in out.stdout
    tail = rel("events", "tail", str(log), "-n", "2")
    assert [json.loads(line)["payload"]["i"] for line in tail.stdout.splitlines()] == [3, 4]


def test_events_verify_reports_torn_tail_without_repairing(rel: Rel, tmp_path: Path) -> None:
    """A torn last record is reported (exit 1) and the file is left untouched."""
    log = tmp_path / "events.ndjson"
    _log(log, 3)
    with open(log, "ab") as fh:
        fh.write(b'{"crc":"0000')
    before = log.read_bytes()
    out = rel("events", "verify", str(log))
    assert out.returncode == 1
    assert "torn tail" in out.stdout
    assert log.read_bytes() == before


def test_events_tail_of_a_torn_log_shows_the_records_and_exits_1(rel: Rel, tmp_path: Path) -> None:
    """`tail` prints the valid records, warns of the torn tail on stderr and exits 1, leaving the file alone."""
    log = tmp_path / "events.ndjson"
    _log(log, 3)
    with open(log, "ab") as fh:
        fh.write(b'{"crc":"0000')
    before = log.read_bytes()
    out = rel("events", "tail", str(log))
    assert out.returncode == 1
    assert [json.loads(line)["payload"]["i"] for line in out.stdout.splitlines()] == [0, 1, 2]
    assert "torn record" in out.stderr
    assert log.read_bytes() == before


def test_events_verify_reports_corruption_before_the_tail(rel: Rel, tmp_path: Path) -> None:
    """A flipped byte in the middle is corruption with its byte offset, exit 1."""
    log = tmp_path / "events.ndjson"
    _log(log, 4)
    data = bytearray(log.read_bytes())
    second = data.index(b"\n") + 1
    data[second + 30] ^= 0x01
    log.write_bytes(bytes(data))
    out = rel("events", "verify", str(log))
    assert out.returncode == 1
    assert f"corrupt record at byte offset {second}" in out.stdout


def test_events_accepts_a_run_directory(rel: Rel, run_dir: Path) -> None:
    """LOG may be the run directory: its events.ndjson is read."""
    out = rel("events", "tail", str(run_dir), "-n", "1")
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 1
    assert rel("events", "verify", str(run_dir)).returncode == 0


def test_events_on_garbage_file(rel: Rel, tmp_path: Path) -> None:
    """A file that is not an event log at all fails `verify` and `tail` (exit 1) with a short report."""
    junk = tmp_path / "junk.ndjson"
    junk.write_text("".join(f"line {i} is not a record\n" for i in range(500)))
    out = rel("events", "verify", str(junk))
    assert out.returncode == 1
    assert len(out.stdout.splitlines()) <= 42
    assert "more findings not shown" in out.stdout
    assert out.stdout.splitlines()[-1].endswith("NOT OK")
    tail = rel("events", "tail", str(junk))
    assert tail.returncode == 1
    assert len(tail.stderr.strip().splitlines()) == 1


def test_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    """`rel checkpoint show ... | head -c 10` ends quietly, without a traceback."""
    import subprocess
    import sys

    run_dir = tmp_path / "big"
    with Run(run_dir) as run:
        run.checkpoint(notes=["x" * 100] * 5000)  # far more than a pipe buffer holds

    out = subprocess.run(
        f"{sys.executable} -m rel_all checkpoint show {run_dir} | head -c 10",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in out.stderr
    assert "BrokenPipeError" not in out.stderr
