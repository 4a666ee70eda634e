from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator

import pytest

from rel_telemetry import clear_error_reports, configure_error_reports


@pytest.fixture(autouse=True)
def _clean_state() -> Iterator[None]:
    """Every test starts with an empty error store and the usual umask."""
    clear_error_reports()
    configure_error_reports(capacity=1000, sink_dir=None)
    old_umask = os.umask(0o022)
    yield
    os.umask(old_umask)
    clear_error_reports()


def temps_in(directory: os.PathLike[str] | str) -> list[str]:
    """rel-io temp files left in ``directory``."""
    return sorted(name for name in os.listdir(directory) if name.endswith(".tmp"))


@contextlib.contextmanager
def unprivileged() -> Iterator[None]:
    """Run the block without root's power to ignore permission bits.

    As root, switch the effective uid/gid to nobody (65534) for the block; as
    an ordinary user permission bits already apply, so do nothing.
    """
    if os.geteuid() != 0:
        yield
        return
    groups = os.getgroups()
    os.setgroups([])
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
        os.setgroups(groups)


class LoopTicks:
    """``async with LoopTicks() as t``: ``t.count`` event-loop turns (10 ms sleeps) during the block.

    A call that blocks the loop lets none through; one that waits off the loop
    lets many. Assert a small count only: the shared CI box may starve the loop.
    """

    def __init__(self) -> None:
        self.count = 0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            self.count += 1

    async def __aenter__(self) -> LoopTicks:
        self._task = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
