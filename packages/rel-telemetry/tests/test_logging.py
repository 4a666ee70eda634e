from __future__ import annotations

import io
import json
import logging
import math

import pytest

from rel_telemetry import JsonFormatter, get_error_reports, log_exception, traced
from rel_telemetry.testing import capture_spans


@pytest.fixture
def json_logger() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"rel.test.{id(stream)}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_log_exception_fields(json_logger: tuple[logging.Logger, io.StringIO]) -> None:
    """log_exception writes one JSON line with message, extras, exception and stack."""
    logger, stream = json_logger
    try:
        raise ValueError("bad package")
    except ValueError:
        log_exception("Package processing failed", extra={"package_id": 42}, logger=logger)
    (line,) = _lines(stream)
    assert line["message"] == "Package processing failed"
    assert line["level"] == "ERROR"
    assert line["package_id"] == 42
    exc = line["exception"]
    assert isinstance(exc, dict)
    assert exc["type"] == "ValueError"
    assert exc["message"] == "bad package"
    assert "raise ValueError" in str(exc["stack"])
    assert str(line["time"]).endswith("Z")


def test_log_exception_adds_error_report_and_span_event(
    json_logger: tuple[logging.Logger, io.StringIO],
) -> None:
    """log_exception stores an ErrorReport and records an exception event on the current span."""
    logger, stream = json_logger
    with capture_spans() as spans, traced("job") as span:
        try:
            raise ConnectionError("down")
        except ConnectionError:
            log_exception("fetch failed", extra={"url": "http://x"}, logger=logger, operation="fetch")
    (report,) = get_error_reports(operation="fetch")
    assert report.exception_type == "ConnectionError"
    assert report.context == {"url": "http://x"}
    assert report.trace_id == f"{span.get_span_context().trace_id:032x}"
    (line,) = _lines(stream)
    assert line["trace_id"] == report.trace_id
    assert [e.name for e in spans.one("job").events] == ["exception"]


class _Unrepresentable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __str__(self) -> str:
        raise RuntimeError("no str")


HOSTILE_EXTRAS: list[object] = [
    {"message": "collides", "args": "collides", "name": "collides", "exc_info": 1},
    {1: "int key", (1, 2): "tuple key"},
    {"obj": object(), "set": {1, 2}, "bytes": b"\xff\x00", "nan": math.nan},
    {"bad": _Unrepresentable()},
    {"deep": [[[[[[[[[[[[1]]]]]]]]]]]]},
    "not a mapping",
    None,
]


@pytest.mark.parametrize("extra", HOSTILE_EXTRAS)
def test_log_exception_never_raises(extra: object, json_logger: tuple[logging.Logger, io.StringIO]) -> None:
    """Whatever extra holds, log_exception logs one parseable JSON line and does not raise."""
    logger, stream = json_logger
    try:
        raise RuntimeError("x")
    except RuntimeError:
        log_exception("failed", extra=extra, logger=logger)  # type: ignore[arg-type]
    (line,) = _lines(stream)
    assert line["message"] == "failed"


def test_cyclic_extra_is_serialised(json_logger: tuple[logging.Logger, io.StringIO]) -> None:
    """A self-referencing extra is cut at a depth limit instead of failing."""
    logger, stream = json_logger
    cyclic: dict[str, object] = {}
    cyclic["self"] = cyclic
    logger.info("cyc", extra={"cyclic": cyclic})
    (line,) = _lines(stream)
    assert "cyclic" in line


def test_formatter_survives_bad_format_args() -> None:
    """A message whose %-args do not match still yields a JSON line."""
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "needs %s %s", ("one",), None)
    line = json.loads(JsonFormatter().format(record))
    assert "needs" in str(line["message"])
    assert line["level"] == "WARNING"


def test_exception_with_broken_str(json_logger: tuple[logging.Logger, io.StringIO]) -> None:
    """An exception whose __str__ raises is still reported."""

    class Weird(Exception):
        def __str__(self) -> str:
            raise RuntimeError("nope")

    logger, stream = json_logger
    try:
        raise Weird
    except Weird:
        log_exception("weird", logger=logger)
    (line,) = _lines(stream)
    exc = line["exception"]
    assert isinstance(exc, dict)
    assert exc["type"] == "Weird"


def test_log_exception_outside_except(json_logger: tuple[logging.Logger, io.StringIO]) -> None:
    """Called with no active exception it logs the message without an exception block."""
    logger, stream = json_logger
    log_exception("nothing raised", logger=logger)
    (line,) = _lines(stream)
    assert "exception" not in line
    assert get_error_reports() == []
