from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from retry_helpers import Failing, Flaky, invoke
from tenacity import stop_after_attempt, wait_fixed

from rel_retry import (
    RetryConfig,
    RetryError,
    async_retry_with_backoff,
    retry_with_backoff,
    testing,
    with_retry,
)
from rel_telemetry import deadline_scope

FAST = RetryConfig(base_delay_seconds=0.001, max_delay_seconds=0.01)


def test_no_error_no_retry(mode: str) -> None:
    """A first-time success returns the value after exactly one call."""
    fn = Flaky(result=42)
    assert invoke(mode, fn, FAST) == 42
    assert fn.calls == 1


def test_transient_failures_are_retried(mode: str) -> None:
    """Transient errors are retried until a call succeeds."""
    fn = Flaky(ConnectionError("a"), TimeoutError("b"), result="done")
    assert invoke(mode, fn, FAST) == "done"
    assert fn.calls == 3


def test_exhaustion_reraises_the_original_with_a_note(mode: str) -> None:
    """After max_retries the last exception itself propagates, with a note of attempts, time and reason."""
    errors = [ConnectionError(f"attempt {i}") for i in range(1, 4)]
    fn = Flaky(*errors)
    with pytest.raises(ConnectionError) as info:
        invoke(mode, fn, FAST, max_retries=2)
    assert info.value is errors[-1]
    assert fn.calls == 3
    (note,) = info.value.__notes__
    assert "after 3 attempt(s)" in note
    assert "max_retries=2 reached" in note
    assert "s; stopped" in note


def test_exhaustion_keeps_the_exception_unchained(mode: str) -> None:
    """The re-raised exception carries no retry-made __context__ or __cause__."""
    fn = Failing(lambda: ConnectionError("down"))
    with pytest.raises(ConnectionError) as info:
        invoke(mode, fn, FAST, max_retries=2)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


def test_permanent_failure_fails_fast(mode: str) -> None:
    """A permanent error (ValueError) is raised after one call, with a note saying why."""
    fn = Failing(lambda: ValueError("bad input"))
    with pytest.raises(ValueError, match="bad input") as info:
        invoke(mode, fn, FAST)
    assert fn.calls == 1
    assert "permanent failure" in info.value.__notes__[0]


def test_retryable_exceptions_decide_alone(mode: str) -> None:
    """With retryable_exceptions, exactly those are retried, even a ValueError."""
    fn = Flaky(ValueError("x"), result=1)
    assert invoke(mode, fn, FAST, retryable_exceptions=(ValueError,)) == 1
    other = Failing(lambda: ConnectionError("x"))
    with pytest.raises(ConnectionError) as info:
        invoke(mode, other, FAST, retryable_exceptions=(ValueError,))
    assert other.calls == 1
    assert "not one of retryable_exceptions" in info.value.__notes__[0]


def test_retry_on_predicate_takes_precedence(mode: str) -> None:
    """retry_on decides over both retryable_exceptions and classification."""
    fn = Flaky(ValueError("retry me"), result=2)
    config = RetryConfig(
        base_delay_seconds=0.001,
        max_delay_seconds=0.01,
        retryable_exceptions=(KeyError,),
        retry_on=lambda e: "retry me" in str(e),
    )
    assert invoke(mode, fn, config) == 2
    refused = Failing(lambda: ConnectionError("no"))
    with pytest.raises(ConnectionError):
        invoke(mode, refused, config)
    assert refused.calls == 1


def test_unknown_errors_can_be_switched_off(mode: str) -> None:
    """retry_unknown=False fails fast on unclassified errors."""
    fn = Failing(lambda: RuntimeError("odd"))
    with pytest.raises(RuntimeError) as info:
        invoke(mode, fn, FAST, retry_unknown=False)
    assert fn.calls == 1
    assert "retry_unknown=False" in info.value.__notes__[0]
    again = Flaky(RuntimeError("odd"), result=3)
    assert invoke(mode, again, FAST) == 3


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit, GeneratorExit, asyncio.CancelledError])
def test_interrupts_are_never_retried(mode: str, interrupt: type[BaseException]) -> None:
    """KeyboardInterrupt, SystemExit, GeneratorExit and CancelledError propagate after one call."""
    fn = Flaky(interrupt(), result=1)
    with pytest.raises(interrupt):
        invoke(mode, fn, FAST, retryable_exceptions=(BaseException,))
    assert fn.calls == 1


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, asyncio.CancelledError])
def test_interrupt_after_a_failure_stops_the_loop(mode: str, interrupt: type[BaseException]) -> None:
    """An interrupt on a later attempt propagates at once, unretried."""
    fn = Flaky(ConnectionError("a"), interrupt(), result=1)
    with pytest.raises(interrupt):
        invoke(mode, fn, FAST)
    assert fn.calls == 2


