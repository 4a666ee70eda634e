"""Run tenacity wait and stop strategies against rel's own retry loop.

tenacity's strategies are plain callables of a ``RetryCallState``; building
one lets ``RetryConfig(wait=wait_exponential(...), stop=stop_after_delay(...))``
reuse a tenacity policy unchanged. Imported only when such a strategy is set.
"""

from __future__ import annotations

from typing import Any

from tenacity import RetryCallState


def call_state(
    *,
    attempt_number: int,
    started_at: float,
    idle_for: float,
    exc: BaseException | None,
    result: Any = None,
) -> RetryCallState:
    """A ``RetryCallState`` describing the attempt that just ended."""
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.start_time = started_at
    state.attempt_number = attempt_number
    state.idle_for = idle_for
    if exc is not None:
        state.set_exception((type(exc), exc, exc.__traceback__))
    else:
        state.set_result(result)
    return state
