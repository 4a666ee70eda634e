from __future__ import annotations

import os

import pytest

from rel_io import DirectoryOperationError, async_list_dir, async_scan_dir, ensure_dir, list_dir, scan_dir


def _tree(root):
    for rel in ["src/a.py", "src/b.txt", "src/pkg/c.py", "src/pkg/__pycache__/c.cpython.pyc", "src/z.py"]:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")


def test_seed_list_dir(tmp_path):
    """Seed 001: list_dir returns the entry names, sorted."""
    (tmp_path / "b").write_text("")
    (tmp_path / "a").mkdir()
    assert list_dir(tmp_path) == ["a", "b"]


def test_seed_scan_dir_with_patterns(tmp_path):
    """Seed 001: recursive scan with include "*.py" and exclude "__pycache__/*"."""
    _tree(tmp_path)
    found = scan_dir(
        tmp_path / "src", recursive=True, include_pattern="*.py", exclude_pattern="__pycache__/*"
    )
    rel = [os.path.relpath(p, tmp_path / "src") for p in found]
    assert rel == ["a.py", os.path.join("pkg", "c.py"), "z.py"]


def test_scan_dir_not_recursive_by_default(tmp_path):
    """Without recursive=True only the top level is listed (files only)."""
    _tree(tmp_path)
    found = scan_dir(tmp_path / "src")
    assert [os.path.basename(p) for p in found] == ["a.py", "b.txt", "z.py"]


def test_scan_dir_survives_symlink_loop(tmp_path):
    """A symlink loop is never followed forever, with or without follow_symlinks."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f.txt").write_text("x")
    (tmp_path / "d" / "loop").symlink_to(tmp_path / "d")
    assert len(scan_dir(tmp_path, recursive=True)) == 1
    followed = scan_dir(tmp_path, recursive=True, follow_symlinks=True)
    assert [os.path.basename(p) for p in followed] == ["f.txt"]


def test_missing_directory_errors(tmp_path):
    """Listing a missing directory raises DirectoryOperationError that is a FileNotFoundError."""
    with pytest.raises(DirectoryOperationError) as info:
        list_dir(tmp_path / "nope")
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(DirectoryOperationError):
        scan_dir(tmp_path / "nope")


def test_list_dir_of_file(tmp_path):
    """Listing a file raises DirectoryOperationError that is a NotADirectoryError."""
    (tmp_path / "f").write_text("")
    with pytest.raises(DirectoryOperationError) as info:
        list_dir(tmp_path / "f")
    assert isinstance(info.value, NotADirectoryError)


def test_ensure_dir_creates_parents_and_is_idempotent(tmp_path):
    """ensure_dir creates missing parents and accepts an existing directory."""
    target = tmp_path / "output" / "logs"
    assert ensure_dir(target) == target
    assert target.is_dir()
    assert ensure_dir(str(target)) == target


def test_ensure_dir_over_a_file(tmp_path):
    """ensure_dir where a file exists raises DirectoryOperationError naming the path."""
    (tmp_path / "f").write_text("")
    with pytest.raises(DirectoryOperationError, match="not a directory"):
        ensure_dir(tmp_path / "f")
    with pytest.raises(DirectoryOperationError):
        ensure_dir(tmp_path / "f" / "sub")


async def test_async_directory_variants(tmp_path):
    """The async directory variants match the sync ones."""
    _tree(tmp_path)
    assert await async_list_dir(tmp_path) == ["src"]
    assert len(await async_scan_dir(tmp_path, recursive=True, include_pattern="*.py")) == 3


def test_ensure_dir_mode(tmp_path):
    """ensure_dir(mode=) creates the directory with that mode, less the umask."""
    os.umask(0o022)
    target = ensure_dir(tmp_path / "private", mode=0o750)
    assert target.stat().st_mode & 0o777 == 0o750


async def test_async_ensure_dir(tmp_path):
    """async_ensure_dir creates parents off the event loop and raises DirectoryOperationError over a file."""
    from rel_io import async_ensure_dir

    assert await async_ensure_dir(tmp_path / "a" / "b", 0o750) == tmp_path / "a" / "b"
    assert (tmp_path / "a" / "b").is_dir()
    (tmp_path / "f").write_text("")
    with pytest.raises(DirectoryOperationError):
        await async_ensure_dir(tmp_path / "f")
