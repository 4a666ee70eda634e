from __future__ import annotations

import json
import os
import stat

import pytest
from conftest import temps_in

from rel_io import (
    FileWriteError,
    async_atomic_write_bytes,
    async_atomic_write_json,
    async_atomic_write_text,
    async_cleanup_stale_temps,
    atomic_open,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    cleanup_stale_temps,
    get_error_reports,
)


def test_atomic_write_json_seed_example(tmp_path):
    """The seed's call works: atomic_write_json(Path("results.json"), data) writes valid JSON."""
    path = tmp_path / "results.json"
    data = {"result": "success"}
    atomic_write_json(path, data)
    assert json.loads(path.read_text()) == data
    assert temps_in(tmp_path) == []


def test_atomic_write_text_and_bytes_replace_content(tmp_path):
    """A second write replaces the first completely."""
    path = tmp_path / "f.txt"
    atomic_write_text(path, "first version, long")
    atomic_write_text(str(path), "second")
    assert path.read_text() == "second"
    atomic_write_bytes(path, b"\x00\x01binary")
    assert path.read_bytes() == b"\x00\x01binary"
    assert temps_in(tmp_path) == []


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_new_file_gets_open_mode(tmp_path, umask):
    """A new file gets 0666 minus the umask, as open() would give it."""
    os.umask(umask)
    path = tmp_path / "new"
    atomic_write_bytes(path, b"x")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_existing_file_keeps_mode_unless_mode_given(tmp_path):
    """An existing file keeps its permission bits; mode= overrides them."""
    path = tmp_path / "kept"
    path.write_bytes(b"old")
    path.chmod(0o640)
    atomic_write_bytes(path, b"new")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    atomic_write_bytes(path, b"newer", mode=0o600)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == b"newer"


def test_write_through_symlink_keeps_link(tmp_path):
    """Writing through a symlink replaces the file it points to and keeps the link."""
    target = tmp_path / "real.json"
    target.write_text("{}")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    atomic_write_json(link, {"a": 1})
    assert link.is_symlink()
    assert json.loads(target.read_text()) == {"a": 1}


def test_dangling_symlink_creates_target(tmp_path):
    """A dangling symlink's target is created and the link kept."""
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "missing")
    atomic_write_text(link, "hello")
    assert link.is_symlink()
    assert (tmp_path / "missing").read_text() == "hello"


def test_durable_false_writes_too(tmp_path):
    """durable=False still replaces the file atomically."""
    path = tmp_path / "scratch"
    atomic_write_text(path, "a", durable=False)
    assert path.read_text() == "a"


def test_missing_parent_is_file_write_error(tmp_path):
    """A missing parent directory gives FileWriteError, also a FileNotFoundError, naming the path."""
    path = tmp_path / "nope" / "f.json"
    with pytest.raises(FileWriteError) as info:
        atomic_write_json(path, {})
    assert isinstance(info.value, FileNotFoundError)
    assert str(path) in str(info.value)
    assert "ensure_dir" in str(info.value)
    assert info.value.path == str(path)
    report = get_error_reports(operation="atomic_write", limit=1)[0]
    assert report.path == str(path)


def test_path_is_directory(tmp_path):
    """Writing to a directory path fails with IsADirectoryError before writing anything."""
    with pytest.raises(FileWriteError) as info:
        atomic_write_bytes(tmp_path, b"x")
    assert isinstance(info.value, IsADirectoryError)
    assert temps_in(tmp_path) == []


def test_unserialisable_json_touches_nothing(tmp_path):
    """Data JSON cannot hold raises TypeError before any file is created."""
    path = tmp_path / "f.json"
    with pytest.raises(TypeError):
        atomic_write_json(path, {"x": object()})
    assert os.listdir(tmp_path) == []


def test_keyboard_interrupt_removes_temp(tmp_path, monkeypatch):
    """A KeyboardInterrupt mid-write leaves the old content and no temp file."""
    path = tmp_path / "f"
    path.write_bytes(b"old")
    real_write = os.write

    def interrupted(fd, data):
        real_write(fd, bytes(data[:3]))
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(path, b"new content")
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert temps_in(tmp_path) == []


def test_atomic_open_streams_and_commits(tmp_path):
    """atomic_open writes through a temp and replaces the target on a clean exit."""
    path = tmp_path / "stream.txt"
    path.write_text("old")
    with atomic_open(path, "w") as fh:
        fh.write("line 1\n")
        assert path.read_text() == "old"
        fh.write("line 2\n")
    assert path.read_text() == "line 1\nline 2\n"
    with atomic_open(path, "wb") as fb:
        fb.write(b"bytes")
    assert path.read_bytes() == b"bytes"
    assert temps_in(tmp_path) == []


