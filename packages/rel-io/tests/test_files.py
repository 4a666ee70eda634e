from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import pytest
from conftest import LoopTicks, temps_in
from hypothesis import given, settings
from hypothesis import strategies as st

from rel_io import (
    CorruptFileError,
    FileReadError,
    FileWriteError,
    IOTimeoutError,
    RelIOError,
    async_read_file,
    async_read_json,
    async_write_file,
    async_write_json,
    get_error_reports,
    read_bytes,
    read_file,
    read_json,
    write_file,
    write_json,
)


def test_seed_basic_file_operations(tmp_path):
    """Seed 001: write_file returns True, read_file returns the text."""
    path = tmp_path / "file.txt"
    success = write_file(str(path), "File content")
    assert success is True
    assert read_file(str(path)) == "File content"
    assert temps_in(tmp_path) == []


def test_seed_json_handling(tmp_path):
    """Seed 001: write_json then read_json round-trips."""
    data = {"a": [1, 2, {"b": None}], "ü": "ß"}
    assert write_json(tmp_path / "config.json", data) is True
    assert read_json(tmp_path / "config.json") == data


def test_seed_missing_file_is_file_not_found(tmp_path):
    """Seed 001: a missing file is caught by `except FileNotFoundError` and by `except FileReadError`."""
    path = tmp_path / "important_data.txt"
    with pytest.raises(FileNotFoundError):
        read_file(path)
    with pytest.raises(FileReadError) as info:
        read_file(path)
    err = info.value
    assert isinstance(err, RelIOError)
    assert err.path == str(path)
    assert err.operation == "read_file"
    assert "read_file" in str(err)
    assert str(path) in str(err)
    reports = get_error_reports(operation="read_file", limit=5)
    assert reports
    assert reports[0].path == str(path)
    assert reports[0].exception_type == type(err).__name__


def test_errors_pickle_intact(tmp_path):
    """Typed errors survive pickling with their class, message and attributes."""
    with pytest.raises(FileReadError) as info:
        read_file(tmp_path / "missing")
    again = pickle.loads(pickle.dumps(info.value))
    assert type(again) is type(info.value)
    assert str(again) == str(info.value)
    assert again.path == info.value.path
    assert again.errno == info.value.errno


def test_path_is_directory_on_read(tmp_path):
    """Reading a directory gives FileReadError that is an IsADirectoryError."""
    with pytest.raises(FileReadError) as info:
        read_file(tmp_path)
    assert isinstance(info.value, IsADirectoryError)


def test_invalid_utf8_names_byte_offset(tmp_path):
    """Invalid UTF-8 is CorruptFileError with the byte offset of the bad byte."""
    path = tmp_path / "bad.txt"
    path.write_bytes(b"hello \xff world")
    with pytest.raises(CorruptFileError) as info:
        read_file(path)
    assert info.value.offset == 6
    assert "byte offset 6" in str(info.value)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, FileReadError)


def test_truncated_json_names_line_and_column(tmp_path):
    """Truncated JSON is CorruptFileError with line and column."""
    path = tmp_path / "t.json"
    path.write_text('{\n  "a": [1, 2')
    with pytest.raises(CorruptFileError) as info:
        read_json(path)
    assert info.value.line == 2
    assert info.value.column is not None
    assert "line 2" in str(info.value)


def test_empty_json_is_corrupt(tmp_path):
    """An empty JSON file is reported as empty, not parsed as None."""
    path = tmp_path / "e.json"
    path.write_text("")
    with pytest.raises(CorruptFileError, match="empty"):
        read_json(path)


def test_broken_symlink_is_file_not_found(tmp_path):
    """A broken symlink reads as FileNotFoundError-flavoured FileReadError."""
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "gone")
    with pytest.raises(FileReadError) as info:
        read_file(link)
    assert isinstance(info.value, FileNotFoundError)


def test_max_bytes_refuses_2gib_without_reading(tmp_path):
    """A 2 GiB (sparse) file over max_bytes is refused from its size, without reading it."""
    path = tmp_path / "huge"
    with open(path, "wb") as fh:
        fh.truncate(2 << 30)
    with pytest.raises(FileReadError, match="max_bytes") as info:
        read_bytes(path, max_bytes=1 << 20)
    assert "2147483648 bytes" in str(info.value)


