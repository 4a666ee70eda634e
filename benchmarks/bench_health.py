"""rel-health: concurrent check_all against running checks one after another; leak-detector sample cost."""

from __future__ import annotations

import asyncio
import time

import psutil
from harness import Group

from rel_health import HealthCheck, HealthChecker, ResourceLeakDetector

CHECKS = 50
IO_SECONDS = 0.02


def _async_check(i: int):
    async def check() -> HealthCheck:
        await asyncio.sleep(IO_SECONDS)  # stands in for a 20 ms round trip to a dependency
        return HealthCheck(f"dep{i}", "healthy")

    return check


def _sync_check(i: int):
    def check() -> HealthCheck:
        time.sleep(IO_SECONDS)  # a blocking client call
        return HealthCheck(f"dep{i}", "healthy")

    return check


def run(quick: bool) -> list[Group]:
    repeat = 3 if quick else 7
    return [_concurrency(repeat), _leak_sample_cost(repeat)]


def _concurrency(repeat: int) -> Group:
    group = Group(
        f"{CHECKS} checks with {IO_SECONDS * 1000:.0f} ms of I/O each",
        reference="sequential awaits",
        goal="rel check_all at least 20x faster than running the checks one after another.",
    )
    async_checks = [_async_check(i) for i in range(CHECKS)]
    sync_checks = [_sync_check(i) for i in range(CHECKS)]
    async_checker = HealthChecker()
    sync_checker = HealthChecker()
    for i in range(CHECKS):
        async_checker.add_check(f"dep{i}", async_checks[i])
        sync_checker.add_check(f"dep{i}", sync_checks[i])

    async def sequential() -> None:
        for check in async_checks:
            await check()

    group.time_slow("sequential awaits", lambda: asyncio.run(sequential()), repeat=repeat)
    group.time_slow("sequential sync calls", lambda: [check() for check in sync_checks], repeat=repeat)
    group.time_slow(
        "rel check_all (async checks)", lambda: asyncio.run(async_checker.check_all()), repeat=repeat
    )
    group.time_slow("rel check_all_sync (blocking checks)", sync_checker.check_all_sync, repeat=repeat)
    return group


def _leak_sample_cost(repeat: int) -> Group:
    group = Group(
        "leak detector: cost of one sample of this process",
        reference="rel check_now (all resources)",
        baseline="psutil memory_info only",
        goal="under 1% of one core at a 1 s interval, i.e. under 10 ms of CPU per sample.",
    )
    process = psutil.Process()
    full = ResourceLeakDetector(history_size=10)
    lean = ResourceLeakDetector(history_size=10, sample_connections=False)
    group.time("psutil memory_info only", process.memory_info, repeat=repeat)
    group.time("rel check_now (all resources)", full.check_now, repeat=repeat)
    group.time("rel check_now (no connections)", lean.check_now, repeat=repeat)
    for name, detector in (("all resources", full), ("no connections", lean)):
        samples = 200
        started = time.process_time()
        for _ in range(samples):
            detector.check_now()
        cpu = (time.process_time() - started) / samples
        group.notes.append(
            f"{name}: {cpu * 1000:.3f} ms CPU per sample = {cpu * 100:.3f}% of one core at a 1 s interval"
        )
    return group