def test_atomic_open_failure_keeps_old(tmp_path):
    """An exception inside atomic_open leaves the target untouched and removes the temp."""
    path = tmp_path / "stream.txt"
    path.write_text("old")

    def fail_midway() -> None:
        with atomic_open(path, "w") as fh:
            fh.write("partial")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_midway()
    assert path.read_text() == "old"
    assert temps_in(tmp_path) == []


def test_atomic_open_rejects_other_modes(tmp_path):
    """atomic_open only writes: other modes are a ValueError."""
    with pytest.raises(ValueError, match="'w' or 'wb'"):
        atomic_open(tmp_path / "f", "a")  # type: ignore[call-overload]


def test_cleanup_stale_temps_removes_only_old_rel_temps(tmp_path):
    """cleanup_stale_temps removes rel-io temps older than the threshold and nothing else."""
    stale = tmp_path / ".data.json.rel-0123456789ab.tmp"
    stale.write_text("partial")
    old = 1_000_000_000
    os.utime(stale, (old, old))
    fresh = tmp_path / ".data.json.rel-ba9876543210.tmp"
    fresh.write_text("in progress")
    other = tmp_path / "notes.tmp"
    other.write_text("user file")
    removed = cleanup_stale_temps(tmp_path, older_than=3600)
    assert removed == [str(stale)]
    assert fresh.exists()
    assert other.exists()
    assert cleanup_stale_temps(tmp_path, older_than=0) == [str(fresh)]


async def test_async_cleanup_stale_temps(tmp_path):
    """The async variant removes the same stale temps as the sync one and leaves other files alone."""
    stale = tmp_path / ".data.json.rel-0123456789ab.tmp"
    stale.write_text("partial")
    os.utime(stale, (1_000_000_000, 1_000_000_000))
    keep = tmp_path / "data.json"
    keep.write_text("{}")
    assert await async_cleanup_stale_temps(tmp_path, older_than=60) == [str(stale)]
    assert keep.exists()
    assert not stale.exists()


def test_cleanup_rejects_negative_age(tmp_path):
    """A negative older_than is a configuration error."""
    with pytest.raises(ValueError, match="older_than"):
        cleanup_stale_temps(tmp_path, older_than=-1)


@pytest.mark.parametrize("kind", ["bytes", "text", "json"])
async def test_async_variants(tmp_path, kind):
    """The async variants write the same content off the event loop."""
    path = tmp_path / "a"
    if kind == "bytes":
        await async_atomic_write_bytes(path, b"abc")
        assert path.read_bytes() == b"abc"
    elif kind == "text":
        await async_atomic_write_text(path, "abc")
        assert path.read_text() == "abc"
    else:
        await async_atomic_write_json(path, [1, 2])
        assert json.loads(path.read_text()) == [1, 2]


def test_large_write_round_trips(tmp_path):
    """A 1 MiB payload is written completely."""
    data = os.urandom(1 << 20)
    atomic_write_bytes(tmp_path / "big", data)
    assert (tmp_path / "big").read_bytes() == data


def test_atomic_open_keeps_mode_and_accepts_file_mode(tmp_path):
    """atomic_open keeps an existing file's mode; file_mode= sets it."""
    path = tmp_path / "m"
    path.write_text("old")
    path.chmod(0o600)
    with atomic_open(path, "w") as fh:
        fh.write("new")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with atomic_open(path, "w", file_mode=0o644) as fh:
        fh.write("newer")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_text() == "newer"


