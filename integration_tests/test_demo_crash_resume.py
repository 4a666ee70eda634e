from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil

ITEMS = 60
KILLS = 20
MARKER = "REL_DEMO_TEST_MARKER"


def _demo(workdir: Path, marker: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, MARKER: marker}
    args = [sys.executable, "-m", "rel_all", "demo", "--items", str(ITEMS), "--batch", "6"]
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


def _wait_gone(marker: str, timeout: float = 5.0) -> list[psutil.Process]:
    end = time.monotonic() + timeout
    while True:
        left = [p for p in _leftovers(marker) if p.status() != psutil.STATUS_ZOMBIE]
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.05)


def test_demo_survives_random_sigkills(tmp_path: Path) -> None:
    """SIGKILLed at random moments 20 times and rerun, the demo ends with one result per item.

    No temp file remains and no process of any run is left behind.
    """
    workdir = tmp_path / "demo"
    marker = uuid.uuid4().hex
    rng = random.Random(20261123)
    killed_mid_run = 0
    for _ in range(KILLS):
        proc = _demo(workdir, marker)
        time.sleep(rng.uniform(0.3, 2.0))
        if proc.poll() is None:
            killed_mid_run += 1
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        assert _wait_gone(marker) == [], "a process of the killed demo outlived it"
    final = _demo(workdir, marker)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()[-3000:]
    assert b"every item has exactly one result" in out
    assert killed_mid_run >= 5, "the kills should land while the demo is working"

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
    assert f"0 processed now, {ITEMS} already done".encode() in out
