"""``managed_subprocess``: an async context manager whose process tree never outlives the block."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from rel_proc._errors import ProcessTimeoutError
from rel_proc._result import signal_name
from rel_proc._scan import ProcInfo
from rel_proc._spawn import (
    StreamSpec,
    call_with_retry,
    child_environment,
    normalize_argv,
    spawn,
)
from rel_proc._supervise import Supervisor, spawn_supervised, supervise_supported
from rel_proc._testing import default_grace
from rel_proc._tracker import DEFAULT_INTERVAL
from rel_proc._tree import Child, ProcessTree, finish_despite_cancellation, owner
from rel_proc._version import __version__
from rel_telemetry import Instrumentation, attributes, cap_timeout, traced, tracing_enabled

PIPE = asyncio.subprocess.PIPE
DEVNULL = asyncio.subprocess.DEVNULL
STDOUT = asyncio.subprocess.STDOUT
DEFAULT_LIMIT = 1 << 16

instrumentation = Instrumentation("rel_proc", __version__)


def check_seconds(name: str, value: float | None, *, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(
            f"{name} must be a finite number of seconds >= 0{' or None' if allow_none else ''}, got {value!r}"
        )


class ManagedProcess:
    """A child process whose whole tree is ended when the ``async with`` block exits.

    Use through :func:`managed_subprocess`. Inside the block it behaves like an
    :class:`asyncio.subprocess.Process` (``pid``, ``stdin``/``stdout``/``stderr``,
    ``communicate()``, ``wait()``, ``async for line in proc``). On every way
    out - normal exit, exception, cancellation, timeout - the tree gets SIGTERM,
    up to ``grace`` seconds, then SIGKILL, and everything is reaped before
    ``__aexit__`` returns. ``supervised`` is True when a supervising shim runs
    between this process and the child (``supervise=True`` where supported);
    ``process`` is then the shim's, while ``pid`` and ``returncode`` stay the child's.
    """

    def __init__(
        self,
        argv: list[str],
        *,
        stdin: StreamSpec,
        stdout: StreamSpec,
        stderr: StreamSpec,
        cwd: str | os.PathLike[str] | None,
        env: Mapping[str, str] | None,
        inherit_env: bool,
        timeout: float | None,
        grace: float | None,
        die_with_parent: bool,
        track_interval: float | None,
        retry: Any,
        limit: int,
        supervise: bool = False,
    ) -> None:
        check_seconds("timeout", timeout)
        check_seconds("grace", grace)
        grace = default_grace() if grace is None else grace
        check_seconds("track_interval", track_interval)
        if track_interval == 0:
            raise ValueError("track_interval must be > 0 seconds or None (no tracking), got 0")
        self.argv = argv
        self.grace = grace
        self.timeout = timeout
        self.die_with_parent = die_with_parent
        self.supervised = supervise and supervise_supported()
        self._options: dict[str, Any] = {
            "stdin": stdin,
            "stdout": stdout,
            "stderr": stderr,
            "cwd": cwd,
            "env": env,
            "inherit_env": inherit_env,
            "limit": limit,
        }
        self._track_interval = track_interval
        self._retry = retry
        self._process: asyncio.subprocess.Process | None = None
        self._supervisor: Supervisor | None = None
        self._exited: asyncio.Future[None] | None = None
        self._tree: ProcessTree | None = None
        self._span: traced | None = None
        self._span_obj: Any = None
        self._timeout_cm: asyncio.Timeout | None = None
        self._effective_timeout: float | None = None
        self.started_at = 0.0
        self.duration: float | None = None

    # -- the asyncio.subprocess.Process surface ---------------------------
    @property
    def process(self) -> asyncio.subprocess.Process:
        """The underlying :class:`asyncio.subprocess.Process` (RuntimeError before the block)."""
        if self._process is None:
            raise RuntimeError(
                "the process is not started: use it inside 'async with managed_subprocess(...)'"
            )
        return self._process

    @property
    def pid(self) -> int:
        """The child's pid (also its process group id)."""
        process = self.process
        return self._supervisor.pid if self._supervisor is not None else process.pid

    @property
    def stdin(self) -> asyncio.StreamWriter | None:
        """The child's standard input when ``stdin=PIPE``."""
        return self.process.stdin

    @property
    def stdout(self) -> asyncio.StreamReader | None:
        """The child's standard output when ``stdout=PIPE`` (the default)."""
        return self.process.stdout

    @property
    def stderr(self) -> asyncio.StreamReader | None:
        """The child's standard error when ``stderr=PIPE`` (the default)."""
        return self.process.stderr

    @property
    def returncode(self) -> int | None:
        """The exit status once reaped, else None; a negative value is the signal that killed it."""
        process = self.process
        return self._supervisor.returncode if self._supervisor is not None else process.returncode

    @property
    def signal(self) -> str | None:
        """Name of the signal that ended the child (``"SIGTERM"``), or None."""
        return signal_name(self.returncode)

    @property
    def tree_killed(self) -> bool:
        """True if teardown had to SIGKILL part of the tree after the grace period."""
        return self._tree is not None and self._tree.killed

    async def communicate(self, input: bytes | None = None) -> tuple[bytes, bytes]:
        """Send ``input``, read both pipes to the end concurrently, wait for the child.

        Same contract as :meth:`asyncio.subprocess.Process.communicate`.
        """
        if self._supervisor is None:
            return await self.process.communicate(input)
        # The process asyncio knows is the shim, which outlives the child; wait for the child.
        process = self.process
        _, out, err = await asyncio.gather(
            feed_stdin(process.stdin, input), _read_all(process.stdout), _read_all(process.stderr)
        )
        await self.wait()
        return out, err  # type: ignore[return-value]  # None for a stream that is not a pipe, as asyncio's

    async def wait(self) -> int:
        """Wait for the child to exit and return its status.

        Unlike :meth:`asyncio.subprocess.Process.wait` this returns as soon as
        the child exits, even if a grandchild still holds its pipes open.
        """
        if self._exited is None:
            raise RuntimeError(
                "the process is not started: use it inside 'async with managed_subprocess(...)'"
            )
        await asyncio.shield(self._exited)
        rc = self.returncode
        assert rc is not None
        return rc

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the child only (nothing once it has been reaped)."""
        if self.returncode is None:
            # Popen.send_signal() would waitpid() first and steal asyncio's exit status.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    async def terminate_tree(self, grace: float | None = None) -> None:
        """End the whole tree now (SIGTERM, ``grace``, SIGKILL) and reap it; idempotent."""
        if self._tree is None or self._process is None:
            return
        assert self._exited is not None
        await self._tree.end(self._child(), self._exited, self.grace if grace is None else grace)
        self._mark_done()

    def _child(self) -> Child:
        return self._supervisor if self._supervisor is not None else self.process

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[bytes]:
        stream = self.process.stdout
        if stream is None:
            raise RuntimeError("line iteration needs stdout=PIPE")
        while line := await stream.readline():
            yield line

    # -- lifecycle ----------------------------------------------------------
    async def __aenter__(self) -> ManagedProcess:
        if self._process is not None:
            raise RuntimeError("a ManagedProcess can be entered only once")
        self._span = traced(f"proc.run {os.path.basename(self.argv[0])}", scope=instrumentation)
        span = self._span_obj = self._span.__enter__()
        try:
            self._effective_timeout = cap_timeout(self.timeout)
            if self._effective_timeout is not None:
                self._timeout_cm = asyncio.timeout(self._effective_timeout)
                await self._timeout_cm.__aenter__()
            token = owner.next_token()
            env = child_environment(
                self._options["env"], inherit_env=self._options["inherit_env"], token=token
            )
            options = {k: v for k, v in self._options.items() if k not in ("env", "inherit_env")}
            self.started_at = time.monotonic()
            process, exited, supervisor = await call_with_retry(
                lambda: self._spawn_through_cancellation(env, token, options), self._retry
            )
            self._process, self._exited, self._supervisor = process, exited, supervisor
            self._tree = _tree_of(process, supervisor, token, self._track_interval)
            # A supervised tree needs neither: its shim adopts orphans and outlives the owner.
            self._tree.start(die_with_parent=self.die_with_parent and supervisor is None)
        except BaseException as exc:
            if self._timeout_cm is not None:
                try:
                    await self._timeout_cm.__aexit__(type(exc), exc, exc.__traceback__)
                except TimeoutError as timeout_exc:
                    error = ProcessTimeoutError(self.argv, self._effective_timeout, 0.0)
                    self._span.__exit__(type(error), error, None)
                    raise error from timeout_exc
            self._span.__exit__(type(exc), exc, exc.__traceback__)
            raise
        if tracing_enabled():
            span.set_attribute(attributes.PROC_PID, self.pid)
            span.set_attribute(attributes.PROC_ARGV0, self.argv[0])
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        error: BaseException | None = exc
        timed_out: TimeoutError | None = None
        if self._timeout_cm is not None:
            try:
                await self._timeout_cm.__aexit__(exc_type, exc, tb)
            except TimeoutError as timeout_exc:
                timed_out = timeout_exc
        await self._end_shielded()
        assert self._span is not None
        if timed_out is not None:
            error = ProcessTimeoutError(self.argv, self._effective_timeout, self.duration or 0.0)
        self._finish_span(error)
        if timed_out is not None:
            assert isinstance(error, ProcessTimeoutError)
            raise error from timed_out

    async def _end_shielded(self) -> None:
        """Tear down even if this task is cancelled meanwhile; re-raise the cancellation after."""
        assert self._tree is not None
        assert self._process is not None
        assert self._exited is not None
        if not self._tree.ended:
            ending = asyncio.ensure_future(self._tree.end(self._child(), self._exited, self.grace))
            cancelled = await finish_despite_cancellation(ending)
        else:
            cancelled = False
        self._mark_done()
        if cancelled:
            raise asyncio.CancelledError

    async def _spawn(
        self, env: dict[bytes, bytes], options: dict[str, Any]
    ) -> tuple[asyncio.subprocess.Process, asyncio.Future[None], Supervisor | None]:
        if self.supervised:
            process, supervisor = await spawn_supervised(
                self.argv, env=env, kill_on_eof=self.die_with_parent, **options
            )
            return process, supervisor.exited, supervisor
        process, protocol = await spawn(self.argv, env=env, **options)
        return process, protocol.exited, None

    async def _spawn_through_cancellation(
        self, env: dict[bytes, bytes], token: str, options: dict[str, Any]
    ) -> tuple[asyncio.subprocess.Process, asyncio.Future[None], Supervisor | None]:
        """Spawn; if cancelled meanwhile, let the spawn finish, end what it started, then re-raise.

        Cancelling asyncio's own spawn midway kills only the direct child and then
        waits for its pipes, which grandchildren may hold open for as long as they live.
        """
        spawning = asyncio.ensure_future(self._spawn(env, options))
        if not await finish_despite_cancellation(spawning):
            return spawning.result()
        if spawning.cancelled() or spawning.exception() is not None:
            raise asyncio.CancelledError
        process, exited, supervisor = spawning.result()
        tree = _tree_of(process, supervisor, token, None)
        child: Child = supervisor if supervisor is not None else process
        await finish_despite_cancellation(asyncio.ensure_future(tree.end(child, exited, 0.0)))
        transport = getattr(process, "_transport", None)
        if transport is not None:
            transport.close()
        raise asyncio.CancelledError

    def _mark_done(self) -> None:
        if self.duration is None:
            self.duration = time.monotonic() - self.started_at
        process = self._process
        transport = getattr(process, "_transport", None)
        if transport is not None and process is not None and process.returncode is not None:
            transport.close()

    def _finish_span(self, error: BaseException | None) -> None:
        span_cm = self._span
        assert span_cm is not None
        if tracing_enabled() and self._process is not None:
            span = self._span_obj
            rc = self.returncode
            if rc is not None:
                span.set_attribute(attributes.PROC_EXIT_CODE, rc)
                name = signal_name(rc)
                if name:
                    span.set_attribute(attributes.PROC_SIGNAL, name)
            span.set_attribute(attributes.PROC_DURATION, self.duration or 0.0)
            span.set_attribute(attributes.PROC_TREE_KILLED, self.tree_killed)
        span_cm.__exit__(None if error is None else type(error), error, None)


def _tree_of(
    process: asyncio.subprocess.Process,
    supervisor: Supervisor | None,
    token: str,
    track_interval: float | None,
) -> ProcessTree:
    # The start time (0.0: unknown) is read only if teardown has to scan: reading
    # /proc of a process that is still exec()ing waits for the exec to finish.
    if supervisor is None:
        root = ProcInfo(process.pid, os.getpid(), process.pid, 0.0)
        return ProcessTree(root, token, track_interval=track_interval)
    root = ProcInfo(supervisor.pid, process.pid, supervisor.pid, 0.0)
    # No tracking: every orphan of the tree is re-parented to the shim, so stays a descendant.
    return ProcessTree(root, token, track_interval=None, anchor=process.pid, supervisor=supervisor)


async def feed_stdin(stdin: asyncio.StreamWriter | None, data: bytes | None) -> None:
    """Write ``data`` to the child's stdin and close it; a child that closed its stdin early is not an error."""
    if stdin is None:
        return
    try:
        if data:
            stdin.write(data)
            await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the child closed its stdin early; what it read is what it gets, as with communicate()
    finally:
        with contextlib.suppress(OSError):
            stdin.close()


