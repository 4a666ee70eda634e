"""Time limits on every blocking operation: ``timeout=`` and the ambient rel deadline.

A hung network mount cannot be produced on one machine. Where a real hang is
available (a FIFO without a writer blocks ``open``) it is used; otherwise the
narrowest OS call (``os.listdir``, ``os.scandir``, ``os.fsync``) is replaced
by one that blocks until the test releases it, then does the real call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import LoopTicks, temps_in

from rel_io import (
    FileLock,
    IOTimeoutError,
    LockTimeoutError,
    async_atomic_read_json,
    async_atomic_write_bytes,
    async_atomic_write_json,
    async_atomic_write_text,
    async_cleanup_stale_temps,
    async_is_idempotent_write,
    async_list_dir,
    async_read_bytes,
    async_read_file,
    async_read_json,
    async_scan_dir,
    async_update_json,
    async_write_file,
    async_write_if_changed,
    async_write_json,
    atomic_open,
    atomic_read_json,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    cleanup_stale_temps,
    ensure_dir,
    get_error_reports,
    is_idempotent_write,
    list_dir,
    lock_path_for,
    read_bytes,
    read_file,
    read_json,
    safe_read_json,
    safe_read_lines,
    safe_read_text,
    scan_dir,
    update_json,
    write_file,
    write_if_changed,
    write_json,
)
from rel_telemetry import deadline_scope

SHORT = 0.3  # the limit every hang below is given; the hangs themselves last until released


class Hang:
    """Makes ``os.<name>`` block (for the given paths or descriptors) until :meth:`release`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str, only: Callable[[Any], bool]) -> None:
        self.released = threading.Event()
        self.entered = threading.Event()
        real = getattr(os, name)

        def blocking(arg: Any, *args: Any, **kwargs: Any) -> Any:
            if only(arg) and not self.released.is_set():
                self.entered.set()
                self.released.wait(30)
            return real(arg, *args, **kwargs)

        monkeypatch.setattr(os, name, blocking)

    def release(self) -> None:
        self.released.set()


@pytest.fixture
def hang(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Hang]]:
    """Factory of OS-call hangs, all released at the end of the test."""
    made: list[Hang] = []

    def make(name: str, only: Callable[[Any], bool] = lambda _arg: True) -> Hang:
        made.append(Hang(monkeypatch, name, only))
        return made[-1]

    yield make
    for h in made:
        h.release()


