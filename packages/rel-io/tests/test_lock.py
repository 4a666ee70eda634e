from __future__ import annotations

import asyncio
import importlib.metadata
import os
import pickle
import socket
import subprocess
import sys
import time

import pytest
from conftest import LoopTicks

from rel_io import FileLock, FileWriteError, LockTimeoutError, file_lock, get_error_reports, lock_path_for
from rel_telemetry import deadline_scope

_FILELOCK_VERSION = tuple(
    int(p) for p in importlib.metadata.version("filelock").split(".")[:3] if p.isdigit()
)

HOLD_SCRIPT = """
import sys, time
from rel_io import FileLock
with FileLock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold_in_child(lock: str, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT, lock, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_file_lock_seed_example(tmp_path):
    """The seed's `with file_lock("resource.lock"):` takes and releases the lock."""
    path = tmp_path / "resource.lock"
    with file_lock(path) as lock:
        assert lock.is_locked
    assert not lock.is_locked


def test_timeout_names_lock_wait_and_holder(tmp_path):
    """A timed-out wait raises LockTimeoutError naming the lock file, the wait and the holder's pid and host."""
    path = str(tmp_path / "busy.lock")
    holder = _hold_in_child(path, 30)
    try:
        started = time.monotonic()
        with pytest.raises(LockTimeoutError) as info:
            FileLock(path, timeout=0.2).acquire()
        assert time.monotonic() - started < 10
    finally:
        holder.kill()
        holder.wait()
    err = info.value
    assert isinstance(err, TimeoutError)
    assert err.lock_file == path
    assert err.waited >= 0.2
    assert err.holder_pid == holder.pid
    assert err.holder_host == socket.gethostname()
    message = str(err)
    assert path in message
    assert f"pid {holder.pid}" in message
    assert "0.2" in message
    assert get_error_reports(operation="file_lock")[0].path == path
    again = pickle.loads(pickle.dumps(err))
    assert (again.lock_file, again.holder_pid, str(again)) == (path, holder.pid, message)


def test_lock_of_killed_holder_is_released(tmp_path):
    """A holder killed with SIGKILL does not wedge the lock."""
    path = str(tmp_path / "dead.lock")
    holder = _hold_in_child(path, 30)
    holder.kill()
    holder.wait()
    lock = FileLock(path, timeout=5)
    with lock:
        assert lock.is_locked
    assert not lock.is_locked


def test_reentrant_for_one_object(tmp_path):
    """One FileLock object may be re-acquired; the last release unlocks."""
    lock = FileLock(tmp_path / "r.lock", timeout=1)
    with lock, lock:
        assert lock.is_locked
    assert not lock.is_locked


def test_two_objects_exclude_each_other(tmp_path):
    """Two FileLock objects on the same file exclude each other, even in one process."""
    path = tmp_path / "x.lock"
    with FileLock(path), pytest.raises(LockTimeoutError):
        FileLock(path, timeout=0.1).acquire()


def test_ambient_deadline_caps_the_wait(tmp_path):
    """An ambient rel deadline shortens an unbounded wait."""
    path = tmp_path / "d.lock"
    with FileLock(path):
        started = time.monotonic()
        with deadline_scope(0.2), pytest.raises(LockTimeoutError):
            FileLock(path).acquire()
        assert time.monotonic() - started < 10


@pytest.mark.parametrize("bad", [-1, float("nan"), "5", True])
def test_invalid_timeout_is_value_error(tmp_path, bad):
    """An invalid timeout fails at construction, naming the parameter."""
    with pytest.raises(ValueError, match="timeout"):
        FileLock(tmp_path / "l", timeout=bad)


def test_unopenable_lock_file_is_file_write_error(tmp_path):
    """A lock file under a path that is not a directory fails with FileWriteError naming it."""
    (tmp_path / "plain").write_text("not a directory")
    path = tmp_path / "plain" / "x.lock"
    with pytest.raises(FileWriteError, match=r"x\.lock") as info:
        FileLock(path, timeout=0.5).acquire()
    assert isinstance(info.value, OSError)


async def test_async_with_waits_without_blocking_loop(tmp_path):
    """`async with FileLock` waits with asyncio.sleep, so other tasks keep running."""
    path = tmp_path / "a.lock"
    outer = FileLock(path)
    outer.acquire()
    try:
        async with LoopTicks() as ticks:
            with pytest.raises(LockTimeoutError):
                async with FileLock(path, timeout=0.3):
                    pass
    finally:
        outer.release()
    async with FileLock(path, timeout=1) as lock:
        assert lock.is_locked
    assert ticks.count >= 2


async def test_async_acquire_cancellation_leaves_lock_free(tmp_path):
    """Cancelling an async wait leaves nothing held."""
    path = tmp_path / "c.lock"
    blocker = FileLock(path)
    blocker.acquire()
    waiter = FileLock(path)
    task = asyncio.create_task(waiter.acquire_async())
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    blocker.release()
    assert not waiter.is_locked
    with FileLock(path, timeout=1):
        pass


def test_contender_never_erases_the_holder_record(tmp_path):
    """A process that fails to get the lock leaves the holder's pid and host in place."""
    path = tmp_path / "held.lock"
    with FileLock(path, timeout=1):
        before = path.read_bytes()
        code = (
            "import sys; from rel_io import FileLock, LockTimeoutError\n"
            f"try:\n    FileLock({str(path)!r}, timeout=0.05).acquire()\n"
            "except LockTimeoutError as e:\n    print(e.holder_pid)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
        )
        assert out.stdout.strip() == str(os.getpid())
        assert path.read_bytes() == before


def test_lock_path_for_is_beside_data(tmp_path):
    """The data file's lock sits beside it as <name>.lock."""
    assert lock_path_for(tmp_path / "d.json") == os.fspath(tmp_path / "d.json") + ".lock"


@pytest.mark.skipif(
    _FILELOCK_VERSION < (4, 2, 1),
    reason="filelock before 4.2.1 itself empties the lock file when it acquires it",
)
def test_foreign_lock_file_content_is_left_alone(tmp_path):
    """A lock file holding something other than a holder record is not overwritten."""
    path = tmp_path / "foreign.lock"
    path.write_bytes(b"someone else's marker\n")
    with FileLock(path, timeout=1):
        pass
    assert path.read_bytes() == b"someone else's marker\n"


def test_holder_record_written(tmp_path):
    """The holder records its pid and host in the lock file."""
    path = tmp_path / "rec.lock"
    with FileLock(path, timeout=1):
        assert path.read_text().split() == [f"pid={os.getpid()}", f"host={socket.gethostname()}"]
