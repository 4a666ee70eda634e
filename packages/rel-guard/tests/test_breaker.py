"""Circuit breaker behaviour in every calling form."""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

import pytest
from conftest import ASYNC_FORMS, FORMS, SYNC_FORMS, FakeClock, boom, invoke

from rel_guard import (
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitBreakerOpenError,
    CircuitState,
    DeadlineExceededError,
    GuardError,
    StateChange,
)


def make(clock: FakeClock, **kwargs: Any) -> CircuitBreaker:
    kwargs.setdefault("recovery_timeout", 10)
    return CircuitBreaker(CircuitBreakerConfig(clock=clock, name="dep", **kwargs))


async def fail(
    breaker: CircuitBreaker, form: str, times: int, exc: type[Exception] = ConnectionError
) -> None:
    for _ in range(times):
        with pytest.raises(exc):
            await invoke(breaker, form, boom(exc("down")))


@pytest.mark.parametrize("form", FORMS)
async def test_consecutive_failures_open_the_breaker(form: str, clock: FakeClock) -> None:
    """failure_threshold consecutive failures open it; the next call is refused without running."""
    breaker = make(clock, failure_threshold=3)
    await fail(breaker, form, 2)
    assert breaker.state is CircuitState.CLOSED
    await fail(breaker, form, 1)
    assert breaker.state is CircuitState.OPEN
    ran = []
    with pytest.raises(CircuitBreakerOpenError) as refused:
        await invoke(breaker, form, lambda: ran.append(1))
    assert ran == []
    assert refused.value.name == "dep"
    assert refused.value.retry_after == pytest.approx(10)
    assert isinstance(refused.value.__cause__, ConnectionError)


@pytest.mark.parametrize("form", FORMS)
async def test_a_success_resets_the_consecutive_count(form: str, clock: FakeClock) -> None:
    """Failures separated by a success never reach the threshold."""
    breaker = make(clock, failure_threshold=2)
    for _ in range(5):
        await fail(breaker, form, 1)
        assert await invoke(breaker, form, lambda: "ok") == "ok"
    assert breaker.state is CircuitState.CLOSED
    assert breaker.stats().failures == 5
    assert breaker.stats().successes == 5


@pytest.mark.parametrize("form", FORMS)
async def test_half_open_probe_closes_after_success_threshold(form: str, clock: FakeClock) -> None:
    """After recovery_timeout probes are let through; success_threshold successes close it."""
    breaker = make(clock, failure_threshold=1, success_threshold=2)
    await fail(breaker, form, 1)
    clock.advance(9.9)
    with pytest.raises(CircuitBreakerOpenError):
        await invoke(breaker, form, lambda: None)
    clock.advance(0.2)
    assert await invoke(breaker, form, lambda: 1) == 1
    assert breaker.state is CircuitState.HALF_OPEN
    assert await invoke(breaker, form, lambda: 2) == 2
    assert breaker.state is CircuitState.CLOSED


@pytest.mark.parametrize("form", FORMS)
async def test_a_failed_probe_reopens(form: str, clock: FakeClock) -> None:
    """One failing probe sends the breaker back to OPEN for a full recovery_timeout."""
    breaker = make(clock, failure_threshold=1, success_threshold=3)
    await fail(breaker, form, 1)
    clock.advance(10)
    await invoke(breaker, form, lambda: None)
    await fail(breaker, form, 1)
    assert breaker.state is CircuitState.OPEN
    assert breaker.stats().retry_after == pytest.approx(10)


@pytest.mark.parametrize("form", FORMS)
async def test_unexpected_and_excluded_exceptions(form: str, clock: FakeClock) -> None:
    """Unexpected exceptions count as successes, excluded ones as neither; both propagate."""
    breaker = make(
        clock, failure_threshold=2, expected_exception=OSError, excluded_exceptions=(FileNotFoundError,)
    )
    await fail(breaker, form, 1, ConnectionError)
    await fail(breaker, form, 3, FileNotFoundError)
    assert breaker.stats().consecutive_failures == 1
    assert breaker.stats().ignored == 3
    await fail(breaker, form, 1, ValueError)
    assert breaker.stats().consecutive_failures == 0
    assert breaker.stats().successes == 1
    assert breaker.state is CircuitState.CLOSED


