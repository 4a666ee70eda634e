"""A randomized run of hundreds of tree scenarios leaves nothing behind."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import (
    CLOSES_STDOUT,
    ESCAPED,
    OWNER_DEATH_SECONDS,
    PY,
    SCRUBBED,
    STUBBORN,
    TREE,
    script,
    wait_gone,
)

from rel_proc import supervise_supported

DRIVER = """
    import asyncio, contextlib, json, os, random, sys
    import psutil
    from rel_proc import ProcessError, become_subreaper, managed_subprocess, run, supervise_supported

    SHELLS, SUPERVISED_ONLY = json.loads(sys.argv[1]), json.loads(sys.argv[5])
    SCENARIOS, SEED, SUBREAPER = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
    TOKEN = os.environ["REL_PROC_TEST"]

    def fds():
        return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else psutil.Process().num_fds()

    async def scenario(rng):
        supervise = supervise_supported() and rng.random() < 0.3
        shell = rng.choice(SHELLS + SUPERVISED_ONLY if supervise else SHELLS)
        way = rng.choice(["run", "timeout", "cancel", "exception", "block"])
        grace = rng.choice([0.0, 0.01, 0.03])
        if way == "run":
            with contextlib.suppress(ProcessError):
                await run("sh", "-c", shell, grace=grace, timeout=0.5, max_output=rng.choice([None, 64]), supervise=supervise)
        elif way == "timeout":
            with contextlib.suppress(ProcessError):
                await run("sh", "-c", shell, grace=grace, timeout=rng.uniform(0.0, 0.1), supervise=supervise)
        elif way == "cancel":
            task = asyncio.ensure_future(run("sh", "-c", shell, grace=grace, supervise=supervise))
            await asyncio.sleep(rng.uniform(0, 0.08))
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ProcessError):
                await task
        else:
            with contextlib.suppress(KeyError, ProcessError):
                async with managed_subprocess("sh", "-c", shell, grace=grace, supervise=supervise) as proc:
                    await asyncio.sleep(rng.uniform(0, 0.05))
                    if way == "exception":
                        raise KeyError("boom")

    async def main():
        if SUBREAPER:
            become_subreaper()
        await run("true")  # start the watchdog and tracker before counting fds
        await asyncio.sleep(0.1)
        before = fds()
        rng = random.Random(SEED)
        sem = asyncio.Semaphore(8)

        async def one(r):
            async with sem:
                await asyncio.wait_for(scenario(r), 20)

        await asyncio.gather(*(one(random.Random(rng.random())) for _ in range(SCENARIOS)))
        me = os.getpid()
        from rel_proc._tree import owner
        WATCHDOG = owner.watchdog.pid  # carries this process's environment; lives as long as it does
        live, zombies = [], []
        for p in psutil.process_iter(["ppid", "status"]):
            with contextlib.suppress(psutil.Error):
                if p.info["status"] == psutil.STATUS_ZOMBIE:
                    if p.info["ppid"] == me:
                        zombies.append([p.pid, p.name(), os.getpgid(p.pid)])
                elif p.pid not in (me, WATCHDOG) and p.environ().get("REL_PROC_TEST") == TOKEN:
                    live.append([p.pid, p.name(), p.info["ppid"], os.getpgid(p.pid), p.status(), " ".join(p.cmdline())])
        print(json.dumps({"live": live, "zombies": zombies, "fds_before": before, "fds_after": fds()}))

    asyncio.run(main())
"""


@pytest.mark.parametrize(
    "subreaper",
    [pytest.param(True, marks=pytest.mark.skipif(sys.platform != "linux", reason="Linux only")), False],
    ids=["subreaper", "plain"],
)
def test_randomized_scenarios_leave_nothing(tmp_path: Path, mark: dict[str, str], subreaper: bool) -> None:
    """300+ random scenarios (trees, SIGTERM-ignorers, setsid, closed stdout; exit, timeout, cancel, error) leak nothing.

    About a third run supervised (Linux), and only those also start grandchildren that scrub
    their environment and call setsid, which nothing but the shim can find.
    """
    shells = [
        TREE,
        STUBBORN,
        ESCAPED,
        CLOSES_STDOUT,
        "true",
        "exit 3",
        "head -c 200000 /dev/zero",
        STUBBORN + " & " + ESCAPED,
    ]
    count = 320 if subreaper else 160
    out = subprocess.run(  # noqa: PLW1510 - the return code is asserted with stderr shown
        [
            PY,
            script(tmp_path, "driver.py", DRIVER),
            json.dumps(shells),
            str(count),
            "20261123",
            "1" if subreaper else "0",
            json.dumps([SCRUBBED, "trap '' TERM; " + SCRUBBED]),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **mark},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["live"] == []
    assert report["fds_after"] == report["fds_before"]
    assert report["zombies"] == []


OWNER = """
    import asyncio, sys
    from rel_proc import managed_subprocess

    async def main():
        supervise = sys.argv[2] == "1"
        async with managed_subprocess("sh", "-c", sys.argv[1], stdout=None, stderr=None, supervise=supervise):
            print("started", flush=True)
            await asyncio.sleep(60)

    asyncio.run(main())
"""


@pytest.mark.parametrize(
    "supervise",
    [False, pytest.param(True, marks=pytest.mark.skipif(not supervise_supported(), reason="Linux only"))],
    ids=["watchdog", "supervised"],
)
def test_owners_sigkilled_at_random_moments(tmp_path: Path, mark: dict[str, str], supervise: bool) -> None:
    """Owners SIGKILLed at random moments of random trees' lives leave nothing alive seconds later."""
    rng = random.Random(20261123 + supervise)
    shells = [TREE, STUBBORN, ESCAPED, STUBBORN + " & " + ESCAPED]
    if supervise:
        shells += [SCRUBBED, "trap '' TERM; " + SCRUBBED]
    path = script(tmp_path, "owner.py", OWNER)
    env = {**os.environ, **mark}
    owners = [
        subprocess.Popen(
            [PY, path, rng.choice(shells), "1" if supervise else "0"], stdout=subprocess.PIPE, env=env
        )
        for _ in range(8)
    ]
    try:
        kills = []
        for owner in owners:
            assert owner.stdout is not None
            assert owner.stdout.readline() == b"started\n"
            # Before and after the first tracking poll (0.1 s) and watchdog poll (0.25 s).
            kills.append((time.monotonic() + rng.uniform(0.0, 0.4), owner))
        for at, owner in sorted(kills, key=lambda item: item[0]):
            time.sleep(max(0.0, at - time.monotonic()))
            owner.send_signal(signal.SIGKILL)
        for owner in owners:
            owner.wait(timeout=10)
        live = wait_gone(mark["REL_PROC_TEST"], OWNER_DEATH_SECONDS)
        assert live == [], f"still alive {OWNER_DEATH_SECONDS} s after the last owner died: {live}"
    finally:
        for owner in owners:
            if owner.poll() is None:
                owner.kill()
                owner.wait()
