from __future__ import annotations

import hashlib
import json
import os

import pytest
from conftest import unprivileged
from hypothesis import given, settings
from hypothesis import strategies as st

from rel_io import (
    FileReadError,
    FileWriteError,
    async_is_idempotent_write,
    async_write_if_changed,
    compute_content_hash,
    generate_unique_key,
    is_idempotent_write,
    write_if_changed,
)


def test_compute_content_hash_is_sha256_of_utf8():
    """Text is hashed as UTF-8; bytes as given; equal content, equal hash."""
    assert compute_content_hash("héllo") == hashlib.sha256("héllo".encode()).hexdigest()
    assert compute_content_hash(b"abc") == compute_content_hash("abc")
    assert compute_content_hash("a") != compute_content_hash("b")


def test_is_idempotent_write(tmp_path):
    """False for a missing or different file, True for identical content (str or bytes)."""
    path = tmp_path / "f"
    assert is_idempotent_write(path, "x") is False
    path.write_text("line 1\nline 2\n")
    assert is_idempotent_write(path, "line 1\nline 2\n") is True
    assert is_idempotent_write(path, b"line 1\nline 2\n") is True
    assert is_idempotent_write(path, "line 1\nline 3\n") is False


def test_uncomparable_path_is_file_read_error_naming_the_operation(tmp_path):
    """A path under a regular file cannot be compared: FileReadError (a NotADirectoryError) names the operation."""
    (tmp_path / "plain").write_text("")
    path = tmp_path / "plain" / "f"
    with pytest.raises(FileReadError) as info:
        is_idempotent_write(path, "x")
    assert isinstance(info.value, NotADirectoryError)
    assert info.value.operation == "is_idempotent_write"
    with pytest.raises(FileReadError) as info:
        write_if_changed(path, "x")
    assert info.value.operation == "write_if_changed"


async def test_async_is_idempotent_write(tmp_path):
    """The async variant gives the same answers as the sync one, from a worker thread."""
    path = tmp_path / "f"
    assert await async_is_idempotent_write(path, "x") is False
    path.write_bytes(b"same")
    assert await async_is_idempotent_write(path, "same") is True
    assert await async_is_idempotent_write(path, b"other") is False


def test_seed_write_if_changed(tmp_path):
    """Seed 003: write_if_changed writes new content, skips identical, updates different."""
    path = tmp_path / "output" / "result.json"
    result = {"ok": True, "ü": 1}
    assert write_if_changed(path, json.dumps(result, indent=2)) is True
    assert json.loads(path.read_text()) == result
    before = os.stat(path)
    assert write_if_changed(path, json.dumps(result, indent=2)) is False
    after = os.stat(path)
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    assert write_if_changed(path, json.dumps({"ok": False})) is True
    assert json.loads(path.read_text()) == {"ok": False}


def test_write_if_changed_permission_error(tmp_path):
    """A directory we may not write gives FileWriteError."""
    import tempfile

    shared = tempfile.mkdtemp(prefix="rel-io-idem-")
    try:
        os.chmod(shared, 0o555)
        with unprivileged(), pytest.raises(FileWriteError):
            write_if_changed(os.path.join(shared, "f"), "x")
    finally:
        os.chmod(shared, 0o755)
        os.rmdir(shared)


def test_generate_unique_key():
    """Keys are stable, differ with any part, and are unambiguous across part boundaries."""
    assert generate_unique_key("run-1", "worker", 3) == generate_unique_key("run-1", "worker", "3")
    assert generate_unique_key("run-1") != generate_unique_key("run-2")
    assert generate_unique_key("ab", "c") != generate_unique_key("a", "bc")
    assert len(generate_unique_key()) == 64
    ids = {generate_unique_key("run-1", "event", i) for i in range(100)}
    assert len(ids) == 100


async def test_async_write_if_changed(tmp_path):
    """The async variant reports whether it wrote."""
    assert await async_write_if_changed(tmp_path / "a", "x") is True
    assert await async_write_if_changed(tmp_path / "a", "x") is False


@settings(max_examples=40, deadline=None)
@given(content=st.one_of(st.text(), st.binary()))
def test_write_read_round_trip(tmp_path_factory, content):
    """Whatever is written is read back exactly, and a second identical write is skipped."""
    path = tmp_path_factory.mktemp("rt") / "f"
    assert write_if_changed(path, content, durable=False) is True
    expected = content.encode() if isinstance(content, str) else content
    assert path.read_bytes() == expected
    assert is_idempotent_write(path, content)
    assert write_if_changed(path, content, durable=False) is False