@pytest.fixture
def fifo(tmp_path) -> Iterator[str]:
    """A FIFO with no writer: opening it for reading blocks for real."""
    path = str(tmp_path / "fifo")
    os.mkfifo(path)
    yield path
    with contextlib.suppress(OSError):  # ENXIO: no reader left
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # frees an abandoned reader thread


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Poll ``condition`` (an abandoned thread finishing) with a generous bound."""
    give_up = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < give_up, "the abandoned operation never finished"
        time.sleep(0.01)


def _under(path: str) -> Callable[[Any], bool]:
    return lambda arg: isinstance(arg, str | os.PathLike) and os.fspath(arg).startswith(path)


# -- listings -----------------------------------------------------------------


@pytest.mark.parametrize("limit", ["timeout", "deadline"])
@pytest.mark.parametrize(
    ("call", "os_call"),
    [
        (list_dir, "listdir"),
        (lambda p, **kw: scan_dir(p, recursive=True, **kw), "scandir"),
        (cleanup_stale_temps, "scandir"),
    ],
    ids=["list_dir", "scan_dir", "cleanup_stale_temps"],
)
def test_hung_listing_raises_io_timeout(tmp_path, hang, call, os_call, limit):
    """A listing that hangs (os.listdir/os.scandir blocked in place of a dead mount) ends in IOTimeoutError."""
    where = str(tmp_path / "mount")
    os.mkdir(where)
    h = hang(os_call, _under(where))
    started = time.monotonic()
    if limit == "timeout":
        with pytest.raises(IOTimeoutError) as info:
            call(where, timeout=SHORT)
    else:
        with deadline_scope(SHORT), pytest.raises(IOTimeoutError) as info:
            call(where)
    assert time.monotonic() - started < 10
    assert h.entered.is_set()
    assert info.value.path == where
    assert "hung" in str(info.value)


@pytest.mark.parametrize("limit", ["timeout", "deadline"])
@pytest.mark.parametrize(
    ("call", "os_call"),
    [
        (async_list_dir, "listdir"),
        (async_scan_dir, "scandir"),
    ],
    ids=["async_list_dir", "async_scan_dir"],
)
async def test_hung_async_listing_raises_without_blocking_the_loop(tmp_path, hang, call, os_call, limit):
    """Async listings (os.scandir/os.listdir blocked in place of a dead mount) time out and never block the loop."""
    where = str(tmp_path / "mount")
    os.mkdir(where)
    hang(os_call, _under(where))
    async with LoopTicks() as ticks:
        if limit == "timeout":
            with pytest.raises(IOTimeoutError):
                await call(where, timeout=SHORT)
        else:
            with deadline_scope(SHORT), pytest.raises(IOTimeoutError):
                await call(where)
    assert ticks.count >= 2


def test_ensure_dir_on_hung_filesystem(tmp_path, hang):
    """ensure_dir (os.mkdir blocked in place of a dead mount) ends in IOTimeoutError, by timeout= or deadline."""
    hang("mkdir", _under(str(tmp_path)))
    with pytest.raises(IOTimeoutError):
        ensure_dir(tmp_path / "a", timeout=SHORT)
    with deadline_scope(SHORT), pytest.raises(IOTimeoutError):
        ensure_dir(tmp_path / "b")


# -- reads --------------------------------------------------------------------


async def test_async_read_honours_ambient_deadline(fifo):
    """A hung async read (FIFO without writer) ends at the ambient deadline set around the await."""
    with deadline_scope(SHORT), pytest.raises(IOTimeoutError):
        await async_read_json(fifo)
    with pytest.raises(IOTimeoutError):
        await async_read_file(fifo, timeout=SHORT)


@pytest.mark.parametrize("reader", [safe_read_text, safe_read_json, safe_read_lines])
def test_safe_reads_fall_back_on_a_hung_read(fifo, reader):
    """The safe readers give the default on a hung read (timeout= or deadline), or raise IOTimeoutError if asked."""
    assert reader(fifo, timeout=SHORT) is None
    with deadline_scope(SHORT):
        assert reader(fifo, default=["d"], context="cfg") == ["d"]
    with pytest.raises(IOTimeoutError):
        reader(fifo, timeout=SHORT, raise_on_error=True)
    assert get_error_reports(operation=reader.__name__, limit=1)[0].exception_type == "IOTimeoutError"


def test_safe_read_bad_timeout_is_value_error(tmp_path):
    """An invalid timeout is a configuration error, raised even by the safe readers."""
    with pytest.raises(ValueError, match="timeout"):
        safe_read_json(tmp_path / "x.json", timeout=-1)


def test_is_idempotent_write_on_hung_read(fifo):
    """is_idempotent_write on a hung file ends in IOTimeoutError."""
    # A FIFO reports size 0, so compare against empty content to force the read.
    with pytest.raises(IOTimeoutError):
        is_idempotent_write(fifo, b"", timeout=SHORT)


# -- writes -------------------------------------------------------------------


def _fsync_hang(hang: Callable[..., Hang]) -> Hang:
    return hang("fsync", lambda fd: isinstance(fd, int))


@pytest.mark.parametrize(
    "write",
    [
        lambda p: atomic_write_bytes(p, b"new"),
        lambda p: atomic_write_text(p, "new"),
        lambda p: atomic_write_json(p, "new"),
        lambda p: write_file(p, "new"),
        lambda p: write_json(p, "new"),
        lambda p: write_if_changed(p, "new"),
    ],
    ids=[
        "atomic_write_bytes",
        "atomic_write_text",
        "atomic_write_json",
        "write_file",
        "write_json",
        "write_if_changed",
    ],
)
def test_write_past_deadline_is_dropped_not_landed_later(tmp_path, hang, write):
    """A durable write whose fsync hangs (os.fsync blocked) ends at the deadline; released later, it removes its temp."""
    path = tmp_path / "state"
    path.write_text("old")
    h = _fsync_hang(hang)
    started = time.monotonic()
    with deadline_scope(SHORT), pytest.raises(IOTimeoutError) as info:
        write(path)
    assert time.monotonic() - started < 10
    assert info.value.path == str(path)
    assert len(temps_in(tmp_path)) == 1  # the abandoned write is still blocked in fsync
    h.release()
    wait_until(lambda: temps_in(tmp_path) == [])
    assert path.read_text() == "old"


@pytest.mark.parametrize(
    "write",
    [
        lambda p: write_file(p, "new", timeout=SHORT),
        lambda p: write_json(p, "new", timeout=SHORT),
        lambda p: write_if_changed(p, "new", timeout=SHORT),
    ],
    ids=["write_file", "write_json", "write_if_changed"],
)
def test_write_timeout_is_dropped_not_landed_later(tmp_path, hang, write):
    """timeout= on a write whose fsync hangs (os.fsync blocked) raises IOTimeoutError; the write never lands."""
    path = tmp_path / "state"
    path.write_text("old")
    h = _fsync_hang(hang)
    with pytest.raises(IOTimeoutError):
        write(path)
    atomic_write_text(path, "newer", durable=False)  # the caller moves on and writes again
    h.release()
    wait_until(lambda: temps_in(tmp_path) == [])
    assert path.read_text() == "newer"


def test_atomic_open_commit_honours_deadline(tmp_path, hang):
    """atomic_open's final sync (os.fsync blocked) ends at the deadline; the temp is removed once released."""
    path = tmp_path / "stream"
    path.write_text("old")
    h = _fsync_hang(hang)

    def stream() -> None:
        with atomic_open(path, "w") as fh:
            fh.write("new")

    with deadline_scope(SHORT), pytest.raises(IOTimeoutError):
        stream()  # the block's exit, the sync and rename, is what times out
    h.release()
    wait_until(lambda: temps_in(tmp_path) == [])
    assert path.read_text() == "old"


