"""Run-directory checkpoints (seed 003's checkpoint module)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_snapshot

from rel_checkpoint import (
    Checkpoint,
    CheckpointCorruptError,
    CheckpointNotFoundError,
    EventLog,
    cleanup_old_checkpoints,
    create_checkpoint,
    get_latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
)
from rel_telemetry import get_error_reports
from rel_telemetry.testing import capture_spans


def test_seed_003_checkpoint_example(run_dir: Path) -> None:
    """create_checkpoint then cleanup_old_checkpoints(run_dir, keep_last_n=5) as the seed shows."""
    checkpoint = create_checkpoint(run_dir)
    assert checkpoint.checkpoint_id
    for _ in range(6):
        create_checkpoint(run_dir)
    deleted = cleanup_old_checkpoints(run_dir, keep_last_n=5)
    assert deleted == 2
    assert len(list_checkpoints(run_dir)) == 5


def test_create_checkpoint_fields(run_dir: Path) -> None:
    """The checkpoint reports the snapshot's run id, state and workers, and the event count."""
    with EventLog(run_dir / "events.ndjson") as log:
        log.append_many(["a", "b", "c"])
    cp = create_checkpoint(run_dir)
    assert isinstance(cp, Checkpoint)
    assert (cp.run_id, cp.run_state, cp.completed_workers, cp.events_count) == (
        "run-1",
        "RUNNING",
        ["worker1", "worker2"],
        3,
    )
    assert Path(cp.snapshot_path).read_bytes() == (run_dir / "snapshot.json").read_bytes()
    created = dt.datetime.fromisoformat(cp.created_at.replace("Z", "+00:00"))
    assert created.tzinfo is not None
    assert created.microsecond == int(cp.checkpoint_id[-6:])


def test_create_checkpoint_without_events(run_dir: Path) -> None:
    """No event log means events_count 0."""
    assert create_checkpoint(run_dir).events_count == 0


def test_create_checkpoint_without_snapshot_raises(tmp_path: Path) -> None:
    """A run directory with no snapshot.json gives CheckpointNotFoundError (a FileNotFoundError)."""
    with pytest.raises(FileNotFoundError) as info:
        create_checkpoint(tmp_path)
    assert isinstance(info.value, CheckpointNotFoundError)
    assert "snapshot.json" in str(info.value)


def test_snapshot_is_copied_not_moved(run_dir: Path) -> None:
    """The live snapshot stays in place, unchanged."""
    before = (run_dir / "snapshot.json").read_bytes()
    create_checkpoint(run_dir)
    assert (run_dir / "snapshot.json").read_bytes() == before


def test_list_checkpoints_empty_and_sorted(run_dir: Path) -> None:
    """No checkpoints gives []; several come oldest first, with increasing ids."""
    assert list_checkpoints(run_dir) == []
    made = [create_checkpoint(run_dir) for _ in range(20)]
    listed = list_checkpoints(run_dir)
    assert [c.checkpoint_id for c in listed] == [c.checkpoint_id for c in made]
    assert len({c.checkpoint_id for c in listed}) == 20
    assert [c.created_at for c in listed] == sorted(c.created_at for c in listed)


def test_ids_are_unique_and_ordered_across_processes(run_dir: Path) -> None:
    """Two processes checkpointing at once never collide, and ids still sort."""
    code = (
        "import sys\nfrom rel_checkpoint import create_checkpoint\n"
        "for _ in range(40): create_checkpoint(sys.argv[1])\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(run_dir)]) for _ in range(2)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    ids = [c.checkpoint_id for c in list_checkpoints(run_dir)]
    assert len(ids) == len(set(ids)) == 80
    assert ids == sorted(ids)


def test_get_latest_checkpoint_none_and_newest(run_dir: Path) -> None:
    """None without checkpoints; otherwise the newest."""
    assert get_latest_checkpoint(run_dir) is None
    create_checkpoint(run_dir)
    newest = create_checkpoint(run_dir)
    assert get_latest_checkpoint(run_dir) == newest


@pytest.mark.parametrize("damage", ["metadata", "copy", "copy_missing"])
def test_get_latest_skips_a_corrupt_newest(run_dir: Path, damage: str, caplog) -> None:
    """A corrupt newest checkpoint is skipped with a warning and a report; the older one is used."""
    good = create_checkpoint(run_dir)
    bad = create_checkpoint(run_dir)
    meta = Path(bad.snapshot_path).with_name(f"{bad.checkpoint_id}.json")
    if damage == "metadata":
        meta.write_bytes(meta.read_bytes().replace(b"RUNNING", b"RUNNINX"))
    elif damage == "copy":
        Path(bad.snapshot_path).write_text('{"run_id": "forged"}')
    else:
        Path(bad.snapshot_path).unlink()
    assert get_latest_checkpoint(run_dir) == good
    assert "unusable" in caplog.text
    assert get_error_reports(operation="checkpoint.latest")


def test_list_checkpoints_leaves_out_corrupt_metadata(run_dir: Path, caplog) -> None:
    """A checkpoint whose metadata fails its checksum is not listed; a warning and a report say why."""
    first, second, third = (create_checkpoint(run_dir) for _ in range(3))
    meta = Path(second.snapshot_path).with_name(f"{second.checkpoint_id}.json")
    meta.write_bytes(meta.read_bytes().replace(b"RUNNING", b"RUNNINX"))
    assert list_checkpoints(run_dir) == [first, third]
    assert second.checkpoint_id in caplog.text
    (found,) = get_error_reports(operation="checkpoint.list")
    assert found.context == {"checkpoint_id": second.checkpoint_id}


def test_cleanup_keeps_all_when_fewer(run_dir: Path) -> None:
    """Nothing is deleted while there are no more than keep_last_n."""
    for _ in range(3):
        create_checkpoint(run_dir)
    assert cleanup_old_checkpoints(run_dir, keep_last_n=5) == 0
    assert len(list_checkpoints(run_dir)) == 3


def test_cleanup_deletes_the_oldest(run_dir: Path) -> None:
    """The oldest go; the newest keep_last_n stay."""
    made = [create_checkpoint(run_dir) for _ in range(7)]
    assert cleanup_old_checkpoints(run_dir, keep_last_n=2) == 5
    assert list_checkpoints(run_dir) == made[-2:]
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("2*")) == sorted(
        n for c in made[-2:] for n in (f"{c.checkpoint_id}.json", f"{c.checkpoint_id}.snapshot.json")
    )