def test_concurrent_writers_never_mix(tmp_path):
    """Threads rewriting one file concurrently leave one writer's complete content."""
    import threading

    path = tmp_path / "shared"
    payloads = [bytes([i]) * 200_000 for i in range(8)]

    def writer(data: bytes) -> None:
        for _ in range(5):
            atomic_write_bytes(path, data, durable=False)

    threads = [threading.Thread(target=writer, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert path.read_bytes() in payloads
    assert temps_in(tmp_path) == []


def test_long_non_ascii_name(tmp_path):
    """A target name near the 255-byte limit (multi-byte characters) still gets a valid temp name."""
    name = "é" * 127  # 254 bytes in UTF-8
    atomic_write_text(tmp_path / name, "ok")
    assert (tmp_path / name).read_text() == "ok"
    assert temps_in(tmp_path) == []


@pytest.mark.parametrize("kind", ["bytearray", "memoryview of ints", "sliced memoryview"])
def test_buffer_types_are_written_byte_exact(tmp_path, kind):
    """bytearray and memoryviews (any item size, sliced) are written as their raw bytes."""
    import array

    ints = array.array("i", range(1000))
    data = {
        "bytearray": bytearray(b"abc" * 1000),
        "memoryview of ints": memoryview(ints),
        "sliced memoryview": memoryview(b"0123456789")[2:7],
    }[kind]
    atomic_write_bytes(tmp_path / "b", data)
    assert (tmp_path / "b").read_bytes() == bytes(data)


def test_nested_writes_of_one_target_in_one_thread(tmp_path):
    """Two atomic_open blocks on one target in one thread get their own temps; each lands whole when it ends."""
    path = tmp_path / "f"
    with atomic_open(path, "w") as outer:
        outer.write("outer")
        with atomic_open(path, "w") as inner:
            inner.write("inner")
            assert len(temps_in(tmp_path)) == 2
        assert path.read_text() == "inner"
    assert path.read_text() == "outer"
    assert temps_in(tmp_path) == []


@pytest.mark.parametrize("streamed", [False, True], ids=["atomic_write_bytes", "atomic_open"])
def test_a_file_holding_the_reused_temp_name_is_left_alone(tmp_path, streamed):
    """A file already named as this thread's temp (stale, or another writer's) is never written over or removed."""
    from rel_io._atomic import TEMP_PATTERN, temp_name_for

    path = tmp_path / "f"
    atomic_write_bytes(path, b"warm")  # this thread now has its reused temp name
    other = tmp_path / temp_name_for("f")
    assert TEMP_PATTERN.match(other.name)
    other.write_bytes(b"not ours")
    for content in ("one", "two"):
        if streamed:
            with atomic_open(path, "w") as fh:
                fh.write(content)
        else:
            atomic_write_text(path, content)
        assert path.read_text() == content
    assert other.read_bytes() == b"not ours"
    assert temps_in(tmp_path) == [other.name]


@pytest.mark.parametrize(
    "write", [lambda p: atomic_write_bytes(p, b"x"), lambda p: atomic_open(p, "w").__enter__()]
)
def test_parent_that_is_a_file_is_file_write_error(tmp_path, write):
    """A path under a regular file fails with FileWriteError (a NotADirectoryError) naming the path."""
    (tmp_path / "plain").write_text("")
    path = tmp_path / "plain" / "f"
    with pytest.raises(FileWriteError) as info:
        write(path)
    assert isinstance(info.value, NotADirectoryError)
    assert str(path) in str(info.value)


def test_unsearchable_parent_is_file_write_error():
    """A target in a directory we may not search fails with FileWriteError (a PermissionError)."""
    import tempfile

    from conftest import unprivileged

    shared = tempfile.mkdtemp(prefix="rel-io-nosearch-")
    try:
        os.chmod(shared, 0o755)
        os.mkdir(os.path.join(shared, "closed"), 0o700)
        os.chmod(os.path.join(shared, "closed"), 0)
        with unprivileged(), pytest.raises(FileWriteError) as info:
            atomic_write_bytes(os.path.join(shared, "closed", "f"), b"x")
        assert isinstance(info.value, PermissionError)
    finally:
        os.chmod(os.path.join(shared, "closed"), 0o700)
        os.rmdir(os.path.join(shared, "closed"))
        os.rmdir(shared)


@pytest.mark.parametrize("spelling", ["f", "./f", "sub//f", "sub/../f", "x" * 120])
def test_path_spellings(tmp_path, monkeypatch, spelling):
    """Relative, doubled-slash, dotted and long target names are written in place, twice, with no temp left."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    for content in (b"one", b"two"):
        atomic_write_bytes(spelling, content)
        assert (tmp_path / spelling).read_bytes() == content
    assert temps_in(tmp_path) == []
    assert temps_in(tmp_path / "sub") == []


async def test_async_with_atomic_open(tmp_path):
    """`async with atomic_open` streams into a temp and swaps it in on a clean exit; a failure keeps the old file."""
    path = tmp_path / "stream.txt"
    path.write_text("old")
    async with atomic_open(path, "w") as fh:
        fh.write("new")
        assert path.read_text() == "old"
    assert path.read_text() == "new"

    async def fail_midway() -> None:
        async with atomic_open(path, "wb") as fb:
            fb.write(b"partial")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await fail_midway()
    assert path.read_text() == "new"
    assert temps_in(tmp_path) == []


async def test_async_with_atomic_open_cancelled_on_entry_leaves_no_temp(tmp_path):
    """Cancelling a task while `async with atomic_open` creates its temp leaves no temp behind."""
    import asyncio

    path = tmp_path / "f"
    path.write_text("old")

    async def writer() -> None:
        async with atomic_open(path, "w") as fh:
            fh.write("new")
            await asyncio.sleep(10)

    for attempt in range(20):  # cancel at various points: entering, or inside the block
        task = asyncio.create_task(writer())
        for _ in range(attempt % 4):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert path.read_text() == "old"
    assert temps_in(tmp_path) == []
