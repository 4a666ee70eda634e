"""rel-checkpoint's exceptions: one root, each also the builtin an ``except`` already names.

Every error names the file it concerns, carries the details as attributes
and pickles intact, so it crosses a process pool unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any


def _rebuild(cls: type[CheckpointError], kwargs: dict[str, Any]) -> CheckpointError:
    return cls(**kwargs)


class CheckpointError(Exception):
    """Root of every rel-checkpoint error; ``path`` is the file or directory concerned."""

    def __init__(self, message: str, *, path: str | os.PathLike[str] | None = None) -> None:
        self._kwargs: dict[str, Any] = {"message": message, "path": path}
        self.message = message
        self.path: str | None = None if path is None else os.fspath(path)
        super().__init__(message)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self._kwargs), self.__dict__)


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """A checkpoint, snapshot or run directory that was asked for does not exist."""

    def __init__(self, message: str, *, path: str | os.PathLike[str] | None = None) -> None:
        CheckpointError.__init__(self, message, path=path)
        self.filename = self.path


class CheckpointCorruptError(CheckpointError, ValueError):
    """A checkpoint file is truncated, tampered with or not a checkpoint at all.

    ``expected`` is the checksum recorded in the file and ``found`` the one
    computed from its content (either may be None when the file is unreadable
    as a checkpoint).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        expected: str | None = None,
        found: str | None = None,
    ) -> None:
        super().__init__(message, path=path)
        self._kwargs.update(expected=expected, found=found)
        self.expected = expected
        self.found = found


class IncompatibleCheckpointError(CheckpointError, ValueError):
    """A checkpoint was written by a different configuration than the one resuming it.

    ``mismatches`` maps every differing key to ``(expected, found)``.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        mismatches: Mapping[str, tuple[Any, Any]] | None = None,
    ) -> None:
        super().__init__(message, path=path)
        self._kwargs["mismatches"] = dict(mismatches or {})
        self.mismatches: dict[str, tuple[Any, Any]] = dict(mismatches or {})


class EventLogCorruptError(CheckpointError, ValueError):
    """A record of an event log failed its checksum or broke the sequence.

    ``offset`` is the byte offset of the bad record in the file and ``seq`` the
    sequence number that was expected there.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        offset: int | None = None,
        seq: int | None = None,
    ) -> None:
        super().__init__(message, path=path)
        self._kwargs.update(offset=offset, seq=seq)
        self.offset = offset
        self.seq = seq


class EventLogClosedError(CheckpointError, ValueError):
    """An event log was used after :meth:`~rel_checkpoint.EventLog.close`."""


class EventLogFailedError(CheckpointError, OSError):
    """An earlier write or sync of this event log failed; reopen it to go on.

    After a failed fsync the kernel may have dropped the data, so the log
    refuses further appends rather than acknowledge records it cannot vouch for.
    """


class InvalidSnapshotError(CheckpointError, ValueError):
    """A run directory's ``snapshot.json`` is not a JSON object of the documented shape."""
