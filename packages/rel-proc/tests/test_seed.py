"""Seed 000's example works with only the import line changed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rel_proc import managed_subprocess


async def test_seed_000_managed_subprocess_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mark: dict[str, str]
) -> None:
    """`async with managed_subprocess("smi_tx_sim", "--args", ...) as proc` then communicate() works."""
    sim = tmp_path / "smi_tx_sim"
    sim.write_text('#!/bin/sh\necho "simulated $*"\n')
    sim.chmod(sim.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    for key, value in mark.items():
        monkeypatch.setenv(key, value)

    async with managed_subprocess("smi_tx_sim", "--args", "tx.json") as proc:
        stdout, _ = await proc.communicate()

    assert stdout == b"simulated --args tx.json\n"
    assert proc.returncode == 0


async def test_seed_000_block_cancelled_kills_the_process(mark: dict[str, str]) -> None:
    """If the seed's block is cancelled, 'proc' is guaranteed to be killed."""
    import asyncio

    pids: list[int] = []

    async def body() -> None:
        async with managed_subprocess("sleep", "30", env=mark, grace=0.05) as proc:
            pids.append(proc.pid)
            await proc.communicate()

    task = asyncio.create_task(body())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)
