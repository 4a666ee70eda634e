from __future__ import annotations

import logging

import pytest

from rel_io import (
    CorruptFileError,
    FileReadError,
    get_error_reports,
    safe_read_json,
    safe_read_lines,
    safe_read_text,
)


def test_seed_safe_read_json_returns_none_and_logs_once(tmp_path, caplog):
    """Seed 000: a missing config gives None, one warning with the context, and an error report."""
    caplog.set_level(logging.WARNING, logger="rel_io")
    config = safe_read_json(tmp_path / "config.json", context="main-config")
    assert config is None
    warnings = [r for r in caplog.records if r.name == "rel_io"]
    assert len(warnings) == 1
    assert "main-config" in warnings[0].getMessage()
    report = get_error_reports(operation="safe_read_json", limit=1)[0]
    assert report.context == {"context": "main-config"}
    assert report.path == str(tmp_path / "config.json")


def test_safe_read_json_reads_valid_file(tmp_path):
    """A valid file is returned parsed."""
    (tmp_path / "c.json").write_text('{"a": 1}')
    assert safe_read_json(tmp_path / "c.json") == {"a": 1}


@pytest.mark.parametrize("content", [b'{"a": ', b"\xff\xfe{}", b""])
def test_safe_read_json_default_on_corrupt(tmp_path, content):
    """Truncated, undecodable or empty JSON gives the default."""
    path = tmp_path / "c.json"
    path.write_bytes(content)
    assert safe_read_json(path, default={"fallback": True}) == {"fallback": True}


def test_raise_on_error_raises_typed_error(tmp_path):
    """raise_on_error=True raises FileReadError / CorruptFileError instead of returning the default."""
    with pytest.raises(FileReadError):
        safe_read_json(tmp_path / "missing.json", raise_on_error=True)
    (tmp_path / "bad.json").write_text("[1,")
    with pytest.raises(CorruptFileError):
        safe_read_json(tmp_path / "bad.json", raise_on_error=True)
    with pytest.raises(FileNotFoundError):
        safe_read_text(tmp_path / "missing.txt", raise_on_error=True)


def test_safe_read_text(tmp_path):
    """safe_read_text returns text, or the default when the file is missing or not UTF-8."""
    (tmp_path / "t").write_text("hello")
    assert safe_read_text(tmp_path / "t") == "hello"
    assert safe_read_text(tmp_path / "missing", default="") == ""
    (tmp_path / "bin").write_bytes(b"\xff")
    assert safe_read_text(tmp_path / "bin") is None


def test_safe_read_lines_for_manifests(tmp_path):
    """safe_read_lines strips newlines and can skip blanks and comments."""
    path = tmp_path / "manifest.txt"
    path.write_text("a.txt\r\n\n# comment\n  b.txt  \nc.txt")
    assert safe_read_lines(path) == ["a.txt", "", "# comment", "  b.txt  ", "c.txt"]
    assert safe_read_lines(path, skip_blank=True, comment_prefix="#", strip=True) == [
        "a.txt",
        "b.txt",
        "c.txt",
    ]
    assert safe_read_lines(tmp_path / "missing") is None
    assert safe_read_lines(tmp_path / "missing", default=[]) == []


def test_max_bytes_applies(tmp_path):
    """max_bytes makes an oversized file fall back to the default."""
    (tmp_path / "big").write_text("x" * 100)
    assert safe_read_text(tmp_path / "big", max_bytes=10) is None
    assert safe_read_text(tmp_path / "big", max_bytes=100) == "x" * 100


async def test_async_safe_reads(tmp_path):
    """The async safe readers return content, or the default (with the same report) on failure."""
    from rel_io import async_safe_read_json, async_safe_read_lines, async_safe_read_text

    (tmp_path / "c.json").write_text('{"a": 1}')
    (tmp_path / "m").write_text("a\n# c\n\nb\n")
    assert await async_safe_read_json(tmp_path / "c.json") == {"a": 1}
    assert await async_safe_read_json(tmp_path / "missing.json", {"d": 1}, context="cfg") == {"d": 1}
    assert get_error_reports(operation="safe_read_json", limit=1)[0].context == {"context": "cfg"}
    assert await async_safe_read_text(tmp_path / "missing") is None
    assert await async_safe_read_lines(tmp_path / "m", skip_blank=True, comment_prefix="#") == ["a", "b"]
    with pytest.raises(FileReadError):
        await async_safe_read_text(tmp_path / "missing", raise_on_error=True)
