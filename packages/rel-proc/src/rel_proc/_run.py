"""``run`` and ``run_sync``: one command to completion, output captured within bounds."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from rel_proc._errors import ProcessFailedError, ProcessTimeoutError
from rel_proc._managed import DEVNULL, PIPE, check_seconds, feed_stdin, managed_subprocess
from rel_proc._output import BoundedOutput
from rel_proc._result import CompletedProcess
from rel_proc._tracker import DEFAULT_INTERVAL
from rel_telemetry import cap_timeout

_DRAIN_AFTER_EXIT = 1.0  # seconds to collect output still in the pipes once the tree is dead


async def run(
    program: str | os.PathLike[str] | Sequence[str],
    *args: str | os.PathLike[str],
    input: bytes | str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - a subprocess.run-style option
    grace: float | None = None,
    check: bool = False,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = True,
    capture_output: bool = True,
    max_output: int | None = None,
    retry: Any = None,
    die_with_parent: bool = True,
    track_interval: float | None = DEFAULT_INTERVAL,
    supervise: bool = False,
) -> CompletedProcess:
    """Run ``program *args`` to completion and return a :class:`CompletedProcess`.

    Both pipes are drained concurrently (no deadlock on large output); with
    ``max_output`` each stream keeps at most that many bytes (its head and
    tail). ``input`` is written to stdin (stdin is ``/dev/null`` otherwise).
    When the child exits, whatever it left running in its tree is ended
    (SIGTERM, ``grace``, SIGKILL) before this returns.

    ``timeout`` (capped by the ambient deadline) raises
    :class:`ProcessTimeoutError` after the whole tree is dead. ``check=True``
    raises :class:`ProcessFailedError` on a non-zero status or a signal.
    ``retry`` retries a failed *spawn* (never a run): a callable policy that
    takes the spawn coroutine function, e.g.
    ``functools.partial(rel_retry.async_retry_with_backoff, config=cfg)``, or a
    ``RetryConfig``-like object (only transient errors such as ``EAGAIN`` are
    retried). ``supervise=True`` runs the child under a subreaper shim (see
    :func:`managed_subprocess`). A missing program raises :class:`ProgramNotFoundError`.
    """
    check_seconds("timeout", timeout)
    data = input.encode() if isinstance(input, str) else input
    limit = cap_timeout(timeout)
    if limit is not None and limit <= 0:
        raise ProcessTimeoutError([str(program), *map(str, args)], timeout, 0.0)
    out, err = BoundedOutput(max_output), BoundedOutput(max_output)
    timed_out = False
    async with managed_subprocess(
        program,
        *args,
        stdin=PIPE if data is not None else DEVNULL,
        stdout=PIPE if capture_output else None,
        stderr=PIPE if capture_output else None,
        cwd=cwd,
        env=env,
        inherit_env=inherit_env,
        grace=grace,
        die_with_parent=die_with_parent,
        track_interval=track_interval,
        retry=retry,
        supervise=supervise,
    ) as proc:
        process = proc.process
        drains = [
            asyncio.ensure_future(buffer.drain(stream))
            for buffer, stream in ((out, process.stdout), (err, process.stderr))
            if stream is not None
        ]
        feeder = asyncio.ensure_future(feed_stdin(process.stdin, data)) if process.stdin is not None else None
        tasks = [*drains, feeder] if feeder is not None else drains
        try:
            try:
                async with asyncio.timeout(limit):
                    await proc.wait()
            except TimeoutError:
                timed_out = True
            exited_at = time.monotonic()
            await proc.terminate_tree()
            if drains:
                await asyncio.wait(drains, timeout=_DRAIN_AFTER_EXIT)
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
        duration = exited_at - proc.started_at
        if timed_out:
            raise ProcessTimeoutError(proc.argv, timeout, duration, out.getvalue(), err.getvalue())
        result = CompletedProcess(
            proc.argv,
            proc.returncode if proc.returncode is not None else -9,
            out.getvalue(),
            err.getvalue(),
            duration=duration,
            pid=proc.pid,
            tree_killed=proc.tree_killed,
            stdout_omitted=out.omitted,
            stderr_omitted=err.omitted,
        )
        if check and result.returncode != 0:
            raise ProcessFailedError(
                result.argv, result.returncode, result.signal, duration, result.stdout, result.stderr
            )
    return result


def run_sync(
    program: str | os.PathLike[str] | Sequence[str],
    *args: str | os.PathLike[str],
    input: bytes | str | None = None,
    timeout: float | None = None,
    grace: float | None = None,
    check: bool = False,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = True,
    capture_output: bool = True,
    max_output: int | None = None,
    retry: Any = None,
    die_with_parent: bool = True,
    track_interval: float | None = DEFAULT_INTERVAL,
    supervise: bool = False,
) -> CompletedProcess:
    """Blocking :func:`run`, with the same options, guarantees and errors.

    Runs its own event loop (in a helper thread when the calling thread already
    runs one). The ambient deadline of the caller applies.
    """
    limit = cap_timeout(timeout)
    coro = run(
        program,
        *args,
        input=input,
        timeout=limit,
        grace=grace,
        check=check,
        cwd=cwd,
        env=env,
        inherit_env=inherit_env,
        capture_output=capture_output,
        max_output=max_output,
        retry=retry,
        die_with_parent=die_with_parent,
        track_interval=track_interval,
        supervise=supervise,
    )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="rel-proc-run-sync")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]  # type: ignore[no-any-return]
