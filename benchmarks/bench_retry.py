"""rel-retry against tenacity, stamina and backoff: success first time, and one failure then success.

Every implementation retries ``ConnectionError`` with every wait at zero, so
the numbers measure the machinery, not the sleeps. A hand-written
``try``/``except`` wrapper is the yardstick for the success path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from harness import Group

from rel_retry import RetryConfig, async_retry_with_backoff, retry_with_backoff, with_retry

REL_ZERO = RetryConfig(base_delay_seconds=0.0, max_delay_seconds=0.0, retryable_exceptions=(ConnectionError,))


def _work() -> int:
    return 1


async def _awork() -> int:
    return 1


def _fail_every_other() -> Callable[[], int]:
    """Fails on odd calls: one measured retried call = one failure, then a success."""
    count = 0

    def flaky() -> int:
        nonlocal count
        count += 1
        if count % 2:
            raise ConnectionError("blip")
        return 1

    return flaky


def _async_fail_every_other() -> Callable[[], Awaitable[int]]:
    flaky = _fail_every_other()

    async def aflaky() -> int:
        return flaky()

    return aflaky


def _hand_written(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(4):
            try:
                return fn(*args, **kwargs)
            except ConnectionError:
                if attempt == 3:
                    raise
        return None

    return wrapper


def _hand_written_async(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(4):
            try:
                return await fn(*args, **kwargs)
            except ConnectionError:
                if attempt == 3:
                    raise
        return None

    return wrapper


def _peers() -> dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]]:
    """Decorator factories of each peer library, configured for zero waits; missing ones skipped."""
    found: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {}
    with contextlib.suppress(ImportError):
        import tenacity

        found["tenacity"] = tenacity.retry(
            retry=tenacity.retry_if_exception_type(ConnectionError),
            stop=tenacity.stop_after_attempt(4),
            wait=tenacity.wait_none(),
            reraise=True,
        )
    with contextlib.suppress(ImportError):
        import stamina

        stamina.instrumentation.set_on_retry_hooks([])
        found["stamina"] = stamina.retry(
            on=ConnectionError, attempts=4, wait_initial=0.0, wait_max=0.0, wait_jitter=0.0
        )
    with contextlib.suppress(ImportError):
        import backoff

        logging.getLogger("backoff").disabled = True
        found["backoff"] = backoff.on_exception(
            backoff.constant, ConnectionError, max_tries=4, interval=0, jitter=None
        )
    return found


def run(quick: bool) -> list[Group]:
    repeat = 3 if quick else 7
    peers = _peers()
    missing = [name for name in ("tenacity", "stamina", "backoff") if name not in peers]

    success = Group(
        "(a) sync, success first time",
        reference="hand-written try/except",
        baseline="bare call",
        goal="rel's overhead over a bare call <= 2x the hand-written wrapper's, and >= 10x smaller than each peer's.",
    )
    success.time("bare call", _work, repeat=repeat)
    success.time("hand-written try/except", _hand_written(_work), repeat=repeat)
    success.time("rel retry_with_backoff", retry_with_backoff(REL_ZERO)(_work), repeat=repeat)
    for name, decorate in peers.items():
        success.time(name, decorate(_work), repeat=repeat)

    retried = Group(
        "(b) sync, one failure then success, waits at zero",
        reference="rel retry_with_backoff",
        goal="rel faster than every peer.",
    )
    retried.time("hand-written try/except", _hand_written(_fail_every_other()), repeat=repeat)
    retried.time("rel retry_with_backoff", retry_with_backoff(REL_ZERO)(_fail_every_other()), repeat=repeat)
    for name, decorate in peers.items():
        retried.time(name, decorate(_fail_every_other()), repeat=repeat)

    async_success = Group(
        "(a) async, success first time",
        reference="hand-written try/except",
        baseline="bare await",
        goal="as (a) sync.",
    )
    number = 2000 if quick else None
    async_success.time_async("bare await", _awork, repeat=repeat, number=number)  # type: ignore[arg-type]
    async_success.time_async(
        "hand-written try/except", _hand_written_async(_awork), repeat=repeat, number=number
    )  # type: ignore[arg-type]
    async_success.time_async(
        "rel retry_with_backoff", retry_with_backoff(REL_ZERO)(_awork), repeat=repeat, number=number
    )  # type: ignore[arg-type]
    # The other two decorators take the same first-attempt path; shown so a regression in either is seen.
    async_success.time_async(
        "rel async_retry_with_backoff",
        async_retry_with_backoff(REL_ZERO)(_awork),
        repeat=repeat,
        number=number,
    )  # type: ignore[arg-type]
    async_success.time_async(
        "rel with_retry",
        with_retry(max_retries=3, retry_delay=0.0, exceptions_to_retry=ConnectionError)(_awork),
        repeat=repeat,
        number=number,
    )  # type: ignore[arg-type]
    for name, decorate in peers.items():
        async_success.time_async(name, decorate(_awork), repeat=repeat, number=number)  # type: ignore[arg-type]

    async_retried = Group(
        "(b) async, one failure then success, waits at zero",
        reference="rel retry_with_backoff",
        goal="rel faster than every peer.",
    )
    async_retried.time_async(
        "hand-written try/except",
        _hand_written_async(_async_fail_every_other()),
        repeat=repeat,
        number=number,  # type: ignore[arg-type]
    )
    async_retried.time_async(
        "rel retry_with_backoff",
        retry_with_backoff(REL_ZERO)(_async_fail_every_other()),
        repeat=repeat,
        number=number,  # type: ignore[arg-type]
    )
    for name, decorate in peers.items():
        async_retried.time_async(name, decorate(_async_fail_every_other()), repeat=repeat, number=number)  # type: ignore[arg-type]

    groups = [success, retried, async_success, async_retried]
    for group in groups:
        for name in missing:
            group.skip(name, "not installed")
    _summarise(success)
    _summarise(async_success)
    return groups


def _summarise(group: Group) -> None:
    """Add the ratios the goal speaks of as notes."""
    base = group.results.get(group.baseline or "")
    hand = group.results.get(group.reference)
    rel = group.results.get("rel retry_with_backoff")
    if base is None or hand is None or rel is None:
        return
    rel_over = max(rel - base, 1e-12)
    group.notes.append(f"rel overhead / hand-written overhead: {rel_over / max(hand - base, 1e-12):.2f}x")
    for name in ("tenacity", "stamina", "backoff"):
        if name in group.results:
            group.notes.append(
                f"{name} overhead / rel overhead: {(group.results[name] - base) / rel_over:.1f}x"
            )


if __name__ == "__main__":
    for g in run(quick=True):
        print(g.to_markdown())
    asyncio.run(asyncio.sleep(0))