def test_max_bytes_on_unsized_stream(tmp_path):
    """A source without a known size is cut at max_bytes + 1 and refused."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = subprocess.Popen(
        [sys.executable, "-c", "import sys; open(sys.argv[1], 'wb').write(b'x' * 5000)", str(fifo)]
    )
    try:
        with pytest.raises(FileReadError, match="max_bytes"):
            read_bytes(fifo, max_bytes=100, timeout=10)
    finally:
        writer.wait(timeout=10)


def test_timeout_turns_hung_read_into_io_timeout(tmp_path):
    """A read that hangs (a FIFO with no writer) becomes IOTimeoutError after timeout=."""
    fifo = tmp_path / "hung"
    os.mkfifo(fifo)
    try:
        with pytest.raises(IOTimeoutError) as info:
            read_file(fifo, timeout=0.3)
        assert isinstance(info.value, TimeoutError)
        assert str(fifo) in str(info.value)
        assert get_error_reports(operation="read_file", limit=1)[0].exception_type == "IOTimeoutError"
    finally:
        # release the abandoned reader thread
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)


@pytest.mark.parametrize("bad", [{"max_retries": -1}, {"max_retries": 1.5}, {"timeout": 0}, {"timeout": -2}])
def test_invalid_arguments_are_value_errors(tmp_path, bad):
    """Invalid max_retries or timeout raise ValueError naming the parameter."""
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match=next(iter(bad))):
        read_file(tmp_path / "f", **bad)


def test_write_file_failure_keeps_old_content(tmp_path):
    """write_file into a missing directory raises FileWriteError."""
    with pytest.raises(FileWriteError):
        write_file(tmp_path / "no" / "f", "x")
    assert get_error_reports(operation="write_file", limit=1)[0].operation == "write_file"


def test_write_json_unserialisable(tmp_path):
    """write_json of data JSON cannot hold raises TypeError and touches nothing."""
    with pytest.raises(TypeError):
        write_json(tmp_path / "f.json", {"s": {1, 2}})
    assert os.listdir(tmp_path) == []


def test_write_file_bytes(tmp_path):
    """write_file accepts bytes as well as text."""
    write_file(tmp_path / "b", b"\x00\xff")
    assert read_bytes(tmp_path / "b") == b"\x00\xff"


async def test_async_variants_round_trip(tmp_path):
    """The async read and write variants match the sync ones."""
    assert await async_write_file(tmp_path / "t", "text") is True
    assert await async_read_file(tmp_path / "t") == "text"
    assert await async_write_json(tmp_path / "j", {"k": 1}) is True
    assert await async_read_json(tmp_path / "j") == {"k": 1}
    assert json.loads((tmp_path / "j").read_text()) == {"k": 1}


def test_ambient_deadline_bounds_a_hung_read(tmp_path):
    """With no timeout=, an ambient rel deadline still turns a hung read into IOTimeoutError."""
    from rel_telemetry import deadline_scope

    fifo = tmp_path / "hung2"
    os.mkfifo(fifo)
    try:
        with deadline_scope(0.3), pytest.raises(IOTimeoutError):
            read_json(fifo)
    finally:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)


@pytest.mark.parametrize(
    "make",
    [
        lambda p: read_file(p / "missing"),
        lambda p: (p / "bad.json").write_text("{") and read_json(p / "bad.json"),
        lambda p: write_file(p / "no" / "f", "x"),
    ],
    ids=["FileReadError", "CorruptFileError", "FileWriteError"],
)
def test_every_error_pickles(tmp_path, make):
    """Each typed error survives a pickle round trip with its class, message, path and extra fields."""
    with pytest.raises(RelIOError) as info:
        make(tmp_path)
    err = info.value
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is type(err)
    assert (str(again), again.path, again.operation) == (str(err), err.path, err.operation)
    assert getattr(again, "line", None) == getattr(err, "line", None)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=50, deadline=None)
@given(value=json_values)
def test_json_round_trip(tmp_path_factory, value):
    """Whatever JSON value write_json writes, read_json returns equal."""
    path = tmp_path_factory.mktemp("json") / "v.json"
    write_json(path, value, durable=False)
    assert read_json(path) == value


async def test_async_read_runs_off_the_event_loop(tmp_path):
    """A hung async read never blocks the event loop: other tasks keep running until its timeout."""
    fifo = tmp_path / "hung-async"
    os.mkfifo(fifo)
    try:
        async with LoopTicks() as ticks:
            with pytest.raises(IOTimeoutError):
                await async_read_file(fifo, timeout=0.5)
    finally:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
    assert ticks.count >= 2
