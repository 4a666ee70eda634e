"""run / run_sync: results, errors, timeouts, environment, input, bounded capture, retries."""

from __future__ import annotations

import asyncio
import functools
import os
import pickle
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import CLOSES_STDOUT, PY, TREE, leftovers

from rel_proc import (
    CompletedProcess,
    ProcessError,
    ProcessFailedError,
    ProcessSpawnError,
    ProcessTimeoutError,
    ProgramNotFoundError,
    managed_subprocess,
    run,
    run_sync,
    supervise_supported,
)
from rel_telemetry import deadline_scope


async def call(mode: str, *args: Any, **kwargs: Any) -> CompletedProcess:
    if mode == "async":
        return await run(*args, **kwargs)
    return await asyncio.to_thread(run_sync, *args, **kwargs)


modes = pytest.mark.parametrize("mode", ["async", "sync"])


@modes
async def test_captures_output_and_status(mode: str, mark: dict[str, str]) -> None:
    """stdout, stderr, returncode and duration come back; no signal for a plain exit."""
    result = await call(mode, "sh", "-c", "echo out; echo err >&2; exit 3", env=mark)
    assert (result.stdout, result.stderr, result.returncode) == (b"out\n", b"err\n", 3)
    assert result.signal is None
    assert result.duration > 0
    assert not result.ok


@modes
async def test_signal_name_reported(mode: str, mark: dict[str, str]) -> None:
    """A child killed by a signal reports a negative code and the signal's name."""
    result = await call(mode, "sh", "-c", "kill -USR1 $$", env=mark)
    assert result.returncode == -10 or result.signal == "SIGUSR1"
    assert result.signal == "SIGUSR1"


@modes
async def test_check_raises_failed_error_with_tails(mode: str, mark: dict[str, str]) -> None:
    """check=True raises ProcessFailedError carrying argv, status, duration and output tails."""
    with pytest.raises(ProcessFailedError) as info:
        await call(mode, "sh", "-c", "echo partial; echo boom >&2; exit 7", check=True, env=mark)
    err = info.value
    assert err.argv[0] == "sh"
    assert (err.returncode, err.signal) == (7, None)
    assert err.stderr_tail == "boom\n"
    assert err.stdout_tail == "partial\n"
    assert err.duration > 0
    assert "exited with status 7" in str(err)
    assert "boom" in str(err)
    assert isinstance(err, ProcessError)
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.returncode, clone.stderr, clone.argv) == (7, b"boom\n", err.argv)


@modes
async def test_timeout_raised_after_tree_is_dead(mode: str, mark: dict[str, str]) -> None:
    """ProcessTimeoutError (a TimeoutError) comes only once every process of the tree is gone."""
    from conftest import leftovers

    with pytest.raises(ProcessTimeoutError) as info:
        await call(mode, "sh", "-c", "echo started; " + TREE, timeout=0.3, grace=0.05, env=mark)
    assert leftovers(mark["REL_PROC_TEST"]) == ([], [])
    assert isinstance(info.value, TimeoutError)
    assert info.value.stdout == b"started\n"
    assert info.value.timeout == 0.3
    clone = pickle.loads(pickle.dumps(info.value))
    assert (clone.timeout, clone.stdout) == (0.3, b"started\n")


