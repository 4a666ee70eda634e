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
