"""rel-io's exceptions: one root, each refining the builtin an ``except`` already names.

``FileReadError``, ``FileWriteError`` and ``DirectoryOperationError`` are
``OSError``s carrying the errno of the failure. When that errno has a builtin
subclass (``FileNotFoundError``, ``PermissionError``, ...) the raised error is
also an instance of it, so ``except FileNotFoundError`` keeps working around
``read_file``. Every error names the operation and the path, carries them as
attributes and pickles intact across process pools.
"""

from __future__ import annotations

import errno as _errno
import os
from typing import Any, TypeVar

E = TypeVar("E", bound="RelIOError")


def _rebuild(cls: type[RelIOError], kwargs: dict[str, Any]) -> RelIOError:
    return cls(**kwargs)


class RelIOError(Exception):
    """Root of every rel-io error."""

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        operation: str | None = None,
        errno: int | None = None,
    ) -> None:
        self._kwargs: dict[str, Any] = {
            "message": message,
            "path": path,
            "operation": operation,
            "errno": errno,
        }
        self.message = message
        self.path: str | None = None if path is None else os.fspath(path)
        self.operation = operation
        if isinstance(self, OSError):
            OSError.__init__(self, errno, message, self.path)
        else:
            Exception.__init__(self, message)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self._kwargs), self.__dict__)


class FileReadError(RelIOError, OSError):
    """Reading a file failed (missing, unreadable, too large, timed out...)."""


class FileWriteError(RelIOError, OSError):
    """Writing a file failed; the previous content, if any, is intact.

    ``fsync_failed`` is True when the failure was an fsync, which is never
    retried (the kernel may already have dropped the data).
    """

    fsync_failed: bool = False


class DirectoryOperationError(RelIOError, OSError):
    """Listing, scanning or creating a directory failed."""


class CorruptFileError(FileReadError, ValueError):
    """The file was read but its content is not valid (bad UTF-8, bad JSON).

    ``line``/``column`` locate a JSON error, ``offset`` the byte of a decoding
    error; unknown ones are None. It is a ``FileReadError`` (code that falls
    back on unreadable files falls back on corrupt ones too) and a ``ValueError``
    (as ``json.JSONDecodeError`` and ``UnicodeDecodeError`` are).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        operation: str | None = None,
        errno: int | None = None,
        line: int | None = None,
        column: int | None = None,
        offset: int | None = None,
    ) -> None:
        super().__init__(message, path=path, operation=operation, errno=errno)
        self._kwargs.update(line=line, column=column, offset=offset)
        self.line = line
        self.column = column
        self.offset = offset


class LockTimeoutError(RelIOError, TimeoutError):
    """A file lock was not acquired in time.

    ``lock_file`` is the lock's path, ``waited`` the seconds spent waiting and
    ``holder_pid``/``holder_host`` the holder where known.
    """

    def __init__(
        self,
        message: str,
        *,
        lock_file: str | os.PathLike[str],
        waited: float,
        holder_pid: int | None = None,
        holder_host: str | None = None,
        operation: str | None = "file_lock",
    ) -> None:
        super().__init__(message, path=lock_file, operation=operation, errno=_errno.ETIMEDOUT)
        self._kwargs = {
            "message": message,
            "lock_file": lock_file,
            "waited": waited,
            "holder_pid": holder_pid,
            "holder_host": holder_host,
            "operation": operation,
        }
        self.lock_file = os.fspath(lock_file)
        self.waited = waited
        self.holder_pid = holder_pid
        self.holder_host = holder_host


class IOTimeoutError(RelIOError, TimeoutError):
    """A file or directory operation did not finish within its ``timeout=``.

    The operation may still be blocked in the kernel (a dead network mount);
    the caller is no longer waiting for it.
    """


class ParseError(RelIOError, ValueError):
    """A value could not be parsed and the caller asked for ``strict=True``."""


# Specific errors that are also the builtin OSError subclass of their errno.
_ERRNO_BUILTINS: dict[int, type[OSError]] = {
    _errno.ENOENT: FileNotFoundError,
    _errno.EACCES: PermissionError,
    _errno.EPERM: PermissionError,
    _errno.EISDIR: IsADirectoryError,
    _errno.ENOTDIR: NotADirectoryError,
    _errno.EEXIST: FileExistsError,
    _errno.ETIMEDOUT: TimeoutError,
    _errno.EINTR: InterruptedError,
    _errno.EAGAIN: BlockingIOError,
}
_SPECIALISED: dict[tuple[type[RelIOError], type[OSError]], type[RelIOError]] = {}


def _specialise(base: type[RelIOError], builtin: type[OSError]) -> type[RelIOError]:
    qualname = f"{base.__name__}_{builtin.__name__}"
    cls = type(qualname, (base, builtin), {"__module__": __name__, "__doc__": base.__doc__})
    cls.__name__ = base.__name__  # what reports and messages show: the public name
    cls.__qualname__ = qualname  # unique, module-level: instances pickle by reference
    globals()[qualname] = cls
    return cls


for _base in (FileReadError, FileWriteError, DirectoryOperationError):
    for _builtin in set(_ERRNO_BUILTINS.values()):
        _SPECIALISED[(_base, _builtin)] = _specialise(_base, _builtin)


def error_class(base: type[E], err: int | None) -> type[E]:
    """Return ``base`` or its subclass that is also the builtin error of ``err``."""
    builtin = _ERRNO_BUILTINS.get(err) if err is not None else None
    if builtin is None:
        return base
    found = _SPECIALISED.get((base, builtin))
    return base if found is None else found  # type: ignore[return-value]


def describe_os_error(exc: OSError) -> str:
    """Short human text for an OSError: ``'Permission denied [EACCES]'``."""
    if exc.errno is None:
        return str(exc)
    name = _errno.errorcode.get(exc.errno, str(exc.errno))
    text = exc.strerror or os.strerror(exc.errno)
    return f"{text} [{name}]"


_HINTS: dict[int, str] = {
    _errno.ENOENT: "check that the path exists and is spelled right",
    _errno.EACCES: "check the permissions of the file and its directory",
    _errno.EPERM: "check the permissions of the file and its directory",
    _errno.EISDIR: "the path is a directory; pass a file path",
    _errno.ENOTDIR: "a component of the path is not a directory",
    _errno.ENOSPC: "free space on the filesystem and retry",
    _errno.EDQUOT: "the disk quota is exhausted; free space and retry",
    _errno.EROFS: "the filesystem is read-only",
    _errno.ELOOP: "the path contains a symlink loop",
}


def hint_for(err: int | None) -> str:
    """What a caller can do about ``err`` (empty when there is no useful hint)."""
    return _HINTS.get(err, "") if err is not None else ""


def from_os_error(base: type[E], operation: str, path: str | os.PathLike[str], exc: OSError) -> E:
    """Wrap ``exc`` (raised by ``operation`` on ``path``) in ``base``, errno kept."""
    where = os.fspath(path)
    hint = hint_for(exc.errno)
    if exc.errno == _errno.ENOENT and issubclass(base, FileWriteError):
        hint = "the parent directory does not exist: create it first (ensure_dir)"
    message = f"{operation} failed for {where!r}: {describe_os_error(exc)}"
    if hint:
        message += f"; {hint}"
    cls = error_class(base, exc.errno)
    return cls(message, path=where, operation=operation, errno=exc.errno)
