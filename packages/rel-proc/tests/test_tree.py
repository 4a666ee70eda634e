"""The whole tree dies on every way out: normal exit, exception, cancellation, timeout."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
from pathlib import Path

import psutil
import pytest
from conftest import (
    CLOSES_STDOUT,
    ESCAPED,
    OWNER_DEATH_SECONDS,
    PY,
    STUBBORN,
    TREE,
    leftovers,
    owner_process,
    until,
    wait_gone,
)

from rel_proc import ProcessTimeoutError, managed_subprocess, run


def _tree_size(pid: int) -> int:
    return len(psutil.Process(pid).children(recursive=True))


async def _wait_for_children(pid: int, n: int) -> None:
    await until(lambda: _tree_size(pid) >= n, f"the tree of {pid} never reached {n} descendants")


@pytest.mark.parametrize("way_out", ["normal", "exception", "cancel", "timeout"])
async def test_tree_of_sleeping_grandchildren_dies(way_out: str, mark: dict[str, str]) -> None:
    """A shell with sleeping grandchildren is gone, all of it, whichever way the block ends."""
    token = mark["REL_PROC_TEST"]

    async def body() -> None:
        async with managed_subprocess(
            "sh", "-c", TREE, env=mark, grace=0.5, timeout=0.3 if way_out == "timeout" else None
        ) as proc:
            await _wait_for_children(proc.pid, 4)
            assert len(leftovers(token)[0]) == 5
            if way_out == "exception":
                raise KeyError("boom")
            if way_out in ("cancel", "timeout"):
                await asyncio.sleep(30)

    task = asyncio.create_task(body())
    if way_out == "cancel":
        await asyncio.sleep(0.3)
        task.cancel()
    expected = {
        "normal": None,
        "exception": KeyError,
        "cancel": asyncio.CancelledError,
        "timeout": ProcessTimeoutError,
    }[way_out]
    if expected is None:
        await task
    else:
        with pytest.raises(expected):
            await task
    assert leftovers(token) == ([], [])


async def test_child_ignoring_sigterm_is_killed_after_grace(mark: dict[str, str]) -> None:
    """A tree that ignores SIGTERM is SIGKILLed once the grace period is over, not before."""
    loop = asyncio.get_running_loop()
    async with managed_subprocess("sh", "-c", STUBBORN, env=mark, grace=0.3) as proc:
        await _wait_for_children(proc.pid, 2)
        start = loop.time()
    elapsed = loop.time() - start
    assert proc.tree_killed
    assert proc.signal == "SIGKILL"
    assert elapsed >= 0.25


async def test_obedient_tree_is_not_force_killed(mark: dict[str, str]) -> None:
    """A tree that obeys SIGTERM ends well inside a long grace period, without SIGKILL."""
    loop = asyncio.get_running_loop()
    async with managed_subprocess("sh", "-c", TREE, env=mark, grace=20) as proc:
        await _wait_for_children(proc.pid, 4)
        start = loop.time()
    assert not proc.tree_killed
    assert proc.signal == "SIGTERM"
    assert loop.time() - start < 10


async def test_setsid_grandchild_orphaned_at_once_is_found(mark: dict[str, str]) -> None:
    """A grandchild that calls setsid and is orphaned immediately is still ended (marker sweep)."""
    async with managed_subprocess("sh", "-c", ESCAPED, env=mark, grace=0.2, track_interval=None):
        await until(lambda: len(leftovers(mark["REL_PROC_TEST"])[0]) >= 3, "the tree never started")
        live = leftovers(mark["REL_PROC_TEST"])[0]
        assert any(os.getsid(pid) == pid for pid in live), "the setsid grandchild should be running"


async def test_setsid_grandchild_with_scrubbed_env_is_tracked(mark: dict[str, str]) -> None:
    """A grandchild that leaves the group *and* drops its environment is still killed via tracking."""
    marker = f"rel-proc-scrubbed-{mark['REL_PROC_TEST']}"
    # The shell lives long enough for the tracker (every 50 ms) to see the escapee, then exits and orphans it.
    code = f"env -i setsid {PY} -c 'import time; time.sleep(30)' {marker} & sleep 1.5"

    def scrubbed() -> list[psutil.Process]:
        # Only the Python process: the same pid runs `env` (full environment) and `setsid` first.
        return [
            p
            for p in psutil.process_iter(["cmdline", "status"])
            if (p.info["cmdline"] or [])[:1] == [PY]
            and marker in p.info["cmdline"]
            and p.info["status"] != psutil.STATUS_ZOMBIE
        ]

    async with managed_subprocess("sh", "-c", code, env=mark, grace=0.2, track_interval=0.05) as proc:
        await until(scrubbed, "the scrubbed grandchild never started")
        (escapee,) = scrubbed()
        assert escapee.environ().get("REL_PROC_TEST") is None, "the grandchild should have no marker"
        assert await proc.wait() == 0
        assert escapee.ppid() != proc.pid, "the escapee should be orphaned by now"
    assert scrubbed() == []


async def test_normal_exit_with_background_grandchild_still_running(mark: dict[str, str]) -> None:
    """When the child exits on its own, grandchildren it left behind are ended too."""
    result = await run("sh", "-c", "sleep 30 & echo parent-done", env=mark, grace=0.2)
    assert result.stdout == b"parent-done\n"
    assert result.returncode == 0


async def test_child_closing_stdout_early_in_block(mark: dict[str, str]) -> None:
    """A child that closes stdout early gives EOF to the reader and is killed when the block ends."""
    async with managed_subprocess("sh", "-c", "echo hi; " + CLOSES_STDOUT, env=mark, grace=0.1) as proc:
        assert proc.stdout is not None
        assert await proc.stdout.read() == b"hi\n"
        assert proc.returncode is None
    assert proc.signal == "SIGTERM"


async def test_line_iteration(mark: dict[str, str]) -> None:
    """`async for line in proc` yields stdout lines."""
    async with managed_subprocess("printf", "a\\nb\\n", env=mark) as proc:
        lines = [line async for line in proc]
    assert lines == [b"a\n", b"b\n"]


async def test_cancellation_at_random_moments(mark: dict[str, str]) -> None:
    """Cancelling run() at random moments - before, during and after spawn - never leaks a process."""
    rng = random.Random(1234)
    for _ in range(25):
        task = asyncio.create_task(
            run("sh", "-c", rng.choice([TREE, STUBBORN, ESCAPED, "true"]), env=mark, grace=0.02)
        )
        await asyncio.sleep(rng.uniform(0, 0.06))
        task.cancel()
        loop = asyncio.get_running_loop()
        cancelled_at = loop.time()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert loop.time() - cancelled_at < 5, (
            "teardown after cancellation must not wait for the tree to finish"
        )
        live, zombies = leftovers(mark["REL_PROC_TEST"])
        assert (live, zombies) == ([], [])


async def test_repeated_cancellation_during_teardown(mark: dict[str, str]) -> None:
    """Cancelling again while the tree is being torn down does not cut the teardown short."""
    task = asyncio.create_task(run("sh", "-c", STUBBORN, env=mark, grace=0.3))
    await asyncio.sleep(0.2)
    for _ in range(5):
        task.cancel()
        await asyncio.sleep(0.03)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert leftovers(mark["REL_PROC_TEST"]) == ([], [])


OWNER = """
    import asyncio, os, sys
    from rel_proc import managed_subprocess

    async def main():
        shell = sys.argv[1]
        async with managed_subprocess("sh", "-c", shell, stdout=None, stderr=None) as proc:
            await asyncio.sleep(float(sys.argv[2]))
            print("ready", proc.pid, flush=True)
            await asyncio.sleep(60)

    asyncio.run(main())
