from __future__ import annotations

import pytest

from rel_io import FileReadError, atomic_write_json, read_json, update_json
from rel_telemetry.attributes import IO_OPERATION, IO_PATH


def test_spans_name_operation_and_path(tmp_path, rel_spans):
    """With an SDK installed, operations are spans carrying rel.io.operation and rel.io.path."""
    path = tmp_path / "t.json"
    atomic_write_json(path, {"a": 1})
    read_json(path)
    update_json(path, lambda d: d)
    span = rel_spans.one("io.read_json")
    assert span.attributes[IO_OPERATION] == "read_json"
    assert span.attributes[IO_PATH] == str(path)
    assert rel_spans.named("io.atomic_write")
    assert rel_spans.named("io.update_json")


def test_failed_operation_span_is_error(tmp_path, rel_spans):
    """A failed read marks its span ERROR with error.type."""
    with pytest.raises(FileReadError):
        read_json(tmp_path / "missing.json")
    span = rel_spans.one("io.read_json")
    assert span.status.status_code.name == "ERROR"
    assert "FileReadError" in span.attributes["error.type"]
