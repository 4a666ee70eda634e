"""The decorators' first-attempt wrappers pass every kind of argument through, and retry with the same ones."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import pytest

from rel_retry import RetryConfig, retry_with_backoff, testing
from rel_telemetry.testing import capture_metrics, capture_spans

FAST = RetryConfig(base_delay_seconds=0.0, max_delay_seconds=0.0, retryable_exceptions=(ConnectionError,))


# (id, parameter list, what the function returns, args, kwargs): every kind of parameter.
SHAPES: list[tuple[str, str, str, tuple[Any, ...], dict[str, Any]]] = [
    ("none", "", "()", (), {}),
    ("one-positional", "a", "(a,)", (1,), {}),
    ("one-keyword", "a", "(a,)", (), {"a": 1}),
    ("positional-only", "a, /, b", "(a, b)", (1,), {"b": 2}),
    ("star-args", "*args", "args", (1, 2, 3), {}),
    ("star-kwargs", "**kwargs", "kwargs", (), {"x": 1, "y": 2}),
    ("keyword-only", "a, *, k", "(a, k)", (1,), {"k": 2}),
    ("everything", "a, /, b, *rest, k, **extra", "(a, b, rest, k, extra)", (1, 2, 3, 4), {"k": 5, "z": 6}),
    (
        "wrapper-local-names",
        "error, result, started, exc, fn, name",
        "(error, result, started, exc, fn, name)",
        (1, 2, 3, 4, 5),
        {"name": 6},
    ),
    ("prefixed-names", "_rel_fn, _rel_error", "(_rel_fn, _rel_error)", (1,), {"_rel_error": 2}),
    ("defaults-given", "a, b=2, *, k=3", "(a, b, k)", (1, 20), {"k": 30}),
    ("defaults-left-out", "a, b=2, *, k=3", "(a, b, k)", (1,), {}),
]


def _flaky(
    params: str, returns: str, is_async: bool
) -> tuple[Callable[..., Any], Callable[..., Any], list[Any]]:
    """A plain function with ``params`` that fails once and then answers, and an undecorated twin."""
    seen: list[Any] = []

    def record(answer: Any) -> Any:
        seen.append(answer)
        if len(seen) == 1:
            raise ConnectionError("first attempt fails")
        return answer

    namespace: dict[str, Any] = {"_record": record}
    keyword = "async def" if is_async else "def"
    exec(f"{keyword} flaky({params}):\n    return _record({returns})\n", namespace)
    exec(f"def twin({params}):\n    return {returns}\n", namespace)
    return namespace["flaky"], namespace["twin"], seen


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(
    ("params", "returns", "args", "kwargs"), [s[1:] for s in SHAPES], ids=[s[0] for s in SHAPES]
)
def test_arguments_pass_through_and_are_retried_unchanged(
    params: str, returns: str, args: tuple[Any, ...], kwargs: dict[str, Any], is_async: bool
) -> None:
    """Whatever the parameter kinds, the function gets the caller's arguments on the first attempt and the retry."""
    flaky, twin, seen = _flaky(params, returns, is_async)
    decorated = retry_with_backoff(FAST)(flaky)
    outcome = decorated(*args, **kwargs)
    if is_async:
        outcome = asyncio.run(outcome)
    expected = twin(*args, **kwargs)
    assert outcome == expected
    assert seen == [expected, expected]
    assert inspect.signature(decorated) == inspect.signature(flaky)
    assert decorated.__name__ == "flaky"
    # Frameworks tell async handlers apart this way.
    assert inspect.iscoroutinefunction(decorated) is is_async


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_wrong_call_is_a_type_error_and_no_retry(is_async: bool) -> None:
    """Calling the decorated function with a missing argument raises TypeError at once."""
    calls = 0

    def plain(a: int) -> int:
        nonlocal calls
        calls += 1
        return a

    async def coro(a: int) -> int:
        return plain(a)

    decorated: Any = retry_with_backoff(FAST)(coro if is_async else plain)

    def call_without_arguments() -> Any:
        outcome = decorated()
        return asyncio.run(outcome) if is_async else outcome

    with pytest.raises(TypeError):
        call_without_arguments()
    assert calls == 0


_MISSING = object()


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_defaults_are_the_functions_own_objects(is_async: bool) -> None:
    """An omitted argument gets the function's own default object: shared mutables and sentinels behave as unwrapped."""
    seen: list[tuple[Any, Any]] = []

    def plain(items: list[int] = [], *, marker: object = _MISSING) -> int:  # noqa: B006 - the shared default is the point
        items.append(1)
        seen.append((items, marker))
        return len(items)

    async def coro(items: list[int] = [], *, marker: object = _MISSING) -> int:  # noqa: B006
        return plain(items, marker=marker)

    decorated: Any = retry_with_backoff(FAST)(coro if is_async else plain)

    def call(*args: Any, **kwargs: Any) -> Any:
        outcome = decorated(*args, **kwargs)
        return asyncio.run(outcome) if is_async else outcome

    assert [call(), call(), call([5, 5])] == [1, 2, 3]
    assert seen[0][0] is seen[1][0]
    assert all(marker is _MISSING for _, marker in seen)
    assert call(marker=None) == 3
    assert seen[-1][1] is None


def test_methods_bind_self() -> None:
    """A decorated method receives its instance, sync and async."""

    class Client:
        def __init__(self) -> None:
            self.calls = 0

        @retry_with_backoff(FAST)
        def fetch(self, key: str) -> tuple[Client, str]:
            self.calls += 1
            if self.calls == 1:
                raise ConnectionError("blip")
            return self, key

        @retry_with_backoff(FAST)
        async def afetch(self, key: str) -> tuple[Client, str]:
            return self.fetch(key)

    client = Client()
    assert client.fetch("k") == (client, "k")
    assert asyncio.run(client.afetch("j")) == (client, "j")
    assert Client.fetch.__qualname__.endswith("Client.fetch")


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_telemetry_and_testing_switch_on_after_decoration(is_async: bool) -> None:
    """A function decorated before any provider exists counts, traces and records once they appear."""
    failures: list[BaseException] = []

    def work() -> int:
        if failures:
            raise failures.pop()
        return 1

    async def awork() -> int:
        return work()

    decorated: Any = retry_with_backoff(FAST)(awork if is_async else work)

    def call() -> int:
        outcome = decorated()
        return int(asyncio.run(outcome) if is_async else outcome)

    assert call() == 1
    with capture_metrics() as metrics, capture_spans() as spans:
        assert call() == 1
        failures.append(ConnectionError("once"))
        assert call() == 1
        assert metrics.value("rel.retry.attempts", **{"rel.retry.outcome": "success"}) == 2
        assert metrics.value("rel.retry.attempts", **{"rel.retry.outcome": "failure"}) == 1
    assert len(spans.names()) == 1
    with testing() as record:
        assert call() == 1
    assert [(a.number, a.error) for a in record.attempts] == [(1, None)]
