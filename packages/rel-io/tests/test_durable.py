from __future__ import annotations

import os
from pathlib import Path

import pytest

from rel_io import fsync_dir, fsync_fd


@pytest.mark.parametrize("data_only", [False, True])
def test_fsync_fd_flushes_a_real_file(tmp_path: Path, data_only: bool) -> None:
    """fsync_fd returns once the file's bytes are synced (data_only keeps the new size too)."""
    path = tmp_path / "f"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, b"x" * 4096)
        fsync_fd(fd, data_only=data_only)
    finally:
        os.close(fd)
    assert path.stat().st_size == 4096


def test_fsync_fd_failure_raises() -> None:
    """A failing sync (here: a closed descriptor) raises OSError instead of passing silently."""
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError, match="Bad file descriptor"):
        fsync_fd(w)


def test_fsync_dir(tmp_path: Path) -> None:
    """fsync_dir syncs a directory's entries; a missing directory is an OSError."""
    (tmp_path / "new").write_text("n")
    fsync_dir(str(tmp_path))
    with pytest.raises(FileNotFoundError):
        fsync_dir(str(tmp_path / "missing"))


def _record_sequence(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Log fsyncs (of a file or a directory) and renames as they reach the OS."""
    import stat

    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


def _writes(path: Path, durable: bool) -> list[object]:
    from rel_io import atomic_open, atomic_write_bytes, update_json, write_file, write_if_changed

    def streamed() -> None:
        with atomic_open(path, "wb", durable=durable) as fh:
            fh.write(b"streamed")

    return [
        lambda: atomic_write_bytes(path, b'"bytes"', durable=durable),
        lambda: write_file(path, '"text"', durable=durable),
        lambda: write_if_changed(path, '"changed"', durable=durable),
        lambda: update_json(path, lambda _: 1, durable=durable),
        streamed,
    ]


def test_durable_write_syncs_file_then_renames_then_syncs_directory(tmp_path: Path, monkeypatch) -> None:
    """Every durable write fsyncs the temp, then renames, then fsyncs the directory, in that order."""
    path = tmp_path / "f.json"
    path.write_text("0")
    events = _record_sequence(monkeypatch)
    for write in _writes(path, durable=True):
        events.clear()
        write()  # type: ignore[operator]
        assert events == ["fsync file", "replace", "fsync dir"]


def test_durable_false_makes_no_fsync(tmp_path: Path, monkeypatch) -> None:
    """durable=False still renames atomically but makes no fsync at all."""
    path = tmp_path / "f.json"
    path.write_text("0")
    events = _record_sequence(monkeypatch)
    for write in _writes(path, durable=False):
        events.clear()
        write()  # type: ignore[operator]
        assert events == ["replace"]


def test_failed_directory_fsync_says_content_may_not_be_durable(tmp_path: Path, monkeypatch) -> None:
    """If the directory fsync fails the new content is in place, and the error says it may not be durable."""
    import errno
    import stat

    from rel_io import FileWriteError, atomic_write_bytes

    path = tmp_path / "f"
    path.write_bytes(b"old")
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(FileWriteError, match="may not be durable") as info:
        atomic_write_bytes(path, b"new")
    monkeypatch.undo()
    assert info.value.fsync_failed is True
    assert path.read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path)) == ["f"]


def test_write_if_changed_syncs_the_directories_it_creates(tmp_path: Path, monkeypatch) -> None:
    """write_if_changed into missing parents also fsyncs each new directory's entry in its parent."""
    from rel_io import write_if_changed

    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc to name the synced descriptors")
    monkeypatch.setattr(os, "fsync", fsync)
    assert write_if_changed(tmp_path / "a" / "b" / "f", "x") is True
    monkeypatch.undo()
    assert synced[:2] == [str(tmp_path / "a"), str(tmp_path)]
    assert synced[-1] == str(tmp_path / "a" / "b")
