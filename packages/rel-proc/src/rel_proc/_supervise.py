"""The owner side of the supervising shim (``supervise=True``; Linux, see ``_shim_main``).

The shim is started in a new session with one end of a socket pair; it forks
the program, reports its pid and, later, its exit status, and stays until the
tree it adopted is empty. This end is non-inheritable and closed in forked
children, so the shim sees end-of-file exactly when the owner is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import sys
import weakref
from pathlib import Path

from rel_proc._errors import ProcessSpawnError, ProgramNotFoundError
from rel_proc._scan import IS_LINUX
from rel_proc._spawn import StreamSpec, spawn, spawn_error

SHIM = str(Path(__file__).with_name("_shim_main.py"))

_live: weakref.WeakSet[Supervisor] = weakref.WeakSet()


def supervise_supported() -> bool:
    """True where ``supervise=True`` runs a subreaper shim.

    That needs Linux, a Python interpreter to run it with (not a frozen
    application, whose ``sys.executable`` is the application itself) and the
    shim's source as a file on disk (not inside a zip archive).
    """
    return IS_LINUX and bool(sys.executable) and not getattr(sys, "frozen", False) and os.path.isfile(SHIM)


class Supervisor:
    """One shim as seen from the owner: the program's pid, its exit status, and the shim's own end.

    ``status_lost`` is True if the shim died before reporting the program's exit:
    ``returncode`` is then the shim's, and the program may still run.
    """

    def __init__(
        self, sock: socket.socket, shim: asyncio.subprocess.Process, shim_exited: asyncio.Future[None]
    ) -> None:
        loop = asyncio.get_running_loop()
        self._sock = sock
        self._shim = shim
        self._shim_exited = shim_exited
        self._buffer = b""
        self._reading = True
        self.started: asyncio.Future[int] = loop.create_future()
        self.exited: asyncio.Future[None] = loop.create_future()
        self.returncode: int | None = None
        self.status_lost = False
        self.quiet = False
        self.pid = 0
        loop.add_reader(sock.fileno(), self._readable)
        _live.add(self)

    def _readable(self) -> None:
        try:
            data = self._sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._stop_reading()
            self._shim_gone()
            return
        *lines, self._buffer = (self._buffer + data).split(b"\n")
        for line in lines:
            kind, _, value = line.partition(b" ")
            if kind == b"P" and not self.started.done():
                self.pid = int(value)
                self.started.set_result(self.pid)
            elif kind == b"E" and not self.started.done():
                code = int(value)
                self.started.set_exception(OSError(code, os.strerror(code)))
            elif kind == b"X" and not self.exited.done():
                self.returncode = os.waitstatus_to_exitcode(int(value))
                self.exited.set_result(None)
            elif kind == b"Q":
                self.quiet = True

    def _shim_gone(self) -> None:
        """The shim closed its end: it exited, normally after ``Q``, or it was killed."""
        if not self.started.done():
            self.started.set_exception(
                OSError(errno.ECHILD, "the supervising shim exited before starting the program")
            )
        if not self.exited.done():

            def settle(_: object) -> None:
                if not self.exited.done():
                    # The shim was killed before reporting: the program's status is lost (it
                    # may even run on); teardown still finds it by its process group and marker.
                    self.returncode = self._shim.returncode
                    self.status_lost = True
                    self.exited.set_result(None)

            self._shim_exited.add_done_callback(settle)

    @property
    def connected(self) -> bool:
        """True until the shim's end closed: while it runs, ``quiet`` is the whole truth."""
        return self._reading

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._sock.fileno())

    def request_end(self) -> None:
        """Ask the shim to SIGKILL whatever is left of the tree and exit (no waiting)."""
        with contextlib.suppress(OSError):
            self._sock.send(b"K\n")

    async def close(self) -> None:
        """Have the shim end what is left and exit; return once it has been reaped."""
        if not self._shim_exited.done():
            self.request_end()
            await asyncio.shield(self._shim_exited)
        self._stop_reading()
        self._sock.close()

    def _after_fork(self) -> None:
        self._sock.close()


def _close_in_forked_child() -> None:
    # A forked copy of the owner must not hold the socket open, or the owner's death would go unseen.
    for supervisor in list(_live):
        with contextlib.suppress(Exception):
            supervisor._after_fork()
    _live.clear()


os.register_at_fork(after_in_child=_close_in_forked_child)


async def spawn_supervised(
    argv: list[str],
    *,
    env: dict[bytes, bytes],
    kill_on_eof: bool,
    cwd: str | os.PathLike[str] | None,
    stdin: StreamSpec,
    stdout: StreamSpec,
    stderr: StreamSpec,
    limit: int,
) -> tuple[asyncio.subprocess.Process, Supervisor]:
    """Start the shim, which starts ``argv``; return once the program runs (or raise its spawn error)."""
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    shim_argv = [sys.executable, "-I", "-S", SHIM, str(theirs.fileno()), "1" if kill_on_eof else "0", *argv]
    try:
        try:
            process, protocol = await spawn(
                shim_argv,
                env=env,
                cwd=cwd,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                limit=limit,
                pass_fds=(theirs.fileno(),),
            )
        except ProcessSpawnError as exc:
            cause = exc.__cause__
            if not isinstance(cause, OSError):
                raise
            if isinstance(exc, ProgramNotFoundError):  # the program is the shim's interpreter here
                raise ProcessSpawnError(
                    argv, errno.ENOENT, f"the supervising shim's interpreter {sys.executable!r} is missing"
                ) from cause
            raise spawn_error(argv, cause, env, cwd) from cause
        finally:
            theirs.close()
    except BaseException:
        ours.close()
        raise
    supervisor = Supervisor(ours, process, protocol.exited)
    try:
        await asyncio.shield(supervisor.started)
    except OSError as exc:
        await supervisor.close()
        transport = getattr(process, "_transport", None)
        if transport is not None:
            transport.close()
        raise spawn_error(argv, exc, env, cwd) from None
    return process, supervisor
