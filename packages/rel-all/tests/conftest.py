from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence

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
