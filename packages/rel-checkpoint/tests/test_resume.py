"""resume_run, replay_events, get_incomplete_workers and Run.step (seed 003's resume module)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_snapshot

from rel_checkpoint import (
    EventLog,
    EventLogCorruptError,
    ResumeResult,
    Run,
    create_checkpoint,
    get_incomplete_workers,
    replay_events,
    resume_run,
)
from rel_io import generate_unique_key
from rel_telemetry import get_error_reports
from rel_telemetry.testing import capture_spans

ALL = ["worker1", "worker2", "worker3", "worker4"]


def test_seed_003_resume_example(run_dir: Path) -> None:
    """The seed's resume example: rerun exactly the workers not completed."""
    create_checkpoint(run_dir)
    all_workers = ["worker1", "worker2", "worker3", "worker4"]
    result = resume_run(run_dir, all_workers)
    assert result.run_id == "run-1"
    executed = []
    for worker in result.workers_to_rerun:
        executed.append(worker)
    assert executed == ["worker3", "worker4"]


def test_fresh_start_without_checkpoint(run_dir: Path) -> None:
    """No checkpoint: every worker runs; the run id comes from the snapshot."""
    assert resume_run(run_dir, ALL) == ResumeResult("run-1", "", "", ALL, True)


def test_resume_partial(run_dir: Path) -> None:
    """Resuming from a checkpoint reports its state and id."""
    cp = create_checkpoint(run_dir)
    result = resume_run(run_dir, ALL)
    assert result == ResumeResult("run-1", "RUNNING", cp.checkpoint_id, ["worker3", "worker4"], True)


def test_resume_all_complete(run_dir: Path) -> None:
    """Nothing to rerun when every worker completed."""
    write_snapshot(run_dir, run_id="run-1", run_state="DONE", completed_workers=ALL)
    create_checkpoint(run_dir)
    result = resume_run(run_dir, ALL)
    assert result.workers_to_rerun == []
    assert result.resumed_from_state == "DONE"


def test_resume_missing_snapshot_copy(run_dir: Path) -> None:
    """The only checkpoint lost its snapshot: success is False and every worker reruns."""
    cp = create_checkpoint(run_dir)
    Path(cp.snapshot_path).unlink()
    result = resume_run(run_dir, ALL)
    assert (result.success, result.workers_to_rerun, result.checkpoint_loaded) == (False, ALL, "")
    assert get_error_reports(operation="checkpoint.resume")


def test_resume_with_invalid_json_in_events(run_dir: Path) -> None:
    """A corrupt event record is skipped by resume (it can only cause a rerun), with a report."""
    create_checkpoint(run_dir)
    with EventLog(run_dir / "events.ndjson") as log:
        log.append({"type": "step_completed", "step": "worker3"})
    raw = (run_dir / "events.ndjson").read_bytes()
    (run_dir / "events.ndjson").write_bytes(b"{not json at all\n" + raw)
    result = resume_run(run_dir, ALL)
    assert result.success
    assert result.workers_to_rerun == ["worker4"]
    assert get_error_reports(operation="eventlog.replay")


def test_duplicate_workers_and_order(run_dir: Path) -> None:
    """Duplicates are dropped and the caller's order kept."""
    create_checkpoint(run_dir)
    result = resume_run(run_dir, ["worker4", "worker1", "worker4", "worker3", "worker3"])
    assert result.workers_to_rerun == ["worker4", "worker3"]


def test_empty_worker_list_and_empty_completed(tmp_path: Path) -> None:
    """An empty list gives an empty rerun list; no completed workers reruns all."""
    write_snapshot(tmp_path, run_id="r", run_state="INIT", completed_workers=[])
    create_checkpoint(tmp_path)
    assert resume_run(tmp_path, []).workers_to_rerun == []
    assert resume_run(tmp_path, ALL).workers_to_rerun == ALL


def test_get_incomplete_workers_agrees_with_resume(run_dir: Path) -> None:
    """get_incomplete_workers is resume_run's workers_to_rerun, with and without a checkpoint."""
    assert get_incomplete_workers(run_dir, ALL) == resume_run(run_dir, ALL).workers_to_rerun == ALL
    create_checkpoint(run_dir)
    assert get_incomplete_workers(run_dir, ALL) == resume_run(run_dir, ALL).workers_to_rerun


def test_replay_events_no_file_all_and_from_checkpoint(run_dir: Path) -> None:
    """No log replays nothing; from a checkpoint replays only what came after it."""
    assert list(replay_events(run_dir)) == []
    with EventLog(run_dir / "events.ndjson") as log:
        log.append_many(["a", "b"])
        cp = create_checkpoint(run_dir)
        log.append("c")
    assert [e.payload for e in replay_events(run_dir)] == ["a", "b", "c"]
    assert [e.payload for e in replay_events(run_dir, cp)] == ["c"]