@pytest.mark.parametrize("form", FORMS)
async def test_expected_exception_predicate(form: str, clock: FakeClock) -> None:
    """A predicate decides which exceptions are failures."""
    breaker = make(clock, failure_threshold=1, expected_exception=lambda e: "fatal" in str(e))
    with pytest.raises(RuntimeError):
        await invoke(breaker, form, boom(RuntimeError("benign")))
    assert breaker.state is CircuitState.CLOSED
    with pytest.raises(RuntimeError):
        await invoke(breaker, form, boom(RuntimeError("fatal")))
    assert breaker.state is CircuitState.OPEN


@pytest.mark.parametrize("form", ["decorator", "call", "async-decorator", "async-call"])
async def test_result_predicate_counts_a_returned_value_as_failure(form: str, clock: FakeClock) -> None:
    """A 503-like response is returned unchanged but counted as a failure."""
    breaker = make(clock, failure_threshold=2, result_is_failure=lambda r: r["status"] >= 500)
    response = {"status": 503}
    assert await invoke(breaker, form, lambda: response) is response
    assert await invoke(breaker, form, lambda: response) is response
    assert breaker.state is CircuitState.OPEN
    assert breaker.stats().failures == 2


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("exc", [KeyboardInterrupt(), GeneratorExit(), SystemExit(3)])
async def test_base_exceptions_release_the_permit_without_counting(
    form: str, exc: BaseException, clock: FakeClock
) -> None:
    """KeyboardInterrupt, GeneratorExit and SystemExit free a half-open probe slot and count nothing."""
    breaker = make(clock, failure_threshold=1)
    await fail(breaker, form, 1)
    clock.advance(10)
    with pytest.raises(type(exc)):
        await invoke(breaker, form, boom(exc))
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.stats().half_open_calls == 0
    assert await invoke(breaker, form, lambda: "probe") == "probe"
    assert breaker.state is CircuitState.CLOSED


@pytest.mark.parametrize("form", ["async-decorator", "async-call", "async-with"])
async def test_cancellation_is_not_a_failure(form: str, clock: FakeClock) -> None:
    """A cancelled probe releases its slot; the breaker neither opens nor closes."""
    breaker = make(clock, failure_threshold=1)
    await fail(breaker, form, 1)
    clock.advance(10)
    started = asyncio.Event()

    async def hang() -> None:
        started.set()
        await asyncio.sleep(30)

    if form == "async-with":

        async def run() -> None:
            async with breaker:
                await hang()
    elif form == "async-call":

        async def run() -> None:
            await breaker.call(hang)
    else:
        run = breaker(hang)
    task = asyncio.create_task(run())
    await asyncio.wait_for(started.wait(), 5)
    assert breaker.stats().half_open_calls == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stats = breaker.stats()
    assert (stats.state, stats.half_open_calls, stats.ignored) == (CircuitState.HALF_OPEN, 0, 1)


@pytest.mark.parametrize("form", ASYNC_FORMS)
async def test_per_call_timeout_cancels_and_counts_a_failure(form: str) -> None:
    """An async call over `timeout` is cancelled, raises DeadlineExceededError and counts as a failure."""
    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=1, timeout=0.05, recovery_timeout=60))

    async def slow() -> None:
        await asyncio.sleep(30)

    async def run() -> None:
        if form == "async-with":
            async with breaker:
                await slow()
        elif form == "async-call":
            await breaker.call(slow)
        else:
            await breaker(slow)()

    with pytest.raises(DeadlineExceededError) as expired:
        await run()
    assert isinstance(expired.value, TimeoutError)
    assert breaker.state is CircuitState.OPEN


@pytest.mark.parametrize("form", SYNC_FORMS)
def test_sync_timeout_reports_an_overrun(form: str) -> None:
    """A sync call that overruns `timeout` is not interrupted but raises and counts as a failure."""
    import time

    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=1, timeout=0.02, recovery_timeout=60))
    finished = []

    def slow() -> str:
        time.sleep(0.05)
        finished.append(1)
        return "late"

    def run() -> None:
        if form == "with":
            with breaker:
                slow()
        elif form == "call":
            breaker.call(slow)
        else:
            breaker(slow)()

    with pytest.raises(DeadlineExceededError):
        run()
    assert finished == [1]
    assert breaker.state is CircuitState.OPEN