def test_timeout_stops_before_a_wait_that_would_pass_it(mode: str) -> None:
    """No wait is started that would end past the total timeout."""
    # Waits 0.1 s; the next would be 1 s, ending past the 1 s timeout, so the call stops at ~0.1 s.
    config = RetryConfig(
        base_delay_seconds=0.1,
        multiplier=10,
        max_delay_seconds=10,
        jitter="none",
        timeout=1.0,
        max_retries=10,
    )
    fn = Failing(lambda: ConnectionError("down"))
    start = time.monotonic()
    with pytest.raises(ConnectionError) as info:
        invoke(mode, fn, config)
    elapsed = time.monotonic() - start
    assert fn.calls == 2
    assert elapsed < 1.0
    assert "timeout=1.0s" in info.value.__notes__[0]


def test_ambient_deadline_is_honoured(mode: str) -> None:
    """Retries never sleep past the deadline set by rel_telemetry.deadline_scope."""
    config = RetryConfig(
        base_delay_seconds=0.1, multiplier=10, max_delay_seconds=10, jitter="none", max_retries=10
    )
    fn = Failing(lambda: ConnectionError("down"))
    start = time.monotonic()
    with deadline_scope(1.0), pytest.raises(ConnectionError) as info:
        invoke(mode, fn, config)
    assert time.monotonic() - start < 1.0
    assert fn.calls == 2
    assert "ambient deadline" in info.value.__notes__[0]


def test_expired_deadline_allows_no_retry(mode: str) -> None:
    """With the deadline already passed, the first failure is final."""
    fn = Failing(lambda: ConnectionError("down"))
    with deadline_scope(0.0), pytest.raises(ConnectionError):
        invoke(mode, fn, RetryConfig(jitter="none", base_delay_seconds=0.0))
    assert fn.calls == 1


class Throttled(Exception):
    def __init__(self, retry_after: Any) -> None:
        super().__init__("throttled")
        self.retry_after = retry_after


class _Response:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers
        self.status_code = 429


class HeaderThrottled(Exception):
    def __init__(self, value: str) -> None:
        super().__init__("429")
        self.response = _Response({"Retry-After": value})


@pytest.mark.parametrize(
    "make_error",
    [
        lambda: Throttled(0.3),
        lambda: Throttled(dt.timedelta(seconds=0.3)),
        lambda: Throttled(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.5)),
        lambda: HeaderThrottled("1"),
    ],
    ids=["seconds", "timedelta", "datetime", "header"],
)
def test_retry_after_hint_sets_the_wait(mode: str, make_error: Any) -> None:
    """A retry_after hint replaces the backoff delay for the next wait."""
    fn = Flaky(make_error(), result="ok")
    config = RetryConfig(base_delay_seconds=0.0, max_delay_seconds=5.0, retryable_exceptions=(Exception,))
    start = time.monotonic()
    assert invoke(mode, fn, config) == "ok"
    assert time.monotonic() - start >= 0.15


def test_retry_after_hint_is_capped_by_max_delay(mode: str) -> None:
    """A hint longer than max_delay_seconds waits only the max."""
    fn = Flaky(Throttled(3600), result="ok")
    start = time.monotonic()
    assert invoke(mode, fn, RetryConfig(max_delay_seconds=0.05, base_delay_seconds=0.0)) == "ok"
    assert time.monotonic() - start < 2.0


