"""Faults injected at the OS boundary: kills, a full disk, denied permissions, failing fsync."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest
from conftest import temps_in, unprivileged

from rel_io import (
    FileReadError,
    FileWriteError,
    atomic_write_bytes,
    cleanup_stale_temps,
    get_error_reports,
    read_file,
    read_json,
    write_file,
)

ZYGOTE = textwrap.dedent(
    """
    import hashlib, os, sys
    from rel_io import atomic_write_bytes

    path = sys.argv[1]

    def payload(version):
        body = hashlib.sha256(str(version).encode()).digest() * (1 + version % 2000)
        return b"%d %s\\n" % (version, hashlib.sha256(body).hexdigest().encode()) + body

    for line in sys.stdin:
        start = int(line)
        pid = os.fork()
        if pid == 0:
            version = start
            while True:
                atomic_write_bytes(path, payload(version))
                version += 1
        print(pid, flush=True)
        os.waitpid(pid, 0)
        print("reaped", flush=True)
    """
)


def _check_complete(path) -> int:
    data = path.read_bytes()
    header, _, body = data.partition(b"\n")
    version, digest = header.split(b" ")
    assert hashlib.sha256(body).hexdigest().encode() == digest, "torn or mixed content"
    return int(version)


def test_sigkill_during_rewrites_leaves_one_complete_version(tmp_path):
    """A writer SIGKILLed 200 times mid-rewrite always leaves one complete version and at most one temp."""
    path = tmp_path / "data.bin"
    atomic_write_bytes(path, b"0 " + hashlib.sha256(b"").hexdigest().encode() + b"\n")
    zygote = subprocess.Popen(
        [sys.executable, "-c", ZYGOTE, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert zygote.stdin is not None
    assert zygote.stdout is not None
    rng = random.Random(1234)
    seen: set[int] = set()
    stray_temps = 0
    try:
        for kill in range(200):
            zygote.stdin.write(f"{(kill + 1) * 1_000_000}\n")
            zygote.stdin.flush()
            pid = int(zygote.stdout.readline())
            if kill % 2 == 0:
                # Let this writer finish at least one version first, however loaded the machine is.
                give_up = time.monotonic() + 10
                while _check_complete(path) < (kill + 1) * 1_000_000 and time.monotonic() < give_up:
                    time.sleep(0.001)
                time.sleep(rng.uniform(0.0, 0.005))
            else:
                # Kill at a random instant: often mid-write, sometimes between writes.
                time.sleep(rng.uniform(0.0, 0.03))
            os.kill(pid, signal.SIGKILL)
            assert zygote.stdout.readline().strip() == "reaped"
            seen.add(_check_complete(path))
            temps = temps_in(tmp_path)
            assert len(temps) <= 1, temps
            stray_temps += len(temps)
            cleanup_stale_temps(tmp_path, older_than=0)
            assert temps_in(tmp_path) == []
    finally:
        zygote.kill()
        zygote.wait()
    # The test is only meaningful if kills landed both mid-write and after writes.
    assert len(seen) > 50, f"only {len(seen)} distinct versions observed"
    assert stray_temps > 0, "no kill landed mid-write; the test proved nothing"
    print(f"{len(seen)} versions seen, {stray_temps} kills mid-write")


@pytest.fixture
def tiny_fs():
    """A 1 MiB tmpfs, when this process may mount one."""
    mount_point = tempfile.mkdtemp(prefix="rel-io-tinyfs-")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mount_point],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        os.rmdir(mount_point)
        pytest.skip(
            f"cannot mount a tmpfs here ({result.stderr.strip() or 'not permitted'}); "
            "the ENOSPC-injection variant covers a full disk"
        )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", mount_point], check=False)
        os.rmdir(mount_point)


def test_disk_full_on_real_small_filesystem(tiny_fs):
    """On a real full filesystem (1 MiB tmpfs) the write fails with FileWriteError, old content intact, no temp."""
    path = os.path.join(tiny_fs, "state.json")
    write_file(path, json.dumps({"old": "x" * 1000}))
    with pytest.raises(FileWriteError) as info:
        atomic_write_bytes(path, b"y" * (4 << 20))
    assert info.value.errno == errno.ENOSPC
    assert "free space" in str(info.value)
    assert read_json(path) == {"old": "x" * 1000}
    assert temps_in(tiny_fs) == []


def test_disk_full_injected_at_os_write(tmp_path, monkeypatch):
    """ENOSPC injected at the os.write boundary (after a partial write) gives FileWriteError, old content, no temp."""
    path = tmp_path / "state.bin"
    path.write_bytes(b"old content")
    real_write = os.write
    calls = 0

    def full_disk(fd, data):
        nonlocal calls
        calls += 1
        if calls == 1:
            return real_write(fd, bytes(data[:100]))  # a short write, as a filling disk gives
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(FileWriteError) as info:
        atomic_write_bytes(path, b"z" * 10_000)
    monkeypatch.undo()
    assert calls == 2, "the rest of a short write must be attempted"
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == b"old content"
    assert temps_in(tmp_path) == []
    assert get_error_reports(operation="atomic_write", limit=1)[0].exception_type.startswith("FileWriteError")


def test_failed_fsync_is_not_retried(tmp_path, monkeypatch):
    """An fsync EIO fails the write at once (no retry, even via write_file), removes the temp, keeps old content."""
    path = tmp_path / "f"
    path.write_text("old")
    calls = 0

    def failing_fsync(fd):
        nonlocal calls
        calls += 1
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(FileWriteError) as info:
        write_file(path, "new", max_retries=5)
    monkeypatch.undo()
    assert calls == 1
    assert info.value.errno == errno.EIO
    assert info.value.fsync_failed is True
    assert path.read_text() == "old"
    assert temps_in(tmp_path) == []


def test_transient_errno_is_retried(tmp_path, monkeypatch):
    """A transient errno (ESTALE, as a network mount gives) is retried until the read succeeds."""
    path = tmp_path / "f"
    path.write_text("content")
    import builtins

    real_open = builtins.open
    failures = 2

    def flaky_open(file, *args, **kwargs):
        nonlocal failures
        if os.fspath(file) == str(path) and failures:
            failures -= 1
            raise OSError(errno.ESTALE, os.strerror(errno.ESTALE))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", flaky_open)
    assert read_file(path, max_retries=3) == "content"
    assert failures == 0


def test_retries_obey_rel_retry_testing_switch(tmp_path, monkeypatch):
    """rel-retry's testing switch removes rel-io's retry waits and records the attempts."""
    import builtins

    from rel_retry import testing

    path = tmp_path / "f"
    path.write_text("content")
    real_open = builtins.open

    def always_busy(file, *args, **kwargs):
        if os.fspath(file) == str(path):
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", always_busy)
    started = time.monotonic()
    with testing() as record, pytest.raises(FileReadError) as info:
        read_file(path, max_retries=20)
    assert time.monotonic() - started < 5  # 20 real backoff waits would take far longer
    assert info.value.errno == errno.EBUSY
    assert len(record.failures) == 21


def test_permanent_errno_is_not_retried(tmp_path):
    """A permanent error (ENOENT) fails on the first attempt, quickly."""
    with pytest.raises(FileNotFoundError):
        read_file(tmp_path / "missing", max_retries=50)


def test_permission_denied_read(tmp_path):
    """An unreadable file gives FileReadError that is a PermissionError, naming the path."""
    shared = tempfile.mkdtemp(prefix="rel-io-perm-")
    try:
        os.chmod(shared, 0o755)
        path = os.path.join(shared, "secret")
        with open(path, "w") as fh:
            fh.write("x")
        os.chmod(path, 0)
        with unprivileged(), pytest.raises(FileReadError) as info:
            read_file(path)
        assert isinstance(info.value, PermissionError)
        assert path in str(info.value)
        assert "permissions" in str(info.value)
    finally:
        os.chmod(path, 0o600)
        os.unlink(path)
        os.rmdir(shared)


def test_read_only_directory(tmp_path):
    """A directory we may not write gives FileWriteError (PermissionError); old content intact, no temp."""
    shared = tempfile.mkdtemp(prefix="rel-io-ro-")
    path = os.path.join(shared, "f")
    try:
        with open(path, "w") as fh:
            fh.write("old")
        os.chmod(path, 0o666)
        os.chmod(shared, 0o555)
        with unprivileged(), pytest.raises(FileWriteError) as info:
            atomic_write_bytes(path, b"new")
        assert isinstance(info.value, PermissionError)
        with open(path) as fh:
            assert fh.read() == "old"
        assert temps_in(shared) == []
    finally:
        os.chmod(shared, 0o755)
        os.unlink(path)
        os.rmdir(shared)


@pytest.mark.parametrize(
    "payload", [b"abcdefghij" * 1000, bytearray(b"0123456789" * 1000)], ids=["bytes", "bytearray"]
)
def test_short_writes_are_continued_exactly(tmp_path, monkeypatch, payload):
    """A kernel that accepts at most 333 bytes per os.write (injected) still gets every byte once, in order."""
    path = tmp_path / "f"
    real_write = os.write
    calls = 0

    def short_write(fd, data):
        nonlocal calls
        calls += 1
        return real_write(fd, bytes(data[:333]))

    monkeypatch.setattr(os, "write", short_write)
    atomic_write_bytes(path, payload)
    monkeypatch.undo()
    assert path.read_bytes() == bytes(payload)
    assert calls == -(-len(payload) // 333)
