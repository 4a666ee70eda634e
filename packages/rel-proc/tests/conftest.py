from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from rel_telemetry._propagation import _reset_process_parent

MARK = "REL_PROC_TEST"


def leftovers(token: str) -> tuple[list[int], list[int]]:
    """(live processes carrying ``MARK=token``, zombie children of this process)."""
    live: list[int] = []
    zombies: list[int] = []
    me = os.getpid()
    for proc in psutil.process_iter(["ppid", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                if proc.info["ppid"] == me:
                    zombies.append(proc.pid)
                continue
            if proc.pid != me and proc.environ().get(MARK) == token:
                live.append(proc.pid)
        except psutil.Error:
            continue
    return live, zombies


# How long the tests give a dead owner's watchdog or shim to end its trees. Either takes well
# under a second on an idle machine; the watchdog, a fresh Python process, must start first.
OWNER_DEATH_SECONDS = 10.0


def wait_gone(token: str, seconds: float) -> list[int]:
    """Poll until no live process carries ``MARK=token`` or ``seconds`` pass; return those still alive."""
    deadline = time.monotonic() + seconds
    live = leftovers(token)[0]
    while live and time.monotonic() < deadline:
        time.sleep(0.02)
        live = leftovers(token)[0]
    return live


async def until(predicate: Callable[[], object], what: str, seconds: float = 10.0) -> None:
    """Poll ``predicate`` every 10 ms until it holds; fail saying ``what`` did not happen after ``seconds``.

    Process start-up is quick on an idle machine, but a loaded CI runner can stall one for seconds.
    """
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"{what} within {seconds} s"
        await asyncio.sleep(0.01)


def until_sync(predicate: Callable[[], object], what: str, seconds: float = 10.0) -> None:
    """:func:`until` for tests without an event loop."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"{what} within {seconds} s"
        time.sleep(0.01)


@pytest.fixture
def token() -> str:
    """A fresh marker value for this test's processes."""
    return uuid.uuid4().hex


@pytest.fixture
def mark(token: str) -> Iterator[dict[str, str]]:
    """Environment marking a test's processes; after the test none may be alive."""
    yield {MARK: token}
    live, zombies = leftovers(token)
    for pid in live:  # do not leak into later tests, but fail this one
        with contextlib.suppress(OSError):
            os.kill(pid, 9)
    assert live == [], f"processes left alive: {live}"
    assert zombies == [], f"zombie children left: {zombies}"


@pytest.fixture(autouse=True)
def _fresh_trace_parent() -> Iterator[None]:
    _reset_process_parent()
    yield
    _reset_process_parent()


PY = sys.executable


def script(tmp_path: Path, name: str, body: str) -> str:
    """Write a Python script and return its path."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


@contextlib.contextmanager
def owner_process(
    tmp_path: Path, code: str, mark: dict[str, str], *args: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Run ``code`` as a marked owner process with ``args``; yield it and its first line, which must
    start with "ready". The owner is killed at the end if the test left it running."""
    owner = subprocess.Popen(
        [PY, script(tmp_path, "owner.py", code), *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **mark},
    )
    try:
        assert owner.stdout is not None
        line = owner.stdout.readline()
        assert line.startswith("ready"), line
        yield owner, line
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()


# A shell that starts three sleeping grandchildren and sleeps itself.
TREE = "sleep 30 & sleep 30 & sleep 30 & sleep 30"
# A shell that ignores SIGTERM, as do the grandchildren it starts.
STUBBORN = "trap '' TERM; sleep 30 & sleep 30 & wait"
# A grandchild that leaves the process group with setsid and is orphaned at once.
ESCAPED = "(setsid sleep 30 &); sleep 30"
# A child that closes its stdout and keeps running.
CLOSES_STDOUT = "exec >&-; sleep 30"
# A grandchild that scrubs its environment (keeping only the test marker), leaves the group
# with setsid and is orphaned at once: no group, no tree marker, no parent link, no time to be tracked.
SCRUBBED = "(env -i REL_PROC_TEST=$REL_PROC_TEST PATH=/usr/bin:/bin setsid sleep 30 &); sleep 30"