def test_cleanup_never_deletes_the_only_valid_checkpoint(run_dir: Path) -> None:
    """When every kept checkpoint is corrupt, the newest valid older one survives."""
    valid = create_checkpoint(run_dir)
    for _ in range(2):
        cp = create_checkpoint(run_dir)
        Path(cp.snapshot_path).write_text("{}")
    assert cleanup_old_checkpoints(run_dir, keep_last_n=2) == 0
    assert get_latest_checkpoint(run_dir) == valid


def test_cleanup_tolerates_vanishing_files_and_orphans(run_dir: Path) -> None:
    """A copy deleted meanwhile or an orphan copy left by a crash does not break cleanup."""
    made = [create_checkpoint(run_dir) for _ in range(4)]
    Path(made[0].snapshot_path).unlink()
    orphan = run_dir / "checkpoints" / "20000101_000000_000000.snapshot.json"
    orphan.write_text("{}")
    assert cleanup_old_checkpoints(run_dir, keep_last_n=1) == 3
    assert not orphan.exists()
    assert list_checkpoints(run_dir) == made[-1:]


def test_cleanup_rejects_bad_keep_last_n(run_dir: Path) -> None:
    """keep_last_n must be at least 1."""
    with pytest.raises(ValueError, match="keep_last_n"):
        cleanup_old_checkpoints(run_dir, keep_last_n=0)


def test_load_checkpoint_by_id(run_dir: Path) -> None:
    """load_checkpoint(run_dir, id) returns the snapshot as it was, even after it changed."""
    cp = create_checkpoint(run_dir)
    original = json.loads((run_dir / "snapshot.json").read_text())
    write_snapshot(run_dir, run_id="run-1", run_state="DONE", completed_workers=[])
    assert load_checkpoint(run_dir, cp.checkpoint_id) == original
    assert cp.load() == original


def test_load_checkpoint_not_found_and_bad_id(run_dir: Path) -> None:
    """An unknown id is CheckpointNotFoundError; a malformed one a ValueError."""
    with pytest.raises(CheckpointNotFoundError):
        load_checkpoint(run_dir, "20200101_000000_000000")
    with pytest.raises(ValueError, match="checkpoint_id"):
        load_checkpoint(run_dir, "../../etc/passwd")


def test_load_checkpoint_of_tampered_copy_raises(run_dir: Path) -> None:
    """A copy changed after the checkpoint fails its checksum."""
    cp = create_checkpoint(run_dir)
    Path(cp.snapshot_path).write_text('{"run_id": "run-1", "run_state": "FORGED"}')
    with pytest.raises(CheckpointCorruptError):
        load_checkpoint(run_dir, cp.checkpoint_id)


def test_invalid_snapshot_is_a_clear_error(tmp_path: Path) -> None:
    """A snapshot that is not a JSON object, or with a non-string run_id, is refused."""
    from rel_checkpoint import InvalidSnapshotError

    (tmp_path / "snapshot.json").write_text("[1, 2]")
    with pytest.raises(InvalidSnapshotError):
        create_checkpoint(tmp_path)
    write_snapshot(tmp_path, run_id=7)
    with pytest.raises(InvalidSnapshotError, match="run_id"):
        create_checkpoint(tmp_path)
    (tmp_path / "snapshot.json").write_bytes(b"[" * 100_000)  # too deep for json: still a clear error
    with pytest.raises(InvalidSnapshotError, match="not valid JSON"):
        create_checkpoint(tmp_path)


def test_create_checkpoint_span(run_dir: Path) -> None:
    """Creating a checkpoint is one span with its id, run id and event count."""
    with capture_spans() as spans:
        cp = create_checkpoint(run_dir)
    span = spans.one("checkpoint.create")
    assert span.attributes["rel.checkpoint.id"] == cp.checkpoint_id
    assert span.attributes["rel.checkpoint.run_id"] == "run-1"
    assert span.attributes["rel.checkpoint.events"] == 0
