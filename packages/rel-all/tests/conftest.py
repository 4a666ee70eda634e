from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence

import psutil
import pytest

Rel = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def rel() -> Rel:
    """Run the real ``rel`` command (``python -m rel_all``) and capture its output."""

    def call(
        *args: str, env: dict[str, str] | None = None, timeout: float = 120, cwd: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "rel_all", *args],
            check=False,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
            cwd=cwd,
        )

    return call


def lines(text: str) -> Sequence[str]:
    return [line for line in text.splitlines() if line.strip()]


def alive_after(pids: Iterable[int], seconds: float) -> list[int]:
    """Those of ``pids`` still running once they had up to ``seconds`` to end (a zombie counts as ended)."""
    deadline = time.monotonic() + seconds
    alive = list(pids)
    while True:
        alive = [pid for pid in alive if _running(pid)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.05)


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:  # it may end between the lookup and the status read
        return False
