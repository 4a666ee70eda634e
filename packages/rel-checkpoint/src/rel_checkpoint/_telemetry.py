"""The package's instrumentation scope and the span helper every operation uses."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.trace import INVALID_SPAN, Span, use_span

from rel_checkpoint._version import __version__
from rel_telemetry import Instrumentation, record_error, record_failure, start_span, tracing_enabled
from rel_telemetry.attributes import CHECKPOINT_PATH

INSTRUMENTATION = Instrumentation("rel_checkpoint", __version__)
log = logging.getLogger("rel_checkpoint")


@contextmanager
def checkpoint_span(name: str, path: str | os.PathLike[str] | None = None) -> Iterator[Span]:
    """A span called ``name`` (free while tracing is off) that records a failure on exit."""
    if not tracing_enabled():
        yield INVALID_SPAN
        return
    attributes = {} if path is None else {CHECKPOINT_PATH: os.fspath(path)}
    span = start_span(INSTRUMENTATION, name, attributes)
    try:
        with use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
            yield span
    except BaseException as exc:
        record_failure(span, exc)
        raise
    finally:
        span.end()


def report(
    operation: str, error: BaseException, path: str | os.PathLike[str] | None, **context: object
) -> None:
    """Store an error report (never raises)."""
    record_error(operation, error, path=path, context=context or None)
