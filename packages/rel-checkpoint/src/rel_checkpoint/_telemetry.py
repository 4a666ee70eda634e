"""The package's instrumentation scope and the span helper every operation uses."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from rel_checkpoint._version import __version__
from rel_telemetry import Instrumentation, Span, record_error, traced
from rel_telemetry.attributes import CHECKPOINT_PATH

INSTRUMENTATION = Instrumentation("rel_checkpoint", __version__)
log = logging.getLogger("rel_checkpoint")


@contextmanager
def checkpoint_span(name: str, path: str | os.PathLike[str] | None = None) -> Iterator[Span]:
    """A span called ``name`` (free while tracing is off) that records a failure on exit."""
    attributes = None if path is None else {CHECKPOINT_PATH: os.fspath(path)}
    with traced(name, attributes, scope=INSTRUMENTATION) as span:
        yield span


def report(
    operation: str, error: BaseException, path: str | os.PathLike[str] | None, **context: object
) -> None:
    """Store an error report (never raises)."""
    record_error(operation, error, path=path, context=context or None)
