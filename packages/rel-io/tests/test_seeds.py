"""The seed documents' example calls, with only the import line changed."""

from __future__ import annotations

import builtins
import logging

import pytest

from rel_io import (
    DirectoryOperationError,
    FileReadError,
    FileWriteError,
    IOError,
    TimeoutError,
    file_lock,
    get_error_reports,
    list_dir,
    read_file,
    read_json,
    with_retry,
    write_file,
    write_json,
)

logger = logging.getLogger("seed")


def test_seed_error_names_are_the_builtins():
    """`from rel_io import IOError, TimeoutError` gives the builtins, so nothing is shadowed."""
    assert IOError is builtins.OSError
    assert TimeoutError is builtins.TimeoutError
    assert issubclass(FileReadError, IOError)
    assert issubclass(DirectoryOperationError, IOError)


def test_seed_specific_exception_types(tmp_path, monkeypatch):
    """Seed 001 "Use Specific Exception Types": FileNotFoundError, then create with default content."""
    monkeypatch.chdir(tmp_path)
    default_content = "defaults\n"
    try:
        content = read_file("important_data.txt")
    except FileNotFoundError:
        logger.warning("File not found, creating with default content")
        write_file("important_data.txt", default_content)
        content = None
    except FileReadError as e:  # pragma: no cover - not reached
        logger.error(f"Error reading file: {e!s}")
    assert content is None
    assert read_file("important_data.txt") == default_content


def test_seed_error_report_analysis(tmp_path):
    """Seed 001 "Error Report Analysis": failed reads appear in get_error_reports(operation="read_file")."""
    for name in ["a", "b"]:
        with pytest.raises(FileReadError):
            read_file(tmp_path / name)
    read_file_errors = get_error_reports(operation="read_file", limit=5)
    assert [r.path for r in read_file_errors] == [str(tmp_path / "b"), str(tmp_path / "a")]
    for report in read_file_errors:
        assert report.operation == "read_file"
        assert report.exception_type
        assert report.exception_msg
        assert isinstance(report.context, dict)


def test_seed_graceful_degradation(tmp_path):
    """Seed 001 "Graceful Degradation": bad files are collected, good ones processed."""
    (tmp_path / "ok.json").write_text('{"v": 1}')
    (tmp_path / "bad.json").write_text('{"v": ')
    results, errors = [], []
    for file_path in [tmp_path / "ok.json", tmp_path / "bad.json", tmp_path / "missing.json"]:
        try:
            data = read_json(file_path)
            results.append(data["v"])
        except Exception as e:
            errors.append((file_path, str(e)))
    assert results == [1]
    assert len(errors) == 2


def test_seed_performance_considerations(tmp_path, monkeypatch):
    """Seed 001: timeout= and max_retries= on reads and listings, file_lock as a context manager."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "temp").mkdir()
    (tmp_path / "large_file.dat").write_text("data")
    (tmp_path / "critical_config.json").write_text("{}")
    content = read_file("large_file.dat", timeout=60.0)
    files = list_dir("./temp", max_retries=2)
    config = read_json("critical_config.json", max_retries=5)
    with file_lock("resource.lock"):
        pass
    assert (content, files, config) == ("data", [], {})


def test_seed_custom_retry_behaviour():
    """Seed 001 "Custom Retry Behavior": with_retry is importable from rel_io and retries."""
    calls = 0

    @with_retry(
        max_retries=5,
        retry_delay=0.001,
        backoff_factor=1.5,
        exceptions_to_retry=(ConnectionError, TimeoutError),
        timeout=30.0,
    )
    def fetch_remote_data(url):
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError(url)
        return {"url": url}

    assert fetch_remote_data("http://example.invalid") == {"url": "http://example.invalid"}
    assert calls == 3


def test_seed_json_handling_with_fallbacks(tmp_path, monkeypatch):
    """Seed 001 "JSON Data Handling": a failed read falls back to defaults; a failed write raises FileWriteError."""
    monkeypatch.chdir(tmp_path)
    default_config = {"mode": "default"}
    try:
        data = read_json("config.json")
    except FileReadError as e:
        logger.error(f"Failed to read JSON: {e!s}")
        data = default_config
    assert data == default_config
    success = write_json("config.json", data)
    assert success is True
    with pytest.raises(FileWriteError):
        write_json("missing-dir/config.json", data)
