from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from .conftest import Rel


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_health_ok(rel: Rel, listening_port: int) -> None:
    """Healthy checks exit 0 and print one line per check plus the overall status."""
    out = rel("health", "--check", f"tcp:127.0.0.1:{listening_port}", "--check", "disk:/")
    assert out.returncode == 0, out.stdout
    assert "overall: healthy" in out.stdout


def test_health_failure_exits_1(rel: Rel) -> None:
    """A refused TCP connection makes the report unhealthy: exit 1."""
    out = rel("health", "--check", f"tcp:127.0.0.1:{_closed_port()}")
    assert out.returncode == 1
    assert "unhealthy" in out.stdout


def test_health_json(rel: Rel, listening_port: int) -> None:
    """--json prints the health+json document."""
    out = rel("health", "--json", "--check", f"tcp:127.0.0.1:{listening_port}")
    doc = json.loads(out.stdout)
    assert doc["status"] == "pass"
    assert f"tcp:127.0.0.1:{listening_port}" in doc["checks"]


@pytest.mark.parametrize("spec", ["tcp:nohostport", "tcp:host:99999", "bogus", "http:ftp://x"])
def test_health_bad_check_exit_2(rel: Rel, spec: str) -> None:
    """A malformed --check is a one-line error with exit 2."""
    out = rel("health", "--check", spec)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1


def test_health_serve(listening_port: int) -> None:
    """--serve answers probes on loopback and stops cleanly on SIGTERM."""
    port = _closed_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rel_all",
            "health",
            "--serve",
            str(port),
            "--check",
            f"tcp:127.0.0.1:{listening_port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
                    assert response.status == 200
                    assert json.loads(response.read())["status"] == "pass"
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_health_serve_on_a_busy_port_is_one_line_exit_1(rel: Rel, listening_port: int) -> None:
    """A port already in use: one line naming it, exit 1, no traceback."""
    out = rel("health", "--serve", str(listening_port), "--check", "memory")
    assert out.returncode == 1
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert f"127.0.0.1:{listening_port}" in out.stderr


@pytest.mark.parametrize("host", [[], ["--host", "0.0.0.0"]], ids=["loopback", "all-interfaces"])
def test_health_serve_port_0_prints_the_chosen_port(host: list[str]) -> None:
    """--serve 0 binds a free port (on --host if given) and prints its URL, which answers /livez."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rel_all", "health", "--serve", "0", *host, "--check", "memory"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split()[3].removesuffix("/livez,")
        assert url.startswith("http://0.0.0.0:" if host else "http://127.0.0.1:"), line
        port = int(url.rsplit(":", 1)[1])
        assert port != 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=5) as response:
            assert response.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
