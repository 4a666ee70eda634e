"""`compose`: stack policies into one reusable decorator, outermost first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def compose(*policies: Callable[[Any], Any]) -> Callable[[F], F]:
    """Return a decorator applying ``policies`` with the first one outermost.

    ``compose(bulkhead, breaker, retry)(fn)`` is ``bulkhead(breaker(retry(fn)))``:
    a call passes the bulkhead, then the breaker, then the retry loop. Any
    decorator works (a rel-guard policy, rel-retry's ``retry_with_backoff(...)``,
    ``functools.cache``...). Raises TypeError if a policy is not callable.
    """
    for position, policy in enumerate(policies):
        if not callable(policy):
            raise TypeError(
                f"compose() takes decorators; argument {position} is {policy!r}, which is not callable"
            )
    stack = tuple(reversed(policies))

    def decorate(fn: F) -> F:
        wrapped: Any = fn
        for policy in stack:
            wrapped = policy(wrapped)
        return wrapped  # type: ignore[no-any-return]

    return decorate