async def test_ambient_deadline_caps_timeout(mark: dict[str, str]) -> None:
    """An ambient deadline shorter than timeout= ends the run at the deadline."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    with deadline_scope(0.3), pytest.raises(ProcessTimeoutError):
        await run("sleep", "30", timeout=20, grace=0.05, env=mark)
    assert loop.time() - start < 10


async def test_expired_deadline_does_not_spawn(mark: dict[str, str]) -> None:
    """With the ambient deadline already past, nothing is started and the timeout error is immediate."""
    with deadline_scope(0), pytest.raises(ProcessTimeoutError):
        await run("sleep", "30", env=mark)


@modes
async def test_missing_program_names_it_and_path(mode: str, tmp_path: Path) -> None:
    """A missing program raises ProgramNotFoundError (a FileNotFoundError) naming it and PATH."""
    with pytest.raises(ProgramNotFoundError) as info:
        await call(mode, "no-such-program-rel", env={"PATH": str(tmp_path)}, inherit_env=False)
    assert isinstance(info.value, FileNotFoundError)
    assert "no-such-program-rel" in str(info.value)
    assert str(tmp_path) in str(info.value)
    assert info.value.path == str(tmp_path)
    assert pickle.loads(pickle.dumps(info.value)).path == str(tmp_path)


async def test_missing_cwd_is_a_spawn_error(tmp_path: Path) -> None:
    """A missing working directory is reported as such, not as a missing program."""
    with pytest.raises(ProcessSpawnError) as info:
        await run("true", cwd=tmp_path / "gone")
    assert not isinstance(info.value, ProgramNotFoundError)
    assert "working directory" in str(info.value)


@modes
async def test_cwd_env_merge_and_replace(mode: str, tmp_path: Path, mark: dict[str, str]) -> None:
    """cwd= is honoured; env= is merged over ours by default and replaces it with inherit_env=False."""
    os.environ["REL_PROC_OUTER"] = "outer"
    try:
        merged = await call(
            mode, "sh", "-c", 'pwd; echo "$REL_PROC_OUTER-$X"', cwd=tmp_path, env={**mark, "X": "x"}
        )
        replaced = await call(
            "async" if mode == "async" else "sync",
            "/bin/sh",
            "-c",
            'echo "[$REL_PROC_OUTER]-$X"',
            env={**mark, "X": "x", "PATH": os.defpath},
            inherit_env=False,
        )
    finally:
        del os.environ["REL_PROC_OUTER"]
    assert merged.stdout_text.splitlines() == [str(tmp_path.resolve()), "outer-x"]
    assert replaced.stdout_text == "[]-x\n"


@modes
async def test_input_is_fed_to_stdin(mode: str, mark: dict[str, str]) -> None:
    """input= reaches the child's stdin (bytes or str) and is then closed."""
    result = await call(mode, "cat", input="hello\n" * 50_000, env=mark)
    assert result.stdout == b"hello\n" * 50_000


async def test_child_closing_stdin_early_is_fine(mark: dict[str, str]) -> None:
    """A child that never reads its input does not break run()."""
    result = await run("sh", "-c", "exec <&-; echo done", input=b"x" * 2_000_000, env=mark)
    assert result.stdout == b"done\n"


async def test_child_closing_stdout_early_still_times_out_cleanly(mark: dict[str, str]) -> None:
    """A child that closes stdout and keeps running is still timed out and killed."""
    with pytest.raises(ProcessTimeoutError):
        await run("sh", "-c", "echo bye; " + CLOSES_STDOUT, timeout=0.3, grace=0.05, env=mark)


async def test_max_output_keeps_head_and_tail(mark: dict[str, str]) -> None:
    """With max_output, each stream keeps its first and last bytes and counts what it dropped."""
    full = await run("seq", "1", "200000", env=mark)
    kept = await run("seq", "1", "200000", max_output=1000, env=mark)
    assert len(kept.stdout) == 1000
    assert kept.stdout[:500] == full.stdout[:500]
    assert kept.stdout[-500:] == full.stdout[-500:]
    assert kept.stdout_omitted == len(full.stdout) - 1000
    with pytest.raises(ValueError, match="max_output"):
        await run("true", max_output=-1)


async def test_hundred_megabytes_without_limit(mark: dict[str, str]) -> None:
    """100 MB on stdout (and stderr busy too) is drained without deadlock and kept whole."""
    result = await run("sh", "-c", "head -c 100000000 /dev/zero; head -c 1000000 /dev/zero >&2", env=mark)
    assert len(result.stdout) == 100_000_000
    assert len(result.stderr) == 1_000_000


