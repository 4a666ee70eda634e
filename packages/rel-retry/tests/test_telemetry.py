from __future__ import annotations

import asyncio
import time

import pytest
from opentelemetry.trace import StatusCode
from retry_helpers import Failing, Flaky, invoke

from rel_retry import RetryConfig, async_retry_with_backoff
from rel_telemetry import traced
from rel_telemetry.attributes import (
    ERROR_TYPE,
    RETRY_ATTEMPT,
    RETRY_ATTEMPTS,
    RETRY_OUTCOME,
    RETRY_STOP_REASON,
    RETRY_WAIT,
)
from rel_telemetry.testing import capture_metrics, capture_spans

FAST = RetryConfig(base_delay_seconds=0.001, max_delay_seconds=0.01)


def test_first_time_success_creates_no_span(mode: str) -> None:
    """A call that succeeds first time leaves no span behind."""
    with capture_spans() as spans:
        assert invoke(mode, Flaky(result=1), FAST) == 1
    assert spans.names() == []


def test_retried_call_has_one_span_from_the_first_attempt(mode: str) -> None:
    """One span covers the whole call, starts at the first attempt and has an event per failure."""
    first_call_ns: list[int] = []
    inner = Flaky(ConnectionError("a"), TimeoutError("b"), result="ok")

    def fn() -> str:
        first_call_ns.append(time.time_ns())
        return inner()

    fn.__qualname__ = "fetch"
    with capture_spans() as spans:
        assert invoke(mode, fn, FAST) == "ok"
    span = spans.one("retry fetch")
    assert span.start_time is not None
    assert span.start_time <= first_call_ns[0] + 2_000_000  # clock conversion slack
    assert span.attributes[RETRY_ATTEMPTS] == 3
    assert span.attributes[RETRY_OUTCOME] == "success"
    assert span.status.status_code != StatusCode.ERROR
    events = [e for e in span.events if e.name == "rel.retry.attempt_failed"]
    assert [e.attributes[RETRY_ATTEMPT] for e in events] == [1, 2]
    assert [e.attributes[ERROR_TYPE] for e in events] == ["ConnectionError", "TimeoutError"]
    assert all(e.attributes[RETRY_WAIT] >= 0 for e in events)


def test_final_failure_marks_the_span(mode: str) -> None:
    """An exhausted call's span has ERROR status, error.type and the stop reason."""
    fn = Failing(lambda: ConnectionError("down"))
    fn.__qualname__ = "down"  # type: ignore[attr-defined]
    with capture_spans() as spans, pytest.raises(ConnectionError):
        invoke(mode, fn, FAST, max_retries=1)
    span = spans.one("retry down")
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes[ERROR_TYPE] == "ConnectionError"
    assert span.attributes[RETRY_STOP_REASON] == "max_retries"
    assert span.attributes[RETRY_ATTEMPTS] == 2
    assert len([e for e in span.events if e.name == "rel.retry.attempt_failed"]) == 2


def test_later_attempts_are_children_of_the_retry_span() -> None:
    """Spans made by the second attempt nest under the retry span."""
    fn = Flaky(ConnectionError("a"), result=1)

    def work() -> int:
        with traced("attempt work"):
            return fn()

    work.__qualname__ = "work"
    with capture_spans() as spans:
        invoke("call", work, FAST)
    retry_span = spans.one("retry work")
    children = spans.children_of(retry_span)
    assert [s.name for s in children] == ["attempt work"]


async def test_cancelled_wait_closes_the_span_as_cancelled() -> None:
    """Cancelling during a backoff wait ends the span with rel.cancelled, not an error."""
    fn = Failing(lambda: ConnectionError("down"))

    async def coro() -> None:
        fn()

    with capture_spans() as spans:
        task = asyncio.create_task(
            async_retry_with_backoff(
                coro, RetryConfig(base_delay_seconds=30, max_delay_seconds=30, jitter="none")
            )
        )
        while fn.calls == 0:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    (span,) = spans.spans
    assert span.attributes[RETRY_OUTCOME] == "cancelled"
    assert span.attributes["rel.cancelled"] is True


def test_attempt_counter_by_outcome(mode: str) -> None:
    """rel.retry.attempts counts every attempt, first-time successes included, by outcome."""
    with capture_metrics() as metrics:
        invoke(mode, Flaky(result=1), FAST)
        invoke(mode, Flaky(ConnectionError("a"), ConnectionError("b"), result=1), FAST)
    assert metrics.value("rel.retry.attempts", **{RETRY_OUTCOME: "success"}) == 2
    assert metrics.value("rel.retry.attempts", **{RETRY_OUTCOME: "failure"}) == 2


def test_interrupted_sync_wait_closes_the_span(sigint_raises: None) -> None:
    """SIGINT during a backoff sleep ends the span as cancelled, with the attempts made."""
    import signal
    import threading

    fn = Failing(lambda: ConnectionError("down"))
    fn.__qualname__ = "slow"  # type: ignore[attr-defined]
    timer = threading.Timer(0.2, signal.pthread_kill, args=(threading.main_thread().ident, signal.SIGINT))
    with capture_spans() as spans:
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                invoke("call", fn, RetryConfig(base_delay_seconds=30, max_delay_seconds=30, jitter="none"))
        finally:
            timer.cancel()
    span = spans.one("retry slow")
    assert span.attributes[RETRY_OUTCOME] == "cancelled"
    assert span.attributes[RETRY_ATTEMPTS] == 1


def test_constructing_a_retry_context_opens_no_span() -> None:
    """A RetryContext built by hand records no span; only the retry loop opens one."""
    from rel_retry import RetryContext

    with capture_spans() as spans:
        RetryContext(FAST, "manual")
    assert spans.names() == []


def test_leaving_a_retry_block_early_closes_its_span() -> None:
    """Breaking out of a retry_context loop while retrying ends the span as cancelled."""
    from rel_retry import retry_context

    fn = Flaky(ConnectionError("a"), ConnectionError("b"), result=1)
    with capture_spans() as spans:
        block = retry_context(FAST, name="left").__iter__()
        for attempt in block:
            if attempt.number == 2:
                break
            with attempt:
                fn()
        block.close()  # type: ignore[attr-defined]
    assert spans.names() == ["retry left"]
    assert spans.one("retry left").attributes[RETRY_OUTCOME] == "cancelled"


def test_a_handled_retry_leaves_the_outer_span_unfailed(mode: str) -> None:
    """Failures the policy retried away mark neither the retry span nor the caller's span as failed."""
    fn = Flaky(ConnectionError("a"), result=1)
    fn.__qualname__ = "healed"  # type: ignore[attr-defined]
    with capture_spans() as spans, traced("caller"):
        assert invoke(mode, fn, FAST) == 1
    caller = spans.one("caller")
    assert caller.status.status_code is StatusCode.UNSET
    assert spans.one("retry healed").status.status_code is StatusCode.UNSET
    assert spans.children_of(caller) == [spans.one("retry healed")]