@pytest.mark.parametrize("form", ["decorator", "call", "async-decorator", "async-call"])
async def test_fallback_runs_with_the_call_arguments_when_refused(form: str, clock: FakeClock) -> None:
    """The fallback replaces a refused call and gets its arguments."""
    seen = []

    def fallback(*args: Any, **kwargs: Any) -> str:
        seen.append((args, kwargs))
        return "fallback"

    breaker = make(clock, failure_threshold=1, fallback_function=fallback)
    breaker.force_open()

    def target(x: int, *, y: int) -> str:
        return "live"

    async def atarget(x: int, *, y: int) -> str:
        return "live"

    if form == "decorator":
        result = breaker(target)(1, y=2)
    elif form == "call":
        result = breaker.call(target, 1, y=2)
    elif form == "async-decorator":
        result = await breaker(atarget)(1, y=2)
    else:
        result = await breaker.call(atarget, 1, y=2)
    assert result == "fallback"
    assert seen == [((1,), {"y": 2})]
    assert breaker.stats().rejected == 1


async def test_async_fallback_is_awaited(clock: FakeClock) -> None:
    """A coroutine fallback of an async function is awaited."""

    async def fallback() -> str:
        return "cached"

    breaker = make(clock, failure_threshold=1, fallback_function=fallback)
    breaker.force_open()

    @breaker
    async def fetch() -> str:
        return "live"

    assert await fetch() == "cached"


@pytest.mark.parametrize("form", FORMS)
async def test_rejections_are_fresh_errors_with_a_stable_cause(form: str, clock: FakeClock) -> None:
    """Each refusal raises a new exception object; the traceback never accumulates."""
    breaker = make(clock, failure_threshold=1)
    with pytest.raises(ConnectionError):
        breaker.call(boom(ConnectionError("down")))
    errors = []
    for _ in range(50):
        try:
            await invoke(breaker, form, lambda: None)
        except CircuitBreakerOpenError as exc:
            errors.append(exc)
    assert len({id(e) for e in errors}) == 50
    depth = [len(list(_frames(e.__traceback__))) for e in errors]
    assert max(depth) == min(depth)
    assert all(e.__cause__ is errors[0].__cause__ for e in errors)
    assert isinstance(errors[0].__cause__, ConnectionError)
    assert all(e.__suppress_context__ for e in errors)
    assert isinstance(errors[0], GuardError)
    assert breaker.stats().rejected == 50


@pytest.mark.parametrize("form", FORMS)
async def test_retry_after_counts_down_to_the_probe(form: str, clock: FakeClock) -> None:
    """retry_after is the time left until a probe is allowed, 0 while the probes are taken."""
    breaker = make(clock, failure_threshold=1, recovery_timeout=30)
    with pytest.raises(ConnectionError):
        breaker.call(boom(ConnectionError("down")))
    waits = []
    for _ in range(3):
        with pytest.raises(CircuitBreakerOpenError) as refused:
            await invoke(breaker, form, lambda: None)
        waits.append(refused.value.retry_after)
        clock.advance(10)
    assert waits == pytest.approx([30, 20, 10])
    breaker.__enter__()  # the one probe, held while others are refused
    try:
        with pytest.raises(CircuitBreakerOpenError) as refused:
            await invoke(breaker, form, lambda: None)
        assert (refused.value.state, refused.value.retry_after) == ("half_open", 0)
        assert breaker.stats().retry_after == 0
    finally:
        breaker.__exit__(None, None, None)
    assert breaker.state is CircuitState.CLOSED


@pytest.mark.parametrize("kind", ["with", "async-with"])
async def test_block_forms_raise_even_with_a_fallback(kind: str, clock: FakeClock) -> None:
    """A block cannot substitute a value: while open it raises, and the fallback is not called."""
    called = []
    breaker = make(clock, failure_threshold=1, fallback_function=lambda *a, **k: called.append(1))
    breaker.force_open()
    ran = []
    with pytest.raises(CircuitBreakerOpenError):
        await invoke(breaker, kind, lambda: ran.append(1))
    assert (ran, called) == ([], [])
    assert breaker(lambda: "live")() is None  # the decorator form does use the fallback
    assert called == [1]