def test_hundred_megabytes_with_limit_stays_bounded(tmp_path: Path) -> None:
    """With max_output=1 MB, 100 MB of output never raises the owner's peak memory by more than a few MB."""
    code = """
        import json, resource, sys
        from rel_proc import run_sync
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        r = run_sync("head", "-c", "100000000", "/dev/zero", max_output=1_000_000)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"kept": len(r.stdout), "omitted": r.stdout_omitted, "growth_kb": after - before}))
    """
    import json
    import subprocess
    import textwrap

    out = subprocess.run(
        [PY, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, check=True
    )
    report = json.loads(out.stdout)
    assert report["kept"] == 1_000_000
    assert report["omitted"] == 99_000_000
    assert report["growth_kb"] < 30_000, report  # far below the 100 MB an unbounded capture needs


async def test_run_sync_inside_a_running_loop(mark: dict[str, str]) -> None:
    """run_sync called from a coroutine runs on a helper thread instead of failing."""
    result = run_sync("echo", "ok", env=mark)
    assert result.stdout == b"ok\n"


async def test_list_form_like_subprocess(mark: dict[str, str]) -> None:
    """run(["prog", "arg"]) is accepted like subprocess.run; mixing both forms is a TypeError."""
    assert (await run(["echo", "list"], env=mark)).stdout == b"list\n"
    with pytest.raises(TypeError):
        await run(["echo"], "x")


async def test_invalid_options_fail_fast() -> None:
    """Negative or non-finite timeout / grace raise ValueError naming the parameter."""
    with pytest.raises(ValueError, match="grace"):
        await run("true", grace=-1)
    with pytest.raises(ValueError, match="timeout"):
        await run("true", timeout=float("nan"))


def _busy_script(tmp_path: Path) -> tuple[Path, Any]:
    """An executable script held open for writing: exec fails with ETXTBSY until it is closed."""
    path = tmp_path / "busy.sh"
    path.write_text("#!/bin/sh\necho ran\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path, open(path, "a")


class _Config:
    """A RetryConfig look-alike (rel-proc never imports rel-retry)."""

    max_retries = 20
    base_delay_seconds = 0.02
    multiplier = 1.0
    max_delay_seconds = 0.05


@pytest.mark.skipif(sys.platform != "linux", reason="ETXTBSY on a script is Linux behaviour")
async def test_retry_config_retries_transient_spawn_failure(tmp_path: Path, mark: dict[str, str]) -> None:
    """A RetryConfig-like retry= retries ETXTBSY until the file is released, then runs once."""
    path, handle = _busy_script(tmp_path)
    asyncio.get_running_loop().call_later(0.1, handle.close)
    result = await run(str(path), retry=_Config(), env=mark)
    assert result.stdout == b"ran\n"


@pytest.mark.skipif(sys.platform != "linux", reason="ETXTBSY on a script is Linux behaviour")
async def test_without_retry_transient_spawn_failure_raises(tmp_path: Path) -> None:
    """Without retry= the transient spawn failure surfaces as ProcessSpawnError with its errno."""
    import errno

    path, handle = _busy_script(tmp_path)
    with handle, pytest.raises(ProcessSpawnError) as info:
        await run(str(path))
    assert info.value.errno == errno.ETXTBSY


async def test_retry_policy_callable_and_decorator(tmp_path: Path, mark: dict[str, str]) -> None:
    """retry= accepts a policy called with the spawn function, or a decorator wrapping it."""
    calls: list[str] = []

    async def policy(spawn: Any, *, attempts: int) -> Any:
        for n in range(attempts):
            try:
                return await spawn()
            except ProcessSpawnError:
                calls.append("failed")
                if n == attempts - 1:
                    raise
                await asyncio.sleep(0.03)
        raise AssertionError

    def decorator(fn: Any) -> Any:
        async def wrapped() -> Any:
            calls.append("decorated")
            return await fn()

        return wrapped

    if sys.platform == "linux":
        path, handle = _busy_script(tmp_path)
        asyncio.get_running_loop().call_later(0.1, handle.close)
        result = await run(str(path), retry=functools.partial(policy, attempts=50), env=mark)
        assert result.stdout == b"ran\n"
        assert "failed" in calls
    result = await run("echo", "x", retry=decorator, env=mark)
    assert result.stdout == b"x\n"
    assert "decorated" in calls
    with pytest.raises(TypeError, match="retry"):
        await run("true", retry=42)


async def test_check_reports_the_killing_signal(mark: dict[str, str]) -> None:
    """check=True on a child killed by a signal raises ProcessFailedError naming the signal."""
    with pytest.raises(ProcessFailedError) as info:
        await run("sh", "-c", "echo dying >&2; kill -TERM $$", check=True, env=mark)
    assert (info.value.returncode, info.value.signal) == (-15, "SIGTERM")
    assert "was killed by SIGTERM" in str(info.value)
    assert info.value.stderr_tail == "dying\n"
    assert info.value.argv[:2] == ["sh", "-c"]


async def test_supervise_falls_back_where_unsupported(mark: dict[str, str]) -> None:
    """supervise=True gets the shim only where it exists (Linux); elsewhere the child runs without it."""
    assert supervise_supported() == sys.platform.startswith("linux")
    assert not managed_subprocess("true").supervised
    async with managed_subprocess("sh", "-c", "echo $$", env=mark, supervise=True) as proc:
        assert proc.supervised == supervise_supported()
        assert proc.stdout is not None
        assert int(await proc.stdout.readline()) == proc.pid
        assert await proc.wait() == 0


async def test_supervise_fallback_runs_the_child_directly(
    mark: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the shim cannot run (here: made so), supervise=True starts the child itself and still ends its tree."""
    monkeypatch.setattr("rel_proc._managed.supervise_supported", lambda: False)
    async with managed_subprocess(
        "sh", "-c", "echo $$; " + TREE, env=mark, supervise=True, grace=0.2
    ) as proc:
        assert not proc.supervised
        assert proc.process.pid == proc.pid
        assert proc.stdout is not None
        assert int(await proc.stdout.readline()) == proc.pid
    assert proc.signal == "SIGTERM"
    assert leftovers(mark["REL_PROC_TEST"]) == ([], [])
