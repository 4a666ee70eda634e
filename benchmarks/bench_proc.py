"""rel-proc: the cost of a managed `run` of `true`, and how fast a cancelled 50-process tree is dead."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable

from harness import Group

import rel_proc
from rel_proc import managed_subprocess, run_sync

OBEDIENT_TREE = "for i in $(seq 49); do sleep 30 & done; wait"
STUBBORN_TREE = "trap '' TERM; for i in $(seq 49); do sleep 30 & done; wait"


async def _raw_wait() -> None:
    proc = await asyncio.create_subprocess_exec("true")
    await proc.wait()


async def _raw_communicate() -> None:
    proc = await asyncio.create_subprocess_exec(
        "true", stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    await proc.communicate()


async def _rel_no_capture() -> None:
    await rel_proc.run("true", capture_output=False)


async def _rel_no_capture_no_watchdog() -> None:
    await rel_proc.run("true", capture_output=False, die_with_parent=False)


async def _rel_capture() -> None:
    await rel_proc.run("true")


async def _rel_supervised() -> None:
    await rel_proc.run("true", capture_output=False, supervise=True)


def _interleaved(
    async_impls: dict[str, Callable[[], Awaitable[None]]],
    sync_impls: dict[str, Callable[[], object]],
    rounds: int,
    per_round: int,
) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in [*async_impls, *sync_impls]}

    async def async_round() -> None:
        for name, fn in async_impls.items():
            start = time.perf_counter()
            for _ in range(per_round):
                await fn()
            samples[name].append((time.perf_counter() - start) / per_round)

    for _ in range(rounds):
        asyncio.run(async_round())
        for name, fn in sync_impls.items():
            start = time.perf_counter()
            for _ in range(per_round):
                fn()
            samples[name].append((time.perf_counter() - start) / per_round)
    return {name: statistics.median(values) for name, values in samples.items()}


def _cancel_to_dead(shell: str, grace: float, repeat: int, *, supervise: bool = False) -> float:
    async def once() -> float:
        started = asyncio.Event()

        async def body() -> None:
            async with managed_subprocess(
                "sh", "-c", shell, grace=grace, stdout=None, stderr=None, supervise=supervise
            ) as proc:
                import psutil

                while len(psutil.Process(proc.pid).children()) < 49:  # noqa: ASYNC110 - polling another process
                    await asyncio.sleep(0.005)
                started.set()
                await asyncio.sleep(60)

        task = asyncio.ensure_future(body())
        await started.wait()
        t0 = time.perf_counter()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return time.perf_counter() - t0

    async def main() -> float:
        return statistics.median([await once() for _ in range(repeat)])

    return asyncio.run(main())


def run(quick: bool) -> list[Group]:
    asyncio.run(_rel_capture())  # start the owner-death watchdog once, as a real program would
    spawn = Group(
        "run `true` to completion",
        reference="asyncio create_subprocess_exec + wait",
        goal="rel run within 1.2x of the raw asyncio path.",
    )
    # Interleaved rounds: on a shared, noisy machine, timing each implementation in
    # its own block lets load changes masquerade as differences between them.
    async_impls = {
        "asyncio create_subprocess_exec + wait": _raw_wait,
        "rel run(capture_output=False)": _rel_no_capture,
        "rel run(capture_output=False, die_with_parent=False)": _rel_no_capture_no_watchdog,
        "asyncio create_subprocess_exec + communicate (pipes)": _raw_communicate,
        "rel run (captures stdout and stderr)": _rel_capture,
    }
    if rel_proc.supervise_supported():
        async_impls["rel run(capture_output=False, supervise=True) (a Python shim per spawn)"] = (
            _rel_supervised
        )
    sync_impls = {
        "subprocess.run": lambda: subprocess.run(["true"], check=False),
        "rel run_sync (new event loop per call)": lambda: run_sync("true"),
    }
    rounds, per_round = (8, 10) if quick else (25, 20)
    for name, seconds in _interleaved(async_impls, sync_impls, rounds, per_round).items():
        spawn.record(name, seconds)

    grace = 0.2
    tree = Group(
        "cancellation to a fully dead 50-process tree",
        reference="obedient tree (sleep obeys SIGTERM)",
        goal=f"obedient tree under 50 ms; SIGTERM-ignoring tree at most grace ({grace * 1000:.0f} ms) + 50 ms.",
    )
    n = 3 if quick else 5
    tree.record("obedient tree (sleep obeys SIGTERM)", _cancel_to_dead(OBEDIENT_TREE, grace, n))
    tree.record(f"SIGTERM-ignoring tree, grace {grace:g}s", _cancel_to_dead(STUBBORN_TREE, grace, n))
    if rel_proc.supervise_supported():
        tree.record("obedient tree, supervise=True", _cancel_to_dead(OBEDIENT_TREE, grace, n, supervise=True))
        tree.record(
            f"SIGTERM-ignoring tree, grace {grace:g}s, supervise=True",
            _cancel_to_dead(STUBBORN_TREE, grace, n, supervise=True),
        )
    return [spawn, tree]
