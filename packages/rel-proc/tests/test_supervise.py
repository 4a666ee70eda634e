"""supervise=True: a subreaper shim between owner and child ends even the tree's best escapees (Linux)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest
from conftest import (
    OWNER_DEATH_SECONDS,
    PY,
    SCRUBBED,
    STUBBORN,
    TREE,
    leftovers,
    owner_process,
    until,
    until_sync,
    wait_gone,
)

from rel_proc import (
    ProcessSpawnError,
    ProcessTimeoutError,
    ProgramNotFoundError,
    managed_subprocess,
    run,
    run_sync,
    supervise_supported,
)
from rel_proc._tree import MARKER_VARIABLE

pytestmark = pytest.mark.skipif(not supervise_supported(), reason="the supervising shim is Linux only")


async def _escapee(token: str, shim: int) -> psutil.Process:
    """Wait for the scrubbed, setsid, orphaned grandchild; check it escaped everything but the shim."""

    def find() -> bool:
        for proc in psutil.process_iter(["ppid"]):
            with contextlib.suppress(psutil.Error, ProcessLookupError):  # it may have exited since the scan
                if proc.info["ppid"] != shim or proc.pid == shim or os.getsid(proc.pid) != proc.pid:
                    continue
                # Read after the session check: before `setsid` runs, the same pid is still `env`,
                # whose environment is the full one `env -i` is about to drop.
                env = proc.environ()
                if env.get("REL_PROC_TEST") == token:
                    assert MARKER_VARIABLE not in env, "the escapee should carry no tree marker"
                    found.append(proc)
                    return True
        return False

    found: list[psutil.Process] = []
    await until(find, "the setsid grandchild never appeared as an orphan adopted by the shim")
    return found[0]


@pytest.mark.parametrize("way_out", ["normal", "exception", "cancel", "timeout"])
async def test_scrubbed_setsid_orphan_is_ended_at_teardown(way_out: str, mark: dict[str, str]) -> None:
    """A grandchild with no marker, its own session and no parent is adopted by the shim and ended."""
    token = mark["REL_PROC_TEST"]
    shims: list[int] = []
    escaped = asyncio.Event()

    async def body() -> None:
        async with managed_subprocess(
            "sh",
            "-c",
            SCRUBBED,
            env=mark,
            grace=0.3,
            supervise=True,
            track_interval=None,
            timeout=1.5 if way_out == "timeout" else None,
        ) as proc:
            assert proc.supervised
            shims.append(proc.process.pid)
            await _escapee(token, proc.process.pid)
            escaped.set()
            if way_out == "exception":
                raise KeyError("boom")
            if way_out in ("cancel", "timeout"):
                await asyncio.sleep(30)

    task = asyncio.create_task(body())
    if way_out == "cancel":
        seen = asyncio.ensure_future(escaped.wait())  # cancel once the escapee runs, not at a guessed time
        await asyncio.wait([task, seen], return_when=asyncio.FIRST_COMPLETED)
        seen.cancel()
        task.cancel()
    expected = {"normal": None, "exception": KeyError, "cancel": asyncio.CancelledError}.get(
        way_out, ProcessTimeoutError
    )
    if expected is None:
        await task
    else:
        with pytest.raises(expected):
            await task
    assert leftovers(token) == ([], [])
    assert not psutil.pid_exists(shims[0]) or psutil.Process(shims[0]).status() == psutil.STATUS_ZOMBIE


async def test_supervised_child_looks_like_the_program(tmp_path: Path, mark: dict[str, str]) -> None:
    """pid, returncode, signal, streams, wait() and communicate() are the program's, not the shim's."""
    async with managed_subprocess(
        "sh",
        "-c",
        "echo $$; read line; echo got $line; exit 5",
        env=mark,
        stdin=asyncio.subprocess.PIPE,
        supervise=True,
    ) as proc:
        assert proc.stdout is not None
        assert int(await proc.stdout.readline()) == proc.pid != proc.process.pid
        assert psutil.Process(proc.pid).ppid() == proc.process.pid
        out, _ = await proc.communicate(b"x\n")
        assert out == b"got x\n"
        assert await proc.wait() == 5
    assert (proc.returncode, proc.signal) == (5, None)

    result = await run("sh", "-c", "kill -USR1 $$", env=mark, supervise=True)
    assert result.signal == "SIGUSR1"
    # The child's exit is reported even while a background grandchild (holding no pipe) lives on.
    start = time.monotonic()
    result = await run(
        "sh", "-c", "sleep 30 >/dev/null 2>&1 & echo done", env=mark, supervise=True, grace=0.2
    )
    assert (result.stdout, result.returncode) == (b"done\n", 0)
    assert time.monotonic() - start < 10
    synced = await asyncio.to_thread(run_sync, ["echo", "sync"], env=mark, supervise=True)
    assert synced.stdout == b"sync\n"
    assert synced.pid != 0


async def test_supervised_stubborn_tree_is_killed_after_grace(mark: dict[str, str]) -> None:
    """A SIGTERM-ignoring supervised tree is SIGKILLed after the grace period, and tree_killed says so."""
    async with managed_subprocess("sh", "-c", STUBBORN, env=mark, grace=0.2, supervise=True) as proc:
        # The trap is set once the shell has started its sleepers.
        await until(lambda: len(psutil.Process(proc.pid).children()) >= 2, "the sleepers never started")
    assert proc.tree_killed
    assert proc.signal == "SIGKILL"


async def test_owner_holding_many_files(mark: dict[str, str]) -> None:
    """An owner with over 1024 open files still runs supervised children to completion."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1200
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"the hard limit on open files is {hard}")
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    held: list[int] = []
    try:
        while not held or held[-1] < 1100:  # the shim's end of the socket pair gets a number above these
            held.append(os.open(os.devnull, os.O_RDONLY))
        result = await run("sh", "-c", "echo $$; exit 3", env=mark, supervise=True)
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert (result.returncode, result.stdout) == (3, f"{result.pid}\n".encode())


