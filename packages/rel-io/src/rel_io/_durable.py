"""The platform's strongest "it is on disk" calls for files and directories.

On macOS ``fsync`` only hands data to the drive's cache; ``F_FULLFSYNC`` asks
the drive to flush it, so that is what a durable write uses there. Directory
fsync makes a rename or a new name durable; Windows has no such call and
needs none (its rename is journalled by NTFS).
"""

from __future__ import annotations

import os
import sys

_FULLFSYNC: int | None = None
if sys.platform == "darwin":  # pragma: no cover - exercised on macOS only
    import fcntl

    _FULLFSYNC = getattr(fcntl, "F_FULLFSYNC", None)

_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CAN_FSYNC_DIR = sys.platform != "win32"


_FDATASYNC = getattr(os, "fdatasync", None)


def fsync_fd(fd: int, *, data_only: bool = False) -> None:
    """Flush the file behind ``fd`` to stable storage; raise OSError if it fails.

    ``data_only=True`` skips metadata that reading the data back does not need
    (timestamps) where the platform allows it (``fdatasync``); an append that
    grows the file still syncs its new size. A failed fsync must not be
    retried: the kernel may already have dropped the dirty pages and marked
    them clean, so a second fsync can succeed falsely.
    """
    if _FULLFSYNC is not None:  # pragma: no cover - macOS only
        import fcntl  # noqa: PLC0415 - imported above on this platform

        try:
            fcntl.fcntl(fd, _FULLFSYNC)
            return
        except OSError:
            pass  # not supported by this filesystem (e.g. some network mounts): plain fsync
    if data_only and _FDATASYNC is not None:
        _FDATASYNC(fd)
        return
    os.fsync(fd)


def fsync_dir(directory: str) -> None:
    """Make the directory entries of ``directory`` (a rename, a new file) durable."""
    if not _CAN_FSYNC_DIR:  # pragma: no cover - Windows
        return
    fd = os.open(directory or ".", os.O_RDONLY | _O_DIRECTORY)
    try:
        fsync_fd(fd)
    finally:
        os.close(fd)
