"""The outcome of a finished process."""

from __future__ import annotations

import signal as _signal
from dataclasses import dataclass, field

from rel_proc._errors import ProcessFailedError


def signal_name(returncode: int | None) -> str | None:
    """The name of the signal that ended a process (``"SIGKILL"``), or None if it exited."""
    if returncode is None or returncode >= 0:
        return None
    try:
        return _signal.Signals(-returncode).name
    except ValueError:
        return f"SIG{-returncode}"


@dataclass(frozen=True, slots=True)
class CompletedProcess:
    """A process that has finished and whose whole tree is gone.

    ``returncode`` follows :mod:`subprocess` (negative: killed by that signal),
    ``signal`` names the signal. With ``max_output`` the captured streams keep
    their head and tail; ``stdout_omitted`` / ``stderr_omitted`` count the bytes
    dropped in between.
    """

    argv: list[str]
    returncode: int
    stdout: bytes = b""
    stderr: bytes = b""
    duration: float = 0.0
    pid: int = 0
    tree_killed: bool = False
    stdout_omitted: int = 0
    stderr_omitted: int = 0
    signal: str | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "signal", signal_name(self.returncode))

    @property
    def ok(self) -> bool:
        """True when the process exited with status 0."""
        return self.returncode == 0

    @property
    def stdout_text(self) -> str:
        """Standard output decoded as UTF-8 (invalid bytes replaced)."""
        return self.stdout.decode("utf-8", errors="replace")

    @property
    def stderr_text(self) -> str:
        """Standard error decoded as UTF-8 (invalid bytes replaced)."""
        return self.stderr.decode("utf-8", errors="replace")

    def check_returncode(self) -> CompletedProcess:
        """Return self if the process exited with 0; raise :class:`ProcessFailedError` otherwise."""
        if self.returncode != 0:
            raise ProcessFailedError(
                self.argv, self.returncode, self.signal, self.duration, self.stdout, self.stderr
            )
        return self
