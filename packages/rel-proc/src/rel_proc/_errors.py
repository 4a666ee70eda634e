"""The exceptions of rel-proc: one root, specific subclasses that also inherit the honest builtin."""

from __future__ import annotations

import errno as _errno
import os
from collections.abc import Sequence
from typing import Any


def _tail(data: bytes, limit: int = 2048) -> str:
    text = data[-limit:].decode("utf-8", errors="replace")
    return text if len(data) <= limit else "..." + text


class ProcessError(Exception):
    """Root of every rel-proc error."""


class ProcessSpawnError(ProcessError, OSError):
    """The program could not be started (``errno`` says why; ``EAGAIN`` is transient).

    ``argv`` is the command line and ``cwd`` the working directory asked for.
    """

    def __init__(self, argv: Sequence[str], errno: int, strerror: str, *, cwd: str | None = None) -> None:
        OSError.__init__(self, errno, strerror)
        self.argv = list(argv)
        self.cwd = cwd
        self.message = (
            f"could not start {self.argv[0]!r}: {strerror} (errno {_errno.errorcode.get(errno, errno)})"
            + (f" in working directory {cwd!r}" if cwd is not None else "")
        )

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_spawn_error, (type(self), self.argv, self.errno, self.strerror, self.cwd))


def _rebuild_spawn_error(
    cls: type[ProcessSpawnError], argv: list[str], errno: int, strerror: str, cwd: str | None
) -> ProcessSpawnError:
    err = cls.__new__(cls)
    ProcessSpawnError.__init__(err, argv, errno, strerror, cwd=cwd)
    return err


class ProgramNotFoundError(ProcessSpawnError, FileNotFoundError):
    """The program does not exist (or is not on ``PATH``); ``path`` is the search path used."""

    def __init__(self, argv: Sequence[str], path: str | None, *, cwd: str | None = None) -> None:
        ProcessSpawnError.__init__(self, argv, _errno.ENOENT, "program not found", cwd=cwd)
        self.path = path
        program = self.argv[0]
        if os.sep in program:
            where = "no such file"
        else:
            where = f"not found on PATH={path!r}" if path else "not found (PATH is empty or unset)"
        self.message = f"could not start {program!r}: {where}; install it or pass its full path"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_not_found, (self.argv, self.path, self.cwd))


def _rebuild_not_found(argv: list[str], path: str | None, cwd: str | None) -> ProgramNotFoundError:
    return ProgramNotFoundError(argv, path, cwd=cwd)


class ProcessTimeoutError(ProcessError, TimeoutError):
    """The process ran past its timeout; raised only after its whole tree is dead.

    Carries ``argv``, ``timeout``, ``duration`` and the captured ``stdout`` /
    ``stderr`` (bounded by ``max_output`` when one was given).
    """

    def __init__(
        self,
        argv: Sequence[str],
        timeout: float | None,
        duration: float,
        stdout: bytes = b"",
        stderr: bytes = b"",
    ) -> None:
        super().__init__(argv, timeout, duration, stdout, stderr)
        self.argv = list(argv)
        self.timeout = timeout
        self.duration = duration
        self.stdout = stdout
        self.stderr = stderr

    def __str__(self) -> str:
        limit = "the ambient deadline" if self.timeout is None else f"{self.timeout:g}s"
        msg = f"{self.argv[0]!r} did not finish within {limit} (ran {self.duration:.3f}s); its process tree was killed"
        if self.stderr:
            msg += f"; stderr tail: {_tail(self.stderr, 500)!r}"
        return msg

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.argv, self.timeout, self.duration, self.stdout, self.stderr))


class ProcessFailedError(ProcessError):
    """The process exited with a non-zero status or was killed by a signal (``check=True``).

    Carries ``argv``, ``returncode`` (negative for a signal), ``signal`` (name or
    None), ``duration`` and the captured ``stdout`` / ``stderr``;
    ``stdout_tail`` / ``stderr_tail`` give their last 2 KiB as text.
    """

    def __init__(  # noqa: PLR0917 - positional args keep default pickling
        self,
        argv: Sequence[str],
        returncode: int,
        signal: str | None,
        duration: float,
        stdout: bytes = b"",
        stderr: bytes = b"",
    ) -> None:
        super().__init__(argv, returncode, signal, duration, stdout, stderr)
        self.argv = list(argv)
        self.returncode = returncode
        self.signal = signal
        self.duration = duration
        self.stdout = stdout
        self.stderr = stderr

    @property
    def stdout_tail(self) -> str:
        """The last 2 KiB of standard output, decoded leniently."""
        return _tail(self.stdout)

    @property
    def stderr_tail(self) -> str:
        """The last 2 KiB of standard error, decoded leniently."""
        return _tail(self.stderr)

    def __str__(self) -> str:
        how = f"was killed by {self.signal}" if self.signal else f"exited with status {self.returncode}"
        msg = f"{' '.join(self.argv)!r} {how} after {self.duration:.3f}s"
        if self.stderr:
            msg += f"; stderr tail: {_tail(self.stderr, 500)!r}"
        elif self.stdout:
            msg += f"; stdout tail: {_tail(self.stdout, 500)!r}"
        return msg
