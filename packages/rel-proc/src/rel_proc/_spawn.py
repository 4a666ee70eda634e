"""Starting the child: environment, trace context, marker, spawn errors and the retry hook."""

from __future__ import annotations

import asyncio
import errno
import inspect
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import IO, Any, TypeAlias, TypeVar

from rel_proc._errors import ProcessSpawnError, ProgramNotFoundError
from rel_proc._tree import MARKER_VARIABLE, child_marker
from rel_telemetry import trace_env

T = TypeVar("T")
StreamSpec: TypeAlias = int | IO[Any] | None
RetryPolicy: TypeAlias = Callable[[Callable[[], Awaitable[Any]]], Any]
"""Any callable that takes the spawn coroutine function and returns an awaitable
of its result (``functools.partial(async_retry_with_backoff, config=...)``) or
a wrapped function (a retry decorator)."""

TRANSIENT_SPAWN_ERRNOS = frozenset(
    {errno.EAGAIN, errno.ENOMEM, errno.ENFILE, errno.EMFILE, errno.EINTR, errno.ETXTBSY}
)


def normalize_argv(program: str | os.PathLike[str] | Sequence[str], args: Sequence[Any]) -> list[str]:
    """The command line as strings; ``program`` may itself be a list when ``args`` is empty."""
    if isinstance(program, list | tuple):
        if args:
            raise TypeError("pass the command either as one list or as program, *args - not both")
        items = list(program)
    else:
        items = [program, *args]
    if not items:
        raise ValueError("the command line is empty: pass a program to run")
    return [os.fsdecode(a) if isinstance(a, bytes | os.PathLike) else str(a) for a in items]


def child_environment(env: Mapping[str, str] | None, *, inherit_env: bool, token: str) -> dict[bytes, bytes]:
    """The child's environment: ``env`` merged over (or replacing) ours, plus trace context and marker.

    Built from ``os.environb`` as bytes, which spares decoding and re-encoding
    every variable on each spawn.
    """
    result: dict[bytes, bytes] = dict(os.environb) if env is None or inherit_env else {}
    if env is not None:
        result.update((os.fsencode(k), os.fsencode(v)) for k, v in env.items())
    result.pop(b"TRACEPARENT", None)
    result.pop(b"TRACESTATE", None)
    for key, value in trace_env().items():
        result[key.encode()] = value.encode()
    inherited = os.environ.get(MARKER_VARIABLE)
    result[MARKER_VARIABLE.encode()] = child_marker(inherited, token).encode()
    return result


class ExitAwareProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """asyncio's stream protocol plus a future set the moment the child exits.

    ``Process.wait()`` also waits for the pipes to close, which never happens
    while a grandchild holds them; teardown needs to know about the child alone.
    """

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.exited: asyncio.Future[None] = loop.create_future()

    def process_exited(self) -> None:
        super().process_exited()
        if not self.exited.done():
            self.exited.set_result(None)


async def spawn(
    argv: list[str],
    *,
    env: dict[bytes, bytes],
    cwd: str | os.PathLike[str] | None,
    stdin: StreamSpec,
    stdout: StreamSpec,
    stderr: StreamSpec,
    limit: int,
    pass_fds: Sequence[int] = (),
) -> tuple[asyncio.subprocess.Process, ExitAwareProtocol]:
    """Start ``argv`` in a new session (its own process group); raise a typed spawn error."""
    loop = asyncio.get_running_loop()
    try:
        transport, protocol = await loop.subprocess_exec(
            lambda: ExitAwareProtocol(limit, loop),
            *argv,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            cwd=cwd,
            env=env,
            start_new_session=True,
            pass_fds=pass_fds,
        )
    except OSError as exc:
        raise spawn_error(argv, exc, env, cwd) from exc
    return asyncio.subprocess.Process(transport, protocol, loop), protocol


def spawn_error(
    argv: list[str], exc: OSError, env: Mapping[bytes, bytes], cwd: str | os.PathLike[str] | None
) -> ProcessSpawnError:
    """The typed error for a failed start: missing program, missing working directory, or another errno."""
    where = None if cwd is None else os.fspath(cwd)
    if exc.errno == errno.ENOENT:
        if where is not None and exc.filename is not None and os.fspath(exc.filename) == where:
            return ProcessSpawnError(argv, errno.ENOENT, "working directory does not exist", cwd=where)
        return ProgramNotFoundError(argv, os.fsdecode(env.get(b"PATH", os.defpath.encode())), cwd=where)
    return ProcessSpawnError(argv, exc.errno or 0, exc.strerror or str(exc), cwd=where)


async def call_with_retry(attempt: Callable[[], Awaitable[T]], retry: Any) -> T:
    """Run ``attempt`` under ``retry``: None, a policy callable, or a ``RetryConfig``-like object.

    A config-like object (``max_retries``, ``base_delay_seconds``, ``multiplier``,
    ``max_delay_seconds``) retries only transient spawn errors (``EAGAIN``,
    ``ENOMEM``, ``EMFILE``, ``ENFILE``, ``EINTR``, ``ETXTBSY``).
    """
    if retry is None:
        return await attempt()
    if callable(retry):
        outcome = retry(attempt)
        if inspect.isawaitable(outcome):
            return await outcome  # type: ignore[no-any-return]
        if callable(outcome):
            return await outcome()  # type: ignore[no-any-return]
        raise TypeError(
            f"retry policy {retry!r} returned {outcome!r}; it must return an awaitable or a wrapped function"
        )
    if hasattr(retry, "max_retries"):
        return await _retry_with_config(attempt, retry)
    raise TypeError(f"retry must be None, a callable policy or a RetryConfig-like object, got {retry!r}")


async def _retry_with_config(attempt: Callable[[], Awaitable[T]], config: Any) -> T:
    retries = int(config.max_retries)
    delay = float(getattr(config, "base_delay_seconds", 0.1))
    multiplier = float(getattr(config, "multiplier", 2.0))
    cap = float(getattr(config, "max_delay_seconds", 10.0))
    for n in range(retries + 1):
        try:
            return await attempt()
        except ProcessSpawnError as exc:
            if n >= retries or exc.errno not in TRANSIENT_SPAWN_ERRNOS:
                exc.add_note(f"rel_proc: spawn attempted {n + 1} time(s)")
                raise
        await asyncio.sleep(min(cap, delay * multiplier**n))
    raise AssertionError("unreachable")  # pragma: no cover