async def test_async_write_honours_ambient_deadline(tmp_path, hang):
    """Async writes (os.fsync blocked) end at the ambient deadline or timeout= without landing later."""
    path = tmp_path / "state"
    path.write_text("old")
    h = _fsync_hang(hang)
    with deadline_scope(SHORT), pytest.raises(IOTimeoutError):
        await async_atomic_write_bytes(path, b"new")
    with pytest.raises(IOTimeoutError):
        await async_write_file(path, "new", timeout=SHORT)
    with pytest.raises(IOTimeoutError):
        await async_write_if_changed(path, "new", timeout=SHORT)
    h.release()
    wait_until(lambda: temps_in(tmp_path) == [])
    assert path.read_text() == "old"


# -- under the lock -----------------------------------------------------------


def test_update_json_past_deadline_holds_lock_until_write_stops(tmp_path, hang):
    """update_json whose write hangs (os.fsync blocked) ends at the deadline; the lock stays held until the write stops."""
    path = tmp_path / "counter.json"
    atomic_write_json(path, {"n": 1})
    h = _fsync_hang(hang)
    with deadline_scope(SHORT), pytest.raises(IOTimeoutError):
        update_json(path, lambda d: {"n": d["n"] + 1})
    with pytest.raises(LockTimeoutError) as info:  # nobody may update while our write may still land
        FileLock(lock_path_for(path), timeout=0.1).acquire()
    assert info.value.holder_pid == os.getpid()
    h.release()
    lock = FileLock(lock_path_for(path), timeout=10).acquire()  # freed once the abandoned write stops
    lock.release()
    assert temps_in(tmp_path) == []
    assert json.loads(path.read_text()) == {"n": 1}
    assert update_json(path, lambda d: {"n": d["n"] + 1}) == {"n": 2}


