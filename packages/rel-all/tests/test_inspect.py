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
    """A directory that does not exist is a clear error, exit 1."""
    out = rel("checkpoint", "ls", str(tmp_path / "nope"))
    assert out.returncode == 1
    assert "no such directory" in out.stderr


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
