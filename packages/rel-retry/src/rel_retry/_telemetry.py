"""Spans and metrics of retried calls; nothing at all on a first-time success."""

from __future__ import annotations

import time
from typing import Any

from rel_retry._version import __version__
from rel_telemetry import (
    Instrumentation,
    Span,
    error_type,
    record_failure,
    set_error_status,
    start_span,
    tracing_enabled,
    use_span,
)
from rel_telemetry.attributes import (
    CODE_FUNCTION,
    ERROR_TYPE,
    RETRY_ATTEMPT,
    RETRY_ATTEMPTS,
    RETRY_OUTCOME,
    RETRY_STOP_REASON,
    RETRY_WAIT,
)

INSTRUMENTATION = Instrumentation("rel_retry", __version__)
ATTEMPTS_COUNTER = INSTRUMENTATION.counter(
    "rel.retry.attempts", unit="{attempt}", description="Attempts made under a retry policy, by outcome."
)
ATTEMPT_FAILED_EVENT = "rel.retry.attempt_failed"


def count_attempt(name: str, outcome: str) -> None:
    """Add one attempt with ``outcome`` ("success" or "failure") to the counter."""
    ATTEMPTS_COUNTER.add(1, {CODE_FUNCTION: name, RETRY_OUTCOME: outcome})


class CallSpan:
    """The span of one call that needed a retry: opened late, back-dated to the first attempt."""

    __slots__ = ("_current", "_span")

    def __init__(self) -> None:
        self._span: Span | None = None
        self._current: use_span | None = None

    def open(self, name: str, started_monotonic: float) -> None:
        """Start the span, back-dated to ``started_monotonic``, if anyone is tracing."""
        if self._span is not None or not tracing_enabled():
            return
        start_ns = time.time_ns() - int((time.monotonic() - started_monotonic) * 1e9)
        self._span = start_span(INSTRUMENTATION, f"retry {name}", {CODE_FUNCTION: name}, start_time=start_ns)
        # Later attempts run inside the span, so their own spans become its children.
        # The failure is recorded by finish(), which knows the outcome.
        self._current = use_span(self._span, record_exception=False)
        self._current.__enter__()

    def attempt_failed(self, number: int, exc: BaseException, wait: float | None) -> None:
        span = self._span
        if span is None:
            return
        attributes: dict[str, Any] = {RETRY_ATTEMPT: number, ERROR_TYPE: error_type(exc)}
        if wait is not None:
            attributes[RETRY_WAIT] = wait
        span.add_event(ATTEMPT_FAILED_EVENT, attributes)

    def result_rejected(self, number: int, wait: float | None) -> None:
        span = self._span
        if span is None:
            return
        attributes: dict[str, Any] = {RETRY_ATTEMPT: number, ERROR_TYPE: "rejected_result"}
        if wait is not None:
            attributes[RETRY_WAIT] = wait
        span.add_event(ATTEMPT_FAILED_EVENT, attributes)

    def finish(
        self, attempts: int, outcome: str, *, exc: BaseException | None = None, stop_reason: str | None = None
    ) -> None:
        span = self._span
        if span is None:
            return
        self._span = None
        if self._current is not None:
            self._current.__exit__(None, None, None)
            self._current = None
        span.set_attribute(RETRY_ATTEMPTS, attempts)
        span.set_attribute(RETRY_OUTCOME, outcome)
        if stop_reason is not None:
            span.set_attribute(RETRY_STOP_REASON, stop_reason)
        if exc is not None:
            record_failure(span, exc)
        elif outcome != "success":
            set_error_status(span, stop_reason or outcome)
        span.end()