async def test_async_update_json_honours_ambient_deadline(tmp_path, hang):
    """async_update_json (os.fsync blocked) ends at the ambient deadline and its write never lands."""
    path = tmp_path / "c.json"
    atomic_write_json(path, {"n": 1})
    h = _fsync_hang(hang)
    with deadline_scope(SHORT), pytest.raises(IOTimeoutError):
        await async_update_json(path, lambda d: {"n": d["n"] + 1})
    h.release()
    wait_until(lambda: temps_in(tmp_path) == [])
    assert await async_atomic_read_json(path) == {"n": 1}


async def test_atomic_read_json_of_hung_file_honours_deadline(fifo):
    """atomic_read_json of a file whose read hangs (a FIFO without writer) ends at the ambient deadline."""
    with deadline_scope(SHORT), pytest.raises(IOTimeoutError):
        await async_atomic_read_json(fifo)
    with pytest.raises(LockTimeoutError):  # the abandoned reader keeps the lock until its read returns
        atomic_read_json(fifo, lock_timeout=0.1)
    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # a writer comes and goes: the read returns
    FileLock(lock_path_for(fifo), timeout=10).acquire().release()
    with deadline_scope(SHORT), pytest.raises(IOTimeoutError):
        atomic_read_json(fifo)


def test_atomic_read_json_lock_wait_keeps_its_own_error(tmp_path):
    """A held lock under a deadline still gives LockTimeoutError naming the holder, not a bare IOTimeoutError."""
    path = tmp_path / "s.json"
    atomic_write_json(path, {})
    with FileLock(lock_path_for(path)), deadline_scope(SHORT), pytest.raises(LockTimeoutError) as info:
        atomic_read_json(path)
    assert info.value.holder_pid == os.getpid()


async def test_async_lock_wait_capped_by_ambient_deadline(tmp_path):
    """`async with FileLock` with no timeout waits only until the ambient deadline."""
    path = tmp_path / "a.lock"
    with FileLock(path):
        started = time.monotonic()
        with deadline_scope(SHORT), pytest.raises(LockTimeoutError):
            async with FileLock(path):
                pass
        assert time.monotonic() - started < 10


# -- a deadline already passed -----------------------------------------------


def _stream(path: Any, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)


EXPIRED: dict[str, Callable[[Any], Any]] = {
    "read_file": lambda p: read_file(p / "f"),
    "read_bytes": lambda p: read_bytes(p / "f"),
    "read_json": lambda p: read_json(p / "f"),
    "list_dir": list_dir,
    "scan_dir": scan_dir,
    "cleanup_stale_temps": lambda p: cleanup_stale_temps(p, older_than=0),
    "ensure_dir": lambda p: ensure_dir(p / "new" / "dir"),
    "atomic_write_bytes": lambda p: atomic_write_bytes(p / "f", b"new"),
    "atomic_open": lambda p: _stream(p / "f", "new"),
    "write_file": lambda p: write_file(p / "f", "new"),
    "write_json": lambda p: write_json(p / "f", "new"),
    "write_if_changed": lambda p: write_if_changed(p / "sub" / "g", "new"),
    "is_idempotent_write": lambda p: is_idempotent_write(p / "f", "old"),
    "update_json": lambda p: update_json(p / "j.json", lambda d: 2, default=1),
    "atomic_read_json": lambda p: atomic_read_json(p / "j.json", 1),
    "safe_read_text": lambda p: safe_read_text(p / "f", raise_on_error=True),
    "async_read_file": lambda p: asyncio.run(async_read_file(p / "f")),
    "async_read_bytes": lambda p: asyncio.run(async_read_bytes(p / "f")),
    "async_read_json": lambda p: asyncio.run(async_read_json(p / "f")),
    "async_list_dir": lambda p: asyncio.run(async_list_dir(p)),
    "async_scan_dir": lambda p: asyncio.run(async_scan_dir(p)),
    "async_atomic_write_bytes": lambda p: asyncio.run(async_atomic_write_bytes(p / "f", b"new")),
    "async_atomic_write_text": lambda p: asyncio.run(async_atomic_write_text(p / "f", "new")),
    "async_atomic_write_json": lambda p: asyncio.run(async_atomic_write_json(p / "f", "new")),
    "async_write_file": lambda p: asyncio.run(async_write_file(p / "f", "new")),
    "async_write_json": lambda p: asyncio.run(async_write_json(p / "f", "new")),
    "async_write_if_changed": lambda p: asyncio.run(async_write_if_changed(p / "f", "new")),
    "async_is_idempotent_write": lambda p: asyncio.run(async_is_idempotent_write(p / "f", "old")),
    "async_cleanup_stale_temps": lambda p: asyncio.run(async_cleanup_stale_temps(p, older_than=0)),
    "async_update_json": lambda p: asyncio.run(async_update_json(p / "j.json", lambda d: 2, 1)),
    "async_atomic_read_json": lambda p: asyncio.run(async_atomic_read_json(p / "j.json", 1)),
}