def test_retry_after_hint_respects_the_timeout(mode: str) -> None:
    """A hint that would pass the timeout ends the call instead of sleeping."""
    fn = Failing(lambda: Throttled(30))
    start = time.monotonic()
    with pytest.raises(Throttled) as info:
        invoke(mode, fn, RetryConfig(max_delay_seconds=60, timeout=0.5, retryable_exceptions=(Throttled,)))
    assert time.monotonic() - start < 2.0
    assert "timeout" in info.value.__notes__[0]


def test_result_predicate_retries_then_accepts(mode: str) -> None:
    """retry_on_result retries rejected values until one passes."""
    values = iter([None, None, 7])
    assert invoke(mode, lambda: next(values), FAST, retry_on_result=lambda v: v is None) == 7


def test_result_predicate_that_never_passes_raises_retry_error(mode: str) -> None:
    """Rejected to the end: RetryError carries the last result and the attempts."""
    counter = iter(range(100))
    with pytest.raises(RetryError) as info:
        invoke(mode, lambda: next(counter), FAST, max_retries=2, retry_on_result=lambda v: True)
    assert info.value.last_result == 2
    assert info.value.attempts == 3


def test_tenacity_wait_and_stop_plug_in(mode: str) -> None:
    """tenacity wait and stop strategies replace the built-in backoff and attempt limit."""
    fn = Failing(lambda: ConnectionError("x"))
    config = RetryConfig(max_retries=50, wait=wait_fixed(0.001), stop=stop_after_attempt(4))
    with pytest.raises(ConnectionError) as info:
        invoke(mode, fn, config)
    assert fn.calls == 4
    assert "stop condition" in info.value.__notes__[0]


def test_decorated_function_keeps_its_signature_and_arguments() -> None:
    """Decorators pass arguments through and keep the function's name and doc."""

    @retry_with_backoff(RetryConfig(base_delay_seconds=0.0))
    def add(a: int, b: int = 1) -> int:
        """Add."""
        return a + b

    assert add(2, b=3) == 5
    assert (add.__name__, add.__doc__) == ("add", "Add.")


def test_bare_decorator_on_sync_and_async() -> None:
    """@retry_with_backoff with no parentheses works on functions and coroutine functions."""
    fn = Flaky(ConnectionError("x"), result=5)

    @retry_with_backoff
    def plain() -> int:
        return fn()

    @retry_with_backoff
    async def coro() -> int:
        return 6

    with testing():
        assert plain() == 5
    assert asyncio.run(coro()) == 6


def test_direct_call_of_a_coroutine_function_returns_an_awaitable() -> None:
    """retry_with_backoff(async_fn, config) gives a coroutine to await."""
    fn = Flaky(ConnectionError("x"), result=9)

    async def coro() -> int:
        return fn()

    assert asyncio.run(retry_with_backoff(coro, FAST)) == 9


async def test_async_wait_is_cancelled_at_once() -> None:
    """Cancelling a task in a long backoff wait ends it immediately."""
    fn = Failing(lambda: ConnectionError("down"))

    async def coro() -> None:
        fn()

    task = asyncio.create_task(
        async_retry_with_backoff(
            coro, RetryConfig(base_delay_seconds=30, max_delay_seconds=30, jitter="none")
        )
    )
    while fn.calls == 0:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    start = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=5)
    assert time.monotonic() - start < 1.0
    assert fn.calls == 1


async def test_async_wait_does_not_block_the_loop() -> None:
    """While one call backs off, other tasks keep running."""
    fn = Flaky(ConnectionError("x"), result=1)

    async def coro() -> int:
        return fn()

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    tick_task = asyncio.create_task(ticker())
    config = RetryConfig(base_delay_seconds=0.3, max_delay_seconds=0.3, jitter="none")
    assert await async_retry_with_backoff(coro, config) == 1
    tick_task.cancel()
    assert ticks >= 5


def test_async_retry_decorator_form() -> None:
    """async_retry_with_backoff(config) decorates coroutine functions."""
    fn = Flaky(TimeoutError("x"), result="y")

    @async_retry_with_backoff(FAST)
    async def coro() -> str:
        return fn()

    assert asyncio.run(coro()) == "y"


def test_with_retry_bare_and_async() -> None:
    """@with_retry works bare and on coroutine functions."""
    fn = Flaky(ConnectionError("x"), result=1)

    @with_retry
    def plain() -> int:
        return fn()

    @with_retry(max_retries=1, retry_delay=0.001)
    async def coro() -> int:
        return 2

    with testing():
        assert plain() == 1
    assert asyncio.run(coro()) == 2