async def _read_all(stream: asyncio.StreamReader | None) -> bytes | None:
    return None if stream is None else await stream.read()


def managed_subprocess(
    program: str | os.PathLike[str] | Sequence[str],
    *args: str | os.PathLike[str],
    stdin: StreamSpec = None,
    stdout: StreamSpec = PIPE,
    stderr: StreamSpec = PIPE,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = True,
    timeout: float | None = None,
    grace: float | None = None,
    die_with_parent: bool = True,
    track_interval: float | None = DEFAULT_INTERVAL,
    retry: Any = None,
    limit: int = DEFAULT_LIMIT,
    supervise: bool = False,
) -> ManagedProcess:
    """Start ``program *args`` for an ``async with`` block; the whole tree dies when it exits.

    ``stdout``/``stderr`` default to pipes, ``stdin`` is inherited (pass
    ``PIPE`` to write to it). ``env`` is merged over this process's environment
    (``inherit_env=False`` replaces it); trace context is added either way.
    ``timeout`` (capped by the ambient deadline) bounds the block and raises
    :class:`ProcessTimeoutError` once the tree is dead. ``grace`` is how long
    teardown gives the tree, counted from its start, before SIGKILL (default
    2 s, see :func:`set_testing`). ``die_with_parent`` ends the tree even if
    this process is SIGKILLed. ``track_interval`` is how often descendants are
    recorded (None: never). ``retry`` retries transient spawn failures (see
    :func:`run`). ``supervise=True`` (Linux; ignored elsewhere) puts a small
    subreaper shim between this process and the child: every orphan of the
    tree is adopted by it, however it escaped, and it ends the tree if this
    process dies; it costs a Python start-up (about 10-20 ms) per spawn.
    Spawn failures raise :class:`ProgramNotFoundError` or
    :class:`ProcessSpawnError`; invalid options raise ``ValueError``.
    """
    return ManagedProcess(
        normalize_argv(program, args),
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        cwd=cwd,
        env=env,
        inherit_env=inherit_env,
        timeout=timeout,
        grace=grace,
        die_with_parent=die_with_parent,
        track_interval=track_interval,
        retry=retry,
        limit=limit,
        supervise=supervise,
    )
