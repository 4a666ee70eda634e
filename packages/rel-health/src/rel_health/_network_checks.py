"""Built-in checks of reachability and responsiveness: TCP, HTTP, event-loop lag."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import urllib.parse
from collections.abc import Collection, Mapping

from rel_health._check import HealthCheck, HealthStatus
from rel_health._system_checks import BuiltinCheck, _named, grade


def tcp_check(host: str, port: int, *, name: str | None = None) -> BuiltinCheck:
    """A check that a TCP connection to ``host:port`` opens (then closes it).

    Unhealthy when the connection is refused or fails; the checker's timeout
    bounds a connection attempt that hangs.

    :raises ValueError: ``port`` outside 1-65535.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"port must be an integer in 1-65535, got {port!r}")
    label = name or f"tcp:{host}:{port}"

    async def check() -> HealthCheck:
        started = time.perf_counter()
        try:
            _reader, writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            return HealthCheck.unhealthy(
                label, f"cannot connect to {host}:{port}: {exc}", host=host, port=port
            )
        elapsed = time.perf_counter() - started
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return HealthCheck.healthy(
            label, f"connected to {host}:{port} in {elapsed * 1000:.1f} ms", host=host, port=port
        )

    return _named(check, label)


def http_check(
    url: str,
    *,
    expected_status: int | Collection[int] = 200,
    degraded_status: Collection[int] = (),
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    name: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> BuiltinCheck:
    """A check that ``method url`` answers with ``expected_status`` (one code or several).

    A status in ``degraded_status`` makes the check degraded; any other
    unexpected status, or a connection failure, unhealthy. Only the status
    line is read; the checker's timeout bounds a server that never answers.
    Plain ``http`` and ``https`` (verified with ``ssl_context`` or the
    default context) are supported.

    :raises ValueError: ``url`` is not an absolute http(s) URL.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url must be an absolute http:// or https:// URL, got {url!r}")
    expected = {expected_status} if isinstance(expected_status, int) else set(expected_status)
    degraded = set(degraded_status)
    host = parts.hostname
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    host_header = parts.netloc.rsplit("@", 1)[-1]
    extra = "".join(f"{key}: {value}\r\n" for key, value in (headers or {}).items())
    request = (
        f"{method} {target} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: rel-health\r\n"
        f"Accept: */*\r\nConnection: close\r\n{extra}\r\n"
    ).encode("latin-1")
    label = name or f"http:{url}"

    async def check() -> HealthCheck:
        context = (ssl_context or ssl.create_default_context()) if secure else None
        try:
            reader, writer = await asyncio.open_connection(host, port, ssl=context)
        except OSError as exc:
            return HealthCheck.unhealthy(label, f"{method} {url}: cannot connect: {exc}", url=url)
        try:
            writer.write(request)
            await writer.drain()
            line = await reader.readline()
        finally:
            writer.close()
        fields = line.decode("latin-1").split(None, 2)
        if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
            return HealthCheck.unhealthy(
                label, f"{method} {url}: not an HTTP response: {line[:80]!r}", url=url
            )
        status = int(fields[1])
        want = sorted(expected)
        if status in expected:
            return HealthCheck.healthy(
                label, f"{method} {url} returned {status}", url=url, http_status=status
            )
        verdict = HealthStatus.DEGRADED if status in degraded else HealthStatus.UNHEALTHY
        return HealthCheck(
            label,
            verdict,
            f"{method} {url} returned {status}, expected {want[0] if len(want) == 1 else want}",
            {"url": url, "http_status": status},
        )

    return _named(check, label)


def event_loop_lag_check(
    *,
    warn_s: float = 0.1,
    fail_s: float = 0.5,
    loop: asyncio.AbstractEventLoop | None = None,
    name: str = "event_loop_lag",
) -> BuiltinCheck:
    """A check of how long a callback waits before ``loop`` runs it.

    Without ``loop`` it measures the loop running the check; pass the
    application's loop when checks run elsewhere (as under
    :func:`~rel_health.serve_health`). Degraded from ``warn_s`` of lag,
    unhealthy from ``fail_s``; a loop so blocked that it never answers is
    caught by the checker's timeout.

    :raises ValueError: thresholds that are not numbers > 0, or warn above fail.
    """
    for label, value in (("warn_s", warn_s), ("fail_s", fail_s)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError(f"{label} must be a number > 0 (seconds), got {value!r}")
    if warn_s > fail_s:
        raise ValueError(f"warn_s ({warn_s!r}) must not exceed fail_s ({fail_s!r})")

    async def check() -> HealthCheck:
        here = asyncio.get_running_loop()
        answered: asyncio.Future[float] = here.create_future()
        started = time.perf_counter()

        def settle(lag: float) -> None:
            if not answered.done():
                answered.set_result(lag)

        def ran() -> None:
            lag = time.perf_counter() - started
            if here is target:
                settle(lag)
            else:
                # The checking loop may be gone if the check timed out and it closed.
                with contextlib.suppress(RuntimeError):
                    here.call_soon_threadsafe(settle, lag)

        target = loop or here
        if target is here:
            here.call_soon(ran)
        else:
            target.call_soon_threadsafe(ran)
        lag = await answered
        return HealthCheck(
            name,
            grade(lag, warn_s, fail_s),
            f"event loop lag {lag * 1000:.1f} ms",
            {"lag_s": round(lag, 6)},
        )

    return _named(check, name)