def _frames(tb: Any) -> Any:
    while tb is not None:
        yield tb
        tb = tb.tb_next


def test_errors_pickle() -> None:
    """CircuitBreakerOpenError keeps its fields across pickling."""
    error = CircuitBreakerOpenError("dep", "open", 3.5)
    again = pickle.loads(pickle.dumps(error))
    assert (again.name, again.state, again.retry_after, str(again)) == ("dep", "open", 3.5, str(error))
    keywords = CircuitBreakerOpenError(name="dep", state="forced_open", retry_after=None)
    assert (keywords.name, keywords.retry_after) == ("dep", None)
    assert "until reset()" in str(keywords)
    keywords.retry_after = 2.0
    keywords.state = "open"
    keywords.name = "other"
    assert keywords.args == ("other", "open", 2.0)
    assert "'other' is open" in str(keywords)


def test_listeners_see_transitions_and_a_raising_listener_breaks_nothing(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Listeners get every StateChange in order; one that raises is logged and skipped."""
    seen: list[StateChange] = []

    def bad(change: StateChange) -> None:
        raise RuntimeError("listener bug")

    breaker = make(clock, failure_threshold=1, listeners=(bad,))
    breaker.add_listener(seen.append)
    with pytest.raises(ConnectionError):
        breaker.call(boom(ConnectionError()))
    clock.advance(10)
    assert breaker.call(lambda: "ok") == "ok"
    assert [(c.from_state, c.to_state) for c in seen] == [
        (CircuitState.CLOSED, CircuitState.OPEN),
        (CircuitState.OPEN, CircuitState.HALF_OPEN),
        (CircuitState.HALF_OPEN, CircuitState.CLOSED),
    ]
    assert seen[0].name == "dep"
    assert "consecutive" in seen[0].reason
    assert "listener bug" in caplog.text
    breaker.remove_listener(seen.append)
    breaker.force_open()
    assert len(seen) == 3


def test_listener_runs_outside_the_lock(clock: FakeClock) -> None:
    """A listener may call back into the breaker (stats, admin) without deadlocking."""
    observed = []

    def listener(change: StateChange) -> None:
        observed.append(breaker.stats().state)
        if change.to_state is CircuitState.OPEN:
            breaker.reset()

    breaker = make(clock, failure_threshold=1, listeners=(listener,))
    with pytest.raises(ConnectionError):
        breaker.call(boom(ConnectionError()))
    assert breaker.state is CircuitState.CLOSED
    assert observed[0] in (CircuitState.OPEN, CircuitState.CLOSED)


def test_admin_operations(clock: FakeClock) -> None:
    """force_open refuses everything, disable admits everything, reset closes and clears."""
    breaker = make(clock, failure_threshold=1)
    breaker.force_open()
    clock.advance(1000)
    with pytest.raises(CircuitBreakerOpenError) as refused:
        breaker.call(lambda: None)
    assert refused.value.retry_after is None
    breaker.disable()
    for _ in range(5):
        with pytest.raises(ConnectionError):
            breaker.call(boom(ConnectionError()))
    assert breaker.call(lambda: 1) == 1
    assert breaker.state is CircuitState.DISABLED
    breaker.reset()
    stats = breaker.stats()
    assert (stats.state, stats.failures, stats.successes, stats.rejected) == (CircuitState.CLOSED, 0, 0, 0)
    assert breaker.last_failure is None


def test_count_window_failure_rate(clock: FakeClock) -> None:
    """A failure rate at or over the threshold opens it once minimum_calls are in the window."""
    breaker = make(clock, failure_rate_threshold=0.5, sliding_window_size=10, minimum_calls=4)
    assert breaker.config.failure_threshold is None
    for outcome in ["ok", "fail", "ok"]:
        _outcome(breaker, outcome)
    assert breaker.state is CircuitState.CLOSED
    _outcome(breaker, "fail")
    assert breaker.state is CircuitState.OPEN


def test_count_window_forgets_old_calls(clock: FakeClock) -> None:
    """Only the last sliding_window_size calls count."""
    breaker = make(clock, failure_rate_threshold=0.5, sliding_window_size=4, minimum_calls=4)
    for outcome in ["fail", "ok", "ok", "ok", "ok", "fail"]:
        _outcome(breaker, outcome)
    assert breaker.stats().window_calls == 4
    assert breaker.stats().window_failures == 1
    assert breaker.state is CircuitState.CLOSED


@pytest.mark.parametrize("form", FORMS)
async def test_count_window_successes_push_out_old_failures(form: str, clock: FakeClock) -> None:
    """Once the window is full and clean, each success still evicts the oldest outcome."""
    breaker = make(clock, failure_rate_threshold=0.5, sliding_window_size=4, minimum_calls=4)
    for _ in range(6):
        assert await invoke(breaker, form, lambda: "ok") == "ok"
    await fail(breaker, form, 1)  # window: s s s f
    for _ in range(4):  # window: s s s s -- the failure has left it
        assert await invoke(breaker, form, lambda: "ok") == "ok"
    stats = breaker.stats()
    assert (stats.window_calls, stats.window_failures, stats.successes) == (4, 0, 10)
    await fail(breaker, form, 1)  # s s s f: 25 %
    assert breaker.state is CircuitState.CLOSED
    await fail(breaker, form, 1)  # s s f f: 50 %
    assert breaker.state is CircuitState.OPEN


def test_time_window_forgets_old_seconds(clock: FakeClock) -> None:
    """A time window holds the calls of the last sliding_window_size seconds."""
    breaker = make(
        clock, failure_rate_threshold=0.5, sliding_window_type="time", sliding_window_size=5, minimum_calls=3
    )
    _outcome(breaker, "fail")
    _outcome(breaker, "fail")
    clock.advance(6)
    _outcome(breaker, "ok")
    _outcome(breaker, "ok")
    assert breaker.stats().window_calls == 2
    _outcome(breaker, "fail")
    assert breaker.state is CircuitState.CLOSED
    _outcome(breaker, "fail")
    assert breaker.state is CircuitState.OPEN


def test_slow_call_rate_opens_the_breaker(clock: FakeClock) -> None:
    """Calls of slow_call_duration or more count toward slow_call_rate_threshold."""
    breaker = make(
        clock, slow_call_duration=1.0, slow_call_rate_threshold=0.5, sliding_window_size=4, minimum_calls=2
    )

    def slow() -> str:
        clock.advance(2)
        return "slow"

    assert breaker.call(lambda: "fast") == "fast"
    assert breaker.state is CircuitState.CLOSED
    assert breaker.call(slow) == "slow"
    assert breaker.state is CircuitState.OPEN


def test_a_slow_probe_reopens(clock: FakeClock) -> None:
    """In HALF_OPEN a slow successful probe counts as a failed one."""
    breaker = make(clock, failure_threshold=1, slow_call_duration=1.0, slow_call_rate_threshold=1.0)
    with pytest.raises(ConnectionError):
        breaker.call(boom(ConnectionError()))
    clock.advance(10)

    def slow() -> None:
        clock.advance(5)

    breaker.call(slow)
    assert breaker.state is CircuitState.OPEN


def _outcome(breaker: CircuitBreaker, outcome: str) -> None:
    if outcome == "ok":
        breaker.call(lambda: None)
    else:
        with pytest.raises(ConnectionError):
            breaker.call(boom(ConnectionError()))


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"failure_threshold": 0}, "failure_threshold"),
        ({"failure_threshold": -1}, "failure_threshold"),
        ({"failure_threshold": True}, "failure_threshold"),
        ({"success_threshold": 0}, "success_threshold"),
        ({"half_open_max_calls": 0}, "half_open_max_calls"),
        ({"recovery_timeout": -1}, "recovery_timeout"),
        ({"recovery_timeout": float("nan")}, "recovery_timeout"),
        ({"timeout": 0}, "timeout"),
        ({"failure_rate_threshold": 0}, "failure_rate_threshold"),
        ({"failure_rate_threshold": 1.5}, "failure_rate_threshold"),
        ({"slow_call_rate_threshold": 0.5}, "slow_call_duration"),
        ({"slow_call_duration": 0, "slow_call_rate_threshold": 0.5}, "slow_call_duration"),
        ({"sliding_window_type": "calls"}, "sliding_window_type"),
        ({"sliding_window_size": 0}, "sliding_window_size"),
        ({"minimum_calls": 0}, "minimum_calls"),
        ({"failure_rate_threshold": 0.5, "minimum_calls": 200}, "minimum_calls"),
        ({"expected_exception": "ConnectionError"}, "expected_exception"),
        ({"expected_exception": ()}, "expected_exception"),
        ({"excluded_exceptions": (int,)}, "excluded_exceptions"),
        ({"fallback_function": 3}, "fallback_function"),
        ({"result_is_failure": 3}, "result_is_failure"),
        ({"listeners": [3]}, "listeners"),
        ({"listeners": print}, "listeners"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_configuration_names_the_parameter(kwargs: dict[str, Any], parameter: str) -> None:
    """Bad values fail at construction with a ValueError naming the parameter."""
    with pytest.raises(ValueError, match=parameter):
        CircuitBreakerConfig(**kwargs)


def test_defaults() -> None:
    """The consecutive rule defaults to 5 failures; a lone rate rule turns it off."""
    assert CircuitBreakerConfig().failure_threshold == 5
    assert CircuitBreakerConfig(failure_rate_threshold=0.5).failure_threshold is None
    both = CircuitBreakerConfig(failure_threshold=3, failure_rate_threshold=0.5)
    assert both.failure_threshold == 3
    assert CircuitBreakerConfig(listeners=[print]).listeners == (print,)
    assert CircuitBreaker().name == "circuit-breaker"
    assert CircuitBreaker(name="x").name == "x"
    with pytest.raises(ValueError, match="config"):
        CircuitBreaker({"failure_threshold": 1})  # type: ignore[arg-type]


async def test_with_exit_in_another_task_is_an_error(clock: FakeClock) -> None:
    """Exiting a breaker block in a task that did not enter it raises RuntimeError."""
    breaker = make(clock)
    breaker.__enter__()

    async def other() -> None:
        breaker.__exit__(None, None, None)

    with pytest.raises(RuntimeError, match="did not enter"):
        await asyncio.create_task(other(), context=__import__("contextvars").Context())
    breaker.__exit__(None, None, None)


def test_decorated_function_keeps_its_metadata() -> None:
    """The decorator keeps the wrapped function's name and docstring."""
    breaker = CircuitBreaker()

    @breaker
    def documented() -> None:
        """Docs."""

    assert documented.__name__ == "documented"
    assert documented.__doc__ == "Docs."


def test_a_raising_result_predicate_counts_a_failure_and_propagates(clock: FakeClock) -> None:
    """If result_is_failure itself raises, the call counts as failed and the error surfaces."""

    def predicate(result: Any) -> bool:
        raise KeyError("status")

    breaker = make(clock, failure_threshold=1, result_is_failure=predicate)
    with pytest.raises(KeyError):
        breaker.call(lambda: {"body": ""})
    assert breaker.state is CircuitState.OPEN


def test_a_raising_exception_predicate_counts_a_failure(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A buggy expected_exception predicate is logged and the call counted as failed."""

    def predicate(exc: BaseException) -> bool:
        raise RuntimeError("predicate bug")

    breaker = make(clock, failure_threshold=1, expected_exception=predicate)
    with pytest.raises(ConnectionError):
        breaker.call(boom(ConnectionError()))
    assert breaker.state is CircuitState.OPEN
    assert "predicate" in caplog.text


def test_stale_outcomes_do_not_disturb_a_new_state(clock: FakeClock) -> None:
    """A call admitted before the breaker opened cannot close or re-open it when it finishes."""
    import contextvars

    breaker = make(clock, failure_threshold=1)
    slow_call = contextvars.copy_context()
    slow_call.run(breaker.__enter__)
    with pytest.raises(ConnectionError):
        breaker.call(boom(ConnectionError()))
    assert breaker.state is CircuitState.OPEN
    slow_call.run(breaker.__exit__, None, None, None)
    assert breaker.state is CircuitState.OPEN
    assert breaker.stats().successes == 1
