"""kill -9 at random moments: checkpoints stay valid, acknowledged events stay, appends continue."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rel_checkpoint import EventLog, get_latest_checkpoint, load_checkpoint, replay_events

KILLS = 300
WORKER = Path(__file__).with_name("crash_worker.py")


def _acks(path: Path) -> tuple[dict[int, tuple[int, int]], list[str], tuple[int, int] | None]:
    """(acked events by seq, acked run checkpoint ids, (pid, n) of the last acked checkpoint file save)."""
    events: dict[int, tuple[int, int]] = {}
    checkpoints: list[str] = []
    saved = None
    if not path.exists():
        return events, checkpoints, saved
    for line in path.read_bytes().split(b"\n")[:-1]:  # a torn last ack line is ignored
        parts = line.decode().split()
        if parts[0] == "e":
            events[int(parts[1])] = (int(parts[2]), int(parts[3]))
        elif parts[0] == "s":
            saved = (int(parts[1]), int(parts[2]))
        else:
            checkpoints.append(parts[1])
    return events, checkpoints, saved


def _wait_for_progress(acks: Path, size: int, kind: bytes = b"", timeout: float = 10.0) -> None:
    """Wait until the worker acknowledged something past ``size`` (an ack line of ``kind``, if given)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if acks.exists() and acks.stat().st_size > size:
            with acks.open("rb") as fh:
                fh.seek(size)
                if (b"\n" + fh.read()).find(b"\n" + kind) >= 0:
                    return
        time.sleep(0.001)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")
def test_sigkill_at_random_moments_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """300 SIGKILLs of a checkpointing, appending worker: state always verifies and resumes.

    After every kill the checkpoint file and the newest run checkpoint load
    with valid checksums and are no older than the last acknowledged save.
    """
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    acks_path = tmp_path / "acks"
    rng = random.Random(20261123)
    server = subprocess.Popen(
        [sys.executable, str(WORKER), str(run_dir), str(acks_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None
    assert server.stdout is not None
    verified = 0  # every seq up to this one was checked against the acks
    torn_tails = 0
    parent_seqs: set[int] = set()
    pids: list[int] = []
    started = time.monotonic()
    try:
        for kill in range(KILLS):
            acks_before = acks_path.stat().st_size if acks_path.exists() else 0
            server.stdin.write("go\n")
            server.stdin.flush()
            pid = int(server.stdout.readline())
            pids.append(pid)
            if kill % 2:
                # Half the kills land at a random moment after the worker got going, so
                # a slow, loaded machine still kills mid-work rather than mid-startup; one
                # in eight after it saved the checkpoint file, so that the check of that
                # file runs however slow the machine is.
                _wait_for_progress(acks_path, acks_before, b"s " if kill % 8 == 1 else b"")
            time.sleep(rng.uniform(0.0, 0.03))
            os.kill(pid, signal.SIGKILL)
            status = int(server.stdout.readline())
            assert os.WIFSIGNALED(status), f"worker {pid} ended without the kill (status {status})"
            assert os.WTERMSIG(status) == signal.SIGKILL

            acked, checkpoints, saved = _acks(acks_path)
            if saved is not None:  # the file verifies and holds the last acknowledged save or a later one
                state = load_checkpoint(run_dir / "state.json")
                found = (pids.index(state["pid"]), state["n"])
                assert found >= (pids.index(saved[0]), saved[1]), (
                    f"kill {kill}: {state} is older than {saved}"
                )
            latest = get_latest_checkpoint(run_dir)
            if checkpoints:
                assert latest is not None, f"kill {kill}: no valid checkpoint after {checkpoints[-1]}"
                assert latest.checkpoint_id >= checkpoints[-1]
                assert load_checkpoint(run_dir, latest.checkpoint_id)["run_id"] == "crash"

            start = 1 if kill % 50 == 49 else verified + 1
            last = start - 1
            for event in replay_events(run_dir, from_seq=start):
                assert event.seq == last + 1, f"kill {kill}: gap before seq {event.seq}"
                last = event.seq
                if event.seq in acked:
                    assert (event.payload["pid"], event.payload["n"]) == acked[event.seq]
                elif event.seq not in parent_seqs:
                    assert "n" in event.payload
            missing = [seq for seq in acked if seq > last]
            assert not missing, f"kill {kill}: acknowledged events {missing[:5]} were not replayed"

            with EventLog(run_dir / "events.ndjson") as log:
                torn_tails += len(log.recovery)
                seq = log.append({"parent": kill})
            assert seq == last + 1, f"kill {kill}: the next append got seq {seq}, expected {last + 1}"
            parent_seqs.add(seq)
            verified = seq
    finally:
        server.stdin.close()
        server.wait(timeout=10)
    acked, checkpoints, saved = _acks(acks_path)
    assert saved is not None
    assert len(acked) >= KILLS // 2, "the workers hardly ran; the test exercised nothing"
    assert checkpoints
    print(
        f"{KILLS} kills in {time.monotonic() - started:.1f} s, {len(acked)} acked events, {torn_tails} torn tails"
    )
