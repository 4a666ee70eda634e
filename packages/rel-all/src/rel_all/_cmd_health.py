"""``rel health``: run health checks once, or serve them for probes."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from rel_health import (
    HealthChecker,
    cpu_check,
    disk_space_check,
    http_check,
    memory_check,
    open_files_check,
    serve_health,
    tcp_check,
)

DEFAULT_CHECKS = ("disk:/", "memory", "files")


class CheckSpecError(ValueError):
    """A ``--check`` value that names no known check or is malformed."""


def parse_check(spec: str) -> tuple[str, Any]:
    """Turn ``disk:/``, ``memory``, ``cpu``, ``files``, ``tcp:HOST:PORT`` or ``http:URL`` into (name, check)."""
    kind, _, arg = spec.partition(":")
    if kind == "disk":
        path = arg or "/"
        return f"disk:{path}", disk_space_check(path, name=f"disk:{path}")
    if kind == "memory" and not arg:
        return kind, memory_check(name=kind)
    if kind == "cpu" and not arg:
        return kind, cpu_check(name=kind)
    if kind == "files" and not arg:
        return kind, open_files_check(name=kind)
    if kind == "tcp":
        host, _, port = arg.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")  # [::1]:80
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise CheckSpecError(f"--check {spec!r}: expected tcp:HOST:PORT with a port in 1-65535")
        return spec, tcp_check(host, int(port), name=spec)
    if kind == "http" and arg.startswith(("http://", "https://")):
        return spec, http_check(arg, name=spec)
    raise CheckSpecError(
        f"--check {spec!r}: unknown check; use disk:PATH, memory, cpu, files, tcp:HOST:PORT or http:URL"
    )


def build_checker(specs: Sequence[str], timeout: float) -> HealthChecker:
    """A checker holding the checks named by ``specs`` (the defaults when empty)."""
    checker = HealthChecker()
    for spec in specs or DEFAULT_CHECKS:
        name, check = parse_check(spec)
        checker.add_check(name, check, timeout=timeout, groups=("readiness",))
    return checker


def health_command(
    specs: Sequence[str], *, timeout: float, serve: int | None, as_json: bool, host: str = "127.0.0.1"
) -> int:
    """Run or serve the checks; 0 when healthy, 1 when not, 2 for a bad ``--check``."""
    try:
        checker = build_checker(specs, timeout)
    except ValueError as exc:
        print(f"rel health: error: {exc}", file=sys.stderr)
        return 2
    if serve is not None:
        return _serve(checker, host, serve)
    report = checker.check_all_sync()
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        for name, check in report.checks.items():
            duration = report.durations.get(name)
            took = f"{duration * 1000:7.1f} ms" if duration is not None else "        -"
            print(f"{check.status.value!s:10} {name:30} {took}  {check.message}")
        print(f"overall: {report.status.value}")
    return 0 if report.is_healthy() else 1


def _serve(checker: HealthChecker, host: str, port: int) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with serve_health(checker, host, port) as server:
            print(
                f"rel health: serving {server.url}/livez, /readyz and /healthz (Ctrl-C to stop)", flush=True
            )
            while not stop.wait(0.5):
                pass
    except OSError as exc:
        print(f"rel health: error: cannot serve on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
