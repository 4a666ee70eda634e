from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil

from rel_checkpoint import get_incomplete_workers

# Small batches and enough items that all the kills land while work remains:
# a kill right after a result lands lets the demo finish one or two batches.
ITEMS = 120
BATCH = 2
KILLS = 20
MARKER = "REL_DEMO_TEST_MARKER"


def _demo(workdir: Path, marker: str, batch: int = BATCH) -> subprocess.Popen[bytes]:
    env = {**os.environ, MARKER: marker}
    args = [sys.executable, "-m", "rel_all", "demo", "--items", str(ITEMS), "--batch", str(batch)]
    args += ["--workdir", str(workdir), "--quiet", "--seed", "3"]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _leftovers(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.pid != os.getpid() and proc.environ().get(MARKER) == marker:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:  # it ended since it was listed
        return False


def _wait_gone(marker: str, timeout: float = 5.0) -> list[psutil.Process]:
    end = time.monotonic() + timeout
    while True:
        left = [p for p in _leftovers(marker) if _running(p)]
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.05)


NAMES = [f"item-{i:05d}" for i in range(ITEMS)]


def _finished(workdir: Path) -> dict[str, tuple[int, int]]:
    """Items recorded complete in the run directory, with their result file's (inode, mtime_ns).

    Read-only: what a rerun of the demo will consider done.
    """
    run_dir = workdir / "run"
    if not run_dir.exists():
        return {}
    pending = set(get_incomplete_workers(run_dir, NAMES))
    done = {}
    for name in NAMES:
        if name not in pending:
            stat = (workdir / "results" / f"{name}.json").stat()
            done[name] = (stat.st_ino, stat.st_mtime_ns)
    return done


def _summary_numbers(out: bytes) -> tuple[int, int, int]:
    """(processed now, already done, items fetched) from the demo's final summary."""
    text = out.decode()
    processed, already = re.search(r"(\d+) processed now, (\d+) already done", text).groups()  # type: ignore[union-attr]
    fetched = re.search(r"(\d+) items fetched with", text).group(1)  # type: ignore[union-attr]
    return int(processed), int(already), int(fetched)


def _results_written(workdir: Path) -> int:
    results = workdir / "results"
    if not results.exists():
        return 0
    return sum(1 for p in results.iterdir() if p.suffix == ".json")


def _kill_moment(proc: subprocess.Popen[bytes], workdir: Path, rng: random.Random) -> None:
    """Wait for a random moment while the demo works: during start-up, or just after an item lands.

    Tied to the demo's progress rather than to the clock, so the kills land
    mid-run on a fast machine as on a loaded one.
    """
    if rng.random() < 0.25:
        time.sleep(rng.uniform(0.05, 0.6))
        return
    baseline = _results_written(workdir)
    end = time.monotonic() + 60.0
    while proc.poll() is None and _results_written(workdir) == baseline and time.monotonic() < end:
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.1))


def test_demo_survives_random_sigkills(tmp_path: Path) -> None:
    """SIGKILLed at random moments 20 times and rerun, the demo ends with one result per item.

    An item recorded as finished before a run is never written again by it
    (its result file keeps its inode and mtime) and the last run fetches only
    the items still pending. No temp file remains and no process of any run is
    left behind.
    """
    workdir = tmp_path / "demo"
    marker = uuid.uuid4().hex
    rng = random.Random(20261123)
    killed_mid_run = 0
    resumed_with_work_done = 0
    for _ in range(KILLS):
        before = _finished(workdir)
        if len(before) == ITEMS:
            break
        resumed_with_work_done += bool(before)
        proc = _demo(workdir, marker)
        _kill_moment(proc, workdir, rng)
        if proc.poll() is None:
            killed_mid_run += 1
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        assert _wait_gone(marker) == [], "a process of the killed demo outlived it"
        after = _finished(workdir)
        redone = [name for name, stamp in before.items() if after.get(name) != stamp]
        assert redone == [], f"finished items were processed again: {redone[:5]}"
    before = _finished(workdir)
    final = _demo(workdir, marker, batch=20)  # faster; and resuming must not depend on the batching
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()[-3000:]
    assert b"every item has exactly one result" in out
    assert killed_mid_run == KILLS, f"only {killed_mid_run} of {KILLS} kills landed while the demo worked"
    assert resumed_with_work_done >= 5, "most reruns should find finished items to skip"
    processed, already, fetched = _summary_numbers(out)
    assert already == len(before)
    assert processed == ITEMS - len(before)
    assert fetched == processed, "the last run fetched items that were already finished"
    after = _finished(workdir)
    assert {name: after[name] for name in before} == before

    results = sorted((workdir / "results").iterdir())
    assert [p.name for p in results] == [f"item-{i:05d}.json" for i in range(ITEMS)]
    for i, path in enumerate(results):
        assert json.loads(path.read_text())["item"] == i
    temps = [p for p in workdir.rglob("*") if ".tmp" in p.name]
    assert temps == []
    assert _wait_gone(marker) == []

    rerun = _demo(workdir, marker)
    out, _ = rerun.communicate(timeout=120)
    assert rerun.returncode == 0
    assert _summary_numbers(out) == (0, ITEMS, 0)
    assert _finished(workdir) == after