def test_non_callable_is_a_type_error() -> None:
    """retry_with_backoff rejects what it can neither call nor use as a config."""
    with pytest.raises(TypeError, match="callable"):
        retry_with_backoff(42)  # type: ignore[call-overload]


def test_direct_call_of_a_lambda_making_coroutines_retries_the_awaits() -> None:
    """retry_with_backoff(lambda: coro(), config) awaits and retries, never leaks an unawaited coroutine."""
    fn = Flaky(ConnectionError("x"), result=4)

    async def fetch() -> int:
        return fn()

    assert asyncio.run(retry_with_backoff(lambda: fetch(), FAST)) == 4  # noqa: PLW0108 - the lambda is the point
    assert fn.calls == 2


def test_retry_error_pickles() -> None:
    """RetryError crosses process boundaries with its fields."""
    import pickle

    error = RetryError("op", 3, {"state": "pending"}, "max_retries=2 reached")
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.name, clone.attempts, clone.last_result, clone.reason) == (
        "op",
        3,
        {"state": "pending"},
        "max_retries=2 reached",
    )
    assert str(clone) == str(error)


def test_keyboard_interrupt_during_a_sync_wait_propagates(sigint_raises: None) -> None:
    """An interrupt while sleeping between attempts ends the call at once."""
    import signal
    import threading

    fn = Failing(lambda: ConnectionError("down"))
    timer = threading.Timer(0.2, signal.pthread_kill, args=(threading.main_thread().ident, signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            retry_with_backoff(fn, RetryConfig(base_delay_seconds=30, max_delay_seconds=30, jitter="none"))
    finally:
        timer.cancel()
    assert time.monotonic() - start < 10
    assert fn.calls == 1


def test_config_by_keyword_works_with_partial() -> None:
    """config= may be given by keyword, so functools.partial(async_retry_with_backoff, config=cfg) works."""
    import functools

    fn = Flaky(ConnectionError("x"), result=8)

    async def spawn() -> int:
        return fn()

    policy = functools.partial(async_retry_with_backoff, config=FAST)
    assert asyncio.run(policy(spawn)) == 8
    assert retry_with_backoff(Flaky(TimeoutError("y"), result=9), config=FAST) == 9

    @retry_with_backoff(config=FAST)
    def decorated() -> int:
        return 10

    assert decorated() == 10


@settings(max_examples=60, deadline=None)
@given(failures=st.integers(min_value=0, max_value=8), max_retries=st.integers(min_value=0, max_value=6))
def test_attempt_count_property(failures: int, max_retries: int) -> None:
    """k transient failures under max_retries=m: min(k, m) + 1 calls, success exactly when k <= m."""
    fn = Flaky(*[ConnectionError(str(i)) for i in range(failures)], result="ok")
    with testing():
        if failures <= max_retries:
            assert retry_with_backoff(fn, RetryConfig(max_retries=max_retries)) == "ok"
        else:
            with pytest.raises(ConnectionError) as info:
                retry_with_backoff(fn, RetryConfig(max_retries=max_retries))
            assert f"after {max_retries + 1} attempt(s)" in info.value.__notes__[0]
    assert fn.calls == min(failures, max_retries) + 1


class _MarkedPermanent(Exception):
    rel_retryable = False


def test_marked_error_fails_fast_with_a_note(mode: str) -> None:
    """An error marked rel_retryable=False is raised after one call, the note naming the marker."""
    fn = Failing(lambda: _MarkedPermanent("refused"))
    with pytest.raises(_MarkedPermanent) as info:
        invoke(mode, fn, FAST)
    assert fn.calls == 1
    assert "rel_retryable=False" in info.value.__notes__[0]


def test_retryable_exceptions_still_decide_over_the_marker(mode: str) -> None:
    """An explicit retryable_exceptions list is obeyed even for a marked error."""
    fn = Flaky(_MarkedPermanent("refused"), result=4)
    assert invoke(mode, fn, FAST, retryable_exceptions=(_MarkedPermanent,)) == 4
    assert fn.calls == 2