async def test_supervised_spawn_errors_name_the_program(tmp_path: Path) -> None:
    """A missing program or working directory is reported as without the shim, naming the program."""
    with pytest.raises(ProgramNotFoundError) as info:
        await run("no-such-program-rel", env={"PATH": str(tmp_path)}, inherit_env=False, supervise=True)
    assert info.value.argv == ["no-such-program-rel"]
    assert str(tmp_path) in str(info.value)
    with pytest.raises(ProcessSpawnError) as missing_cwd:
        await run("true", cwd=tmp_path / "gone", supervise=True)
    assert "working directory" in str(missing_cwd.value)
    assert missing_cwd.value.argv == ["true"]
    not_executable = tmp_path / "plain.txt"
    not_executable.write_text("data")
    with pytest.raises(ProcessSpawnError) as denied:
        await run("./plain.txt", cwd=tmp_path, supervise=True)
    assert not isinstance(denied.value, ProgramNotFoundError)
    assert denied.value.errno == 13  # EACCES
    assert denied.value.cwd == str(tmp_path)
    assert f"in working directory {str(tmp_path)!r}" in str(denied.value)
    with pytest.raises(ProgramNotFoundError) as relative:
        await run("./missing", cwd=tmp_path, supervise=True)
    assert relative.value.cwd == str(tmp_path)


