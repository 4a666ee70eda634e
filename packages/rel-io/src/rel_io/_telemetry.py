"""rel-io's instrumentation scope and the one way its operations report a failure."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import Any

from rel_io._version import __version__
from rel_telemetry import Instrumentation, record_error, traced, tracing_enabled
from rel_telemetry.attributes import IO_OPERATION, IO_PATH

INSTRUMENTATION = Instrumentation("rel_io", __version__)

_NO_SPAN = contextlib.nullcontext()


def io_span(operation: str, path: str | os.PathLike[str] | None) -> contextlib.AbstractContextManager[Any]:
    """Trace one operation as span ``io.<operation>``; no span is built while tracing is off."""
    if not tracing_enabled():
        return _NO_SPAN
    attributes: dict[str, str] = {IO_OPERATION: operation}
    if path is not None:
        attributes[IO_PATH] = os.fspath(path)
    return traced(f"io.{operation}", attributes, scope=INSTRUMENTATION)


def report(
    operation: str,
    error: BaseException,
    path: str | os.PathLike[str] | None,
    context: Mapping[str, Any] | None = None,
) -> None:
    """Store an error report for a failed operation (seen by ``get_error_reports``)."""
    record_error(operation, error, path=path, context=context)