@pytest.mark.parametrize("name", list(EXPIRED))
def test_deadline_already_passed_starts_nothing(tmp_path, name):
    """With the ambient deadline already passed, every blocking operation raises IOTimeoutError and changes nothing."""
    (tmp_path / "f").write_text("old")
    before = sorted(os.listdir(tmp_path))
    with deadline_scope(0), pytest.raises(IOTimeoutError, match="already passed"):
        EXPIRED[name](tmp_path)
    assert sorted(p for p in os.listdir(tmp_path) if not p.endswith(".lock")) == before
    assert (tmp_path / "f").read_text() == "old"


def test_safe_read_past_deadline_gives_default(tmp_path):
    """A safe read with the deadline already passed returns the default instead of raising."""
    (tmp_path / "c.json").write_text("{}")
    with deadline_scope(0):
        assert safe_read_json(tmp_path / "c.json", default={"d": 1}) == {"d": 1}


def test_no_deadline_no_thread(tmp_path, monkeypatch):
    """Without timeout= or a deadline, operations run in the caller's thread (no worker is started)."""
    seen: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        seen.append(threading.current_thread().name)
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    atomic_write_bytes(tmp_path / "f", b"x")
    update_json(tmp_path / "j.json", lambda d: 1, default=0)
    monkeypatch.undo()
    assert seen
    assert set(seen) == {threading.current_thread().name}


def test_bounded_calls_reuse_worker_threads(tmp_path, monkeypatch):
    """Bounded calls hand work to parked worker threads instead of starting a thread per call."""
    where = str(tmp_path)
    workers: set[threading.Thread] = set()  # the objects, not idents: the OS reuses idents
    real = os.listdir

    def spy(path: Any) -> list[str]:
        if os.fspath(path) == where:
            workers.add(threading.current_thread())
        return real(path)

    monkeypatch.setattr(os, "listdir", spy)
    for _ in range(30):
        list_dir(where, timeout=10)
        with deadline_scope(10):
            list_dir(where)
    assert threading.current_thread() not in workers
    # A thread per call would give 60; a worker still re-parking when the next
    # call comes makes one more, so allow a few rather than one.
    assert len(workers) <= 10


FORK_CHILD = """
import os, sys
from rel_io import read_file
from rel_telemetry import deadline_scope

path = sys.argv[1]
read_file(path, timeout=10)  # the parent parks a worker thread, which a fork does not copy
pid = os.fork()
if pid == 0:
    try:
        with deadline_scope(5):
            ok = read_file(path) == "x"
    except BaseException:
        ok = False
    os._exit(0 if ok else 1)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_bounded_calls_work_in_a_forked_child(tmp_path):
    """A forked child runs bounded calls on its own workers, not on the parent's threads it did not inherit."""
    import subprocess
    import sys

    (tmp_path / "f").write_text("x")
    result = subprocess.run(
        [sys.executable, "-c", FORK_CHILD, str(tmp_path / "f")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
