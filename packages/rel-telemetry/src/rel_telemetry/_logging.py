"""Structured logging: JSON lines that carry the trace, and `log_exception`."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import sys
import traceback
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace as _trace_api

from rel_telemetry._errors import record_error
from rel_telemetry._jsonable import jsonable, safe_repr
from rel_telemetry._tracing import current_trace_ids, error_type

_default_logger = logging.getLogger("rel")

# Attributes every LogRecord has; anything else on a record is an "extra".
_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "rel_extra",
    "trace_id",
    "span_id",
}


def _coerce_extra(extra: object) -> dict[str, Any]:
    if extra is None:
        return {}
    try:
        if isinstance(extra, Mapping):
            return {(k if isinstance(k, str) else safe_repr(k)): v for k, v in extra.items()}
    except Exception as exc:  # a mapping whose iteration raises is reported, not fatal
        return {"extra": safe_repr(extra), "extra_error": safe_repr(exc)}
    return {"extra": safe_repr(extra)}


def log_exception(
    message: str,
    *,
    extra: Mapping[str, Any] | None = None,
    logger: logging.Logger | None = None,
    exc: BaseException | None = None,
    operation: str | None = None,
) -> None:
    """Log ``message`` at ERROR with the current exception's traceback and ``extra`` fields.

    Also records an exception event on the current span and an
    :class:`ErrorReport` (``operation`` defaults to the message). Call it in an
    ``except`` block or pass ``exc``. It never raises, whatever ``extra`` holds.
    """
    try:
        error = exc if exc is not None else sys.exc_info()[1]
        fields = _coerce_extra(extra)
        trace_id, span_id = current_trace_ids()
        record_extra: dict[str, Any] = {"rel_extra": fields, "trace_id": trace_id, "span_id": span_id}
        for key, value in fields.items():
            if key not in _RESERVED and key.isidentifier():
                record_extra[key] = value
        exc_info: Any = (type(error), error, error.__traceback__) if error is not None else None
        (logger or _default_logger).error(message, exc_info=exc_info, extra=record_extra)
        if error is not None:
            span = _trace_api.get_current_span()
            if span.is_recording():
                span.record_exception(error, attributes={"rel.log.message": str(message)})
                span.set_attribute("error.type", error_type(error))
            record_error(operation or str(message), error, context=fields)
    except Exception:  # logging must never take the caller down
        try:
            logging.getLogger("rel_telemetry").debug("log_exception failed", exc_info=True)
        except Exception:
            return


class JsonFormatter(logging.Formatter):
    """Format each record as one JSON object on one line.

    Keys: ``time`` (ISO 8601 UTC), ``level``, ``logger``, ``message``, every extra
    field, ``trace_id`` / ``span_id`` when a span is active, and ``exception``
    (type, message, stack) when the record carries one. Values that JSON cannot
    hold fall back to their ``repr``; formatting never raises.
    """

    def format(self, record: logging.LogRecord) -> str:
        try:
            return self._format(record)
        except Exception as exc:
            fallback = {
                "time": _iso(record.created),
                "level": record.levelname,
                "logger": record.name,
                "message": safe_repr(getattr(record, "msg", "")),
                "format_error": safe_repr(exc),
            }
            return json.dumps(fallback, ensure_ascii=False)

    def _format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception:
            message = f"{safe_repr(record.msg)} % {safe_repr(record.args)}"
        data: dict[str, Any] = {
            "time": _iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        extras: dict[str, Any] = {}
        for key, value in record.__dict__.items():
            if key not in _RESERVED:
                extras[key] = value
        rel_extra = record.__dict__.get("rel_extra")
        if isinstance(rel_extra, Mapping):
            extras.update(rel_extra)
        for key, value in extras.items():
            if key not in data:
                data[key] = jsonable(value)
        trace_id = record.__dict__.get("trace_id")
        span_id = record.__dict__.get("span_id")
        if trace_id is None:
            trace_id, span_id = current_trace_ids()
        if trace_id is not None:
            data["trace_id"] = trace_id
            data["span_id"] = span_id
        if record.exc_info and record.exc_info[1] is not None:
            etype, evalue, etb = record.exc_info
            data["exception"] = {
                "type": etype.__name__ if etype else None,
                "message": safe_repr(evalue) if not _str_ok(evalue) else str(evalue),
                "stack": "".join(traceback.format_exception(etype, evalue, etb)),
            }
        if record.stack_info:
            data["stack_info"] = record.stack_info
        return json.dumps(data, ensure_ascii=False, default=safe_repr)


def _str_ok(value: object) -> bool:
    try:
        str(value)
    except Exception:
        return False
    return True


def _iso(created: float) -> str:
    return (
        _dt.datetime.fromtimestamp(created, _dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