async def test_missing_shim_interpreter_is_not_a_missing_program(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the interpreter that runs the shim is gone, the error says so instead of blaming the program."""
    monkeypatch.setattr(sys, "executable", str(tmp_path / "gone-python"))
    for cwd in (None, tmp_path):
        with pytest.raises(ProcessSpawnError) as info:
            await run("true", cwd=cwd, supervise=True)
        assert not isinstance(info.value, ProgramNotFoundError)
        assert "interpreter" in str(info.value)
        assert info.value.argv == ["true"]


OWNER = """
    import asyncio, sys
    from rel_proc import managed_subprocess

    async def main():
        async with managed_subprocess(
            "sh", "-c", sys.argv[1], stdout=None, stderr=None, supervise=True, die_with_parent=sys.argv[2] == "1"
        ) as proc:
            print("ready", proc.process.pid, flush=True)
            await asyncio.sleep(60)

    asyncio.run(main())
"""


def _session_leaders(token: str, *, besides: int) -> list[int]:
    """Live marked processes that lead their own session, ``besides`` (the shim, which does too)."""
    found = []
    for pid in leftovers(token)[0]:
        with contextlib.suppress(ProcessLookupError):  # it may have exited since the scan
            if pid != besides and os.getsid(pid) == pid:
                found.append(pid)
    return found


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited; an orphan's zombie waits for init, which may take its time."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("die_with_parent", [True, False], ids=["dies", "outlives"])
def test_owner_sigkilled_scrubbed_setsid_orphan_dies(
    tmp_path: Path, mark: dict[str, str], die_with_parent: bool
) -> None:
    """Owner SIGKILLed once the escapee runs: the shim ends all of it, escapee included, within seconds.

    With die_with_parent=False the shim leaves the tree running instead.
    """
    token = mark["REL_PROC_TEST"]
    shell = "trap '' TERM; " + SCRUBBED
    with owner_process(tmp_path, OWNER, mark, shell, "1" if die_with_parent else "0") as (owner, line):
        shim = int(line.split()[1])
        until_sync(lambda: _session_leaders(token, besides=shim), "the setsid grandchild never started")
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=10)
        if die_with_parent:
            live = wait_gone(token, OWNER_DEATH_SECONDS)
            assert live == [], f"still alive {OWNER_DEATH_SECONDS} s after the owner died: {live}"
            # The scan stops seeing a process once its memory is released, a moment before it
            # becomes a zombie; the shim, which ends last, may still be in that moment.
            until_sync(lambda: _gone(shim), "the shim outlived its tree")
        else:
            time.sleep(0.5)  # nothing is coming: half a second shows the tree is left alone
            assert _session_leaders(token, besides=shim), "the escapee should outlive the owner"
            tree = [pid for pid in leftovers(token)[0] if pid != shim]
            assert len(tree) >= 2, "without die_with_parent the tree should outlive its owner"
            for pid in tree:
                os.kill(pid, signal.SIGKILL)
            until_sync(lambda: _gone(shim), "the shim should exit once its tree is gone")


# A program that ignores SIGTERM and starts nothing: once its shim is gone, only its group links it to the tree.
LONE_STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(30)"


@pytest.mark.parametrize("program", ["tree", "lone-stubborn"])
async def test_shim_killed_from_outside_tree_still_ends(mark: dict[str, str], program: str) -> None:
    """If someone SIGKILLs the shim, teardown still finds the program (and its group) and ends the tree."""
    token = mark["REL_PROC_TEST"]
    argv = ["sh", "-c", TREE] if program == "tree" else [PY, "-c", LONE_STUBBORN]
    start = time.monotonic()
    async with managed_subprocess(*argv, env=mark, grace=0.2, supervise=True) as proc:
        if program == "tree":
            await until(lambda: len(psutil.Process(proc.pid).children()) >= 3, "the sleepers never started")
        else:
            assert proc.stdout is not None
            assert await proc.stdout.readline() == b"ready\n"
        os.kill(proc.process.pid, signal.SIGKILL)
        await proc.wait()  # the shim's death settles the program's status
        assert proc.returncode == -signal.SIGKILL
        assert len(leftovers(token)[0]) >= (4 if program == "tree" else 1), "the program outlives the shim"
    assert leftovers(token) == ([], [])
    if program == "lone-stubborn":
        assert proc.tree_killed, "only SIGKILL ends it"
    assert time.monotonic() - start < 10