"""


@pytest.mark.parametrize(
    ("shell", "settle"),
    [
        (TREE, 0.1),
        (STUBBORN + " & " + ESCAPED, 0.1),
        ("trap '' TERM; " + ESCAPED + " & sleep 30 & wait", 0.6),
    ],
    ids=["tree", "stubborn-and-escaped", "escaped-after-tracking"],
)
def test_owner_sigkilled_tree_dies(tmp_path: Path, mark: dict[str, str], shell: str, settle: float) -> None:
    """If the owning Python process is SIGKILLed, its whole tree is gone within seconds."""
    token = mark["REL_PROC_TEST"]
    with owner_process(tmp_path, OWNER, mark, shell, str(settle)) as (owner, _ready):
        assert len(leftovers(token)[0]) >= 4  # owner, watchdog-free tree of >= 3
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=10)
        live = wait_gone(token, OWNER_DEATH_SECONDS)
        assert live == [], f"still alive {OWNER_DEATH_SECONDS} s after the owner died: {live}"


async def test_set_testing_shortens_the_default_grace(mark: dict[str, str]) -> None:
    """With set_testing(True) a SIGTERM-ignoring tree is SIGKILLed at once; off again, the 2 s default returns."""
    from rel_proc import DEFAULT_GRACE, is_testing, set_testing

    loop = asyncio.get_running_loop()
    with set_testing(True):
        assert is_testing()
        async with managed_subprocess("sh", "-c", STUBBORN, env=mark) as proc:
            await _wait_for_children(proc.pid, 2)
            start = loop.time()
        assert proc.grace == 0.0
        assert proc.tree_killed
        assert loop.time() - start < DEFAULT_GRACE
    assert not is_testing()
    assert managed_subprocess("true").grace == DEFAULT_GRACE
    with pytest.raises(ValueError, match="grace"):
        set_testing(True, grace=-1)