def test_replay_events_invalid_json_raises_unless_skipped(run_dir: Path) -> None:
    """A broken line before valid records raises with its offset; skip_corrupt reads past it."""
    with EventLog(run_dir / "events.ndjson") as log:
        log.append("a")
    with (run_dir / "events.ndjson").open("ab") as fh:
        fh.write(b"not json\n")
    with EventLog(run_dir / "events.ndjson", repair=True) as log:
        pass  # one bad last line is a torn tail: truncated
    raw = (run_dir / "events.ndjson").read_bytes()
    (run_dir / "events.ndjson").write_bytes(b"not json\n" + raw)
    with pytest.raises(EventLogCorruptError) as info:
        list(replay_events(run_dir))
    assert info.value.offset == 0
    assert [e.payload for e in replay_events(run_dir, skip_corrupt=True)] == ["a"]


@pytest.mark.parametrize("use_async", [False, True])
async def test_run_steps_are_skipped_after_a_restart(tmp_path: Path, use_async: bool) -> None:
    """Steps finished before a crash are completed on reopen; a failed step is not."""
    run_dir = tmp_path / "run"
    effects: list[str] = []

    async def attempt(fail_at: str | None) -> None:
        with Run(run_dir, run_id="r-9") as run:
            for name in run.pending(ALL):
                step = run.step(name)
                if use_async:
                    async with step:
                        effects.append(generate_unique_key(run.run_id, name))
                        if name == fail_at:
                            raise RuntimeError("crash")
                else:
                    with step:
                        effects.append(generate_unique_key(run.run_id, name))
                        if name == fail_at:
                            raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        await attempt("worker3")
    assert get_incomplete_workers(run_dir, ALL) == ["worker3", "worker4"]
    await attempt(None)
    assert len(effects) == 5  # worker3 ran twice: at-least-once
    assert len(set(effects)) == 4
    assert get_incomplete_workers(run_dir, ALL) == []


def test_run_checkpoint_records_completed_workers(tmp_path: Path) -> None:
    """Run.checkpoint writes the snapshot with the finished steps and checkpoints it."""
    with Run(tmp_path / "run") as run:
        with run.step("worker1") as step:
            assert not step.done
        cp = run.checkpoint()
        with run.step("worker1") as again:
            assert again.done
    assert cp.completed_workers == ["worker1"]
    assert cp.events_count == 1
    assert resume_run(tmp_path / "run", ALL).workers_to_rerun == ALL[1:]


def test_resume_span(run_dir: Path) -> None:
    """resume_run is one span with the run id and the checkpoint id."""
    cp = create_checkpoint(run_dir)
    with capture_spans() as spans:
        resume_run(run_dir, ALL)
    span = spans.one("checkpoint.resume")
    assert span.attributes["rel.checkpoint.run_id"] == "run-1"
    assert span.attributes["rel.checkpoint.id"] == cp.checkpoint_id


CRASHING_RUN = """
import os, signal, sys
from rel_checkpoint import Run

run_dir, log = sys.argv[1], sys.argv[2]

def work(name):
    with open(log, "a") as fh:
        fh.write(name + "\\n")
    if name == "worker3" and len(open(log).read().split()) < 4:
        os.kill(os.getpid(), signal.SIGKILL)  # a real crash between the effect and its record
    return name.upper()

with Run(run_dir) as run:
    results = [run.run_step(name, work, name) for name in ["worker1", "worker2", "worker3", "worker4"]]
print(results)
"""


def test_run_step_skips_finished_steps_after_a_kill(tmp_path: Path) -> None:
    """A process SIGKILLed inside a step: on restart run_step skips the finished ones and reruns the cut one."""
    run_dir, log = tmp_path / "run", tmp_path / "effects"
    argv = [sys.executable, "-c", CRASHING_RUN, str(run_dir), str(log)]
    first = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert first.returncode == -9, first.stderr
    assert log.read_text().split() == ["worker1", "worker2", "worker3"]
    second = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    assert log.read_text().split() == ["worker1", "worker2", "worker3", "worker3", "worker4"]
    assert second.stdout.strip() == "[None, None, 'WORKER3', 'WORKER4']"
    assert get_incomplete_workers(run_dir, ALL) == []


async def test_run_step_calls_and_awaits_and_records(tmp_path: Path) -> None:
    """run_step returns fn's result; a coroutine function is awaited; a failure records nothing."""
    calls: list[str] = []

    def sync_work(name: str, *, times: int) -> str:
        calls.append(name)
        return name * times

    async def async_work(name: str) -> int:
        calls.append(name)
        return len(name)

    with Run(tmp_path / "run") as run:
        assert run.run_step("a", sync_work, "a", times=3) == "aaa"
        assert await run.run_step("bb", async_work, "bb") == 2
        with pytest.raises(ZeroDivisionError):
            run.run_step("c", lambda: 1 / 0)
        assert run.run_step("a", sync_work, "a", times=3) is None  # finished: not called again
        assert await run.run_step("bb", async_work, "bb") is None
        assert list(run.completed) == ["a", "bb"]
    assert calls == ["a", "bb"]
    with Run(tmp_path / "run") as again:
        assert again.run_step("c", sync_work, "c", times=1) == "c"
        assert again.pending(["a", "bb", "c"]) == []
        with pytest.raises(TypeError, match="async def"):
            again.run_step("d", lambda: async_work("d"))  # an awaitable nobody would await
        assert "d" not in again.completed
