"""`atomic_open`: stream a new version of a file, swapped in only if the block succeeds."""

from __future__ import annotations

import asyncio
import contextlib
import os
from types import TracebackType
from typing import IO, Any, Generic, Literal, TypeVar, overload

from rel_io._atomic import PathLike, PendingReplace
from rel_io._telemetry import report
from rel_io._transient import bounded

F = TypeVar("F", IO[str], IO[bytes])


class AtomicFile(Generic[F]):
    """Context manager returned by :func:`atomic_open`; ``with`` and ``async with`` yield the file object.

    With ``async with`` the temp's creation and the final sync and rename run
    in a worker thread, off the event loop; the writes in the block go to the
    file object's buffer as usual.
    """

    __slots__ = ("_durable", "_encoding", "_file", "_file_mode", "_mode", "_newline", "_path", "_pending")

    def __init__(
        self,
        path: PathLike,
        mode: str,
        *,
        encoding: str,
        newline: str | None,
        durable: bool,
        file_mode: int | None,
    ) -> None:
        self._path = path
        self._mode = mode
        self._encoding = encoding
        self._newline = newline
        self._durable = durable
        self._file_mode = file_mode
        self._pending: PendingReplace | None = None
        self._file: Any = None

    def __enter__(self) -> F:
        if self._pending is not None:
            raise RuntimeError("an atomic_open object serves one with-block at a time")
        try:
            pending = PendingReplace(self._path, self._file_mode, "atomic_open")
        except Exception as exc:
            report("atomic_open", exc, self._path)
            raise
        try:
            if self._mode == "wb":
                self._file = os.fdopen(pending.fd, "wb", closefd=False)
            else:
                self._file = os.fdopen(
                    pending.fd, "w", encoding=self._encoding, newline=self._newline, closefd=False
                )
        except BaseException:
            pending.abort()
            raise
        self._pending = pending
        return self._file  # type: ignore[no-any-return]

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        pending, file = self._pending, self._file
        self._pending = self._file = None
        if pending is None:
            return
        if exc is not None:
            with contextlib.suppress(Exception):  # the block's own exception is what matters
                file.close()
            pending.abort()
            return
        try:
            file.close()  # flushes Python's buffer into the temp
        except BaseException as err:
            pending.abort()
            wrapped = pending._wrap(err, replaced=False)
            if isinstance(wrapped, Exception):
                report("atomic_open", wrapped, self._path)
            raise wrapped from err
        started = False

        def commit() -> None:
            nonlocal started
            started = True
            pending.commit(self._durable)

        def discard_unstarted() -> None:
            # Runs once commit has finished or will never run (a deadline already
            # passed): only then may the temp be removed, and only if commit did not.
            if not started:
                pending.abort()

        try:
            # The ambient deadline bounds the sync and rename, where a dead mount hangs.
            bounded(commit, None, "atomic_open", self._path, release=discard_unstarted)
        except Exception as err:
            report("atomic_open", err, self._path)
            raise

    async def __aenter__(self) -> F:
        entering = asyncio.ensure_future(asyncio.to_thread(self.__enter__))
        try:
            return await asyncio.shield(entering)
        except asyncio.CancelledError:
            # The thread may still create the temp: wait for it, then remove it.
            with contextlib.suppress(BaseException):
                await entering
            self.__exit__(asyncio.CancelledError, asyncio.CancelledError(), None)
            raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.__exit__, exc_type, exc, tb)


@overload
def atomic_open(
    path: PathLike,
    mode: Literal["w"] = "w",
    *,
    encoding: str = "utf-8",
    newline: str | None = None,
    durable: bool = True,
    file_mode: int | None = None,
) -> AtomicFile[IO[str]]: ...
@overload
def atomic_open(
    path: PathLike,
    mode: Literal["wb"],
    *,
    encoding: str = "utf-8",
    newline: str | None = None,
    durable: bool = True,
    file_mode: int | None = None,
) -> AtomicFile[IO[bytes]]: ...
def atomic_open(
    path: PathLike,
    mode: Literal["w", "wb"] = "w",
    *,
    encoding: str = "utf-8",
    newline: str | None = None,
    durable: bool = True,
    file_mode: int | None = None,
) -> AtomicFile[Any]:
    """Stream a new version of ``path``: ``with atomic_open(p, "w") as f: f.write(...)`` (or ``async with``).

    Writes go to a temp beside ``path``; only a block that exits normally
    replaces ``path`` (with the guarantees of :func:`atomic_write_bytes`). An
    exception in the block removes the temp and leaves ``path`` untouched.
    ``file_mode`` sets the permission bits. Raises :class:`FileWriteError`, and
    :class:`IOTimeoutError` when an ambient rel deadline passes during the final
    sync and rename (the temp is then removed instead of renamed).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open mode must be 'w' or 'wb', got {mode!r}")
    return AtomicFile(path, mode, encoding=encoding, newline=newline, durable=durable, file_mode=file_mode)
