"""`CircuitBreakerConfig`: the one frozen description of a breaker's policy."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from rel_guard._validate import non_negative_seconds, positive_int, positive_seconds, rate

if TYPE_CHECKING:
    from rel_guard._breaker_core import StateChange

ExceptionSpec = type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], bool]

DEFAULT_FAILURE_THRESHOLD = 5


@dataclass(frozen=True, slots=True)
class CircuitBreakerConfig:
    """How a :class:`CircuitBreaker` decides to open, probe and close.

    Trip rules (either one opens the breaker while CLOSED):

    * ``failure_threshold`` consecutive failures. Left as None it is 5 when no
      rate rule is configured and off otherwise; 0 or less is a ValueError.
    * ``failure_rate_threshold`` (a fraction such as 0.5) or
      ``slow_call_rate_threshold`` reached over the sliding window, once it
      holds ``minimum_calls`` calls. The window is the last
      ``sliding_window_size`` calls (``sliding_window_type="count"``) or the
      calls of the last ``sliding_window_size`` seconds (``"time"``, one-second
      buckets). A call is slow when it takes ``slow_call_duration`` seconds or more.

    After ``recovery_timeout`` seconds OPEN, at most ``half_open_max_calls``
    probe calls run at once; ``success_threshold`` successful probes close the
    breaker and one failed (or slow) probe opens it again.

    Classification: an exception matching ``expected_exception`` (types, a
    tuple of types or a predicate) is a failure, unless it matches
    ``excluded_exceptions`` (counted as neither); any other exception is a
    success for the breaker (the dependency answered). ``result_is_failure``
    marks returned values as failures (they are still returned).
    Cancellation, ``KeyboardInterrupt``, ``SystemExit`` and ``GeneratorExit``
    release the permit without counting.

    ``timeout`` limits each call (a timed-out call is a failure);
    ``fallback_function`` is called with the call's arguments instead of
    raising :class:`CircuitBreakerOpenError` in the decorator and ``call``
    forms. ``listeners`` receive every :class:`StateChange`; ``clock`` is the
    monotonic clock (injectable for tests).

    Raises ValueError, naming the parameter, for any value out of range.
    """

    failure_threshold: int | None = None
    recovery_timeout: float = 60.0
    expected_exception: ExceptionSpec = Exception
    success_threshold: int = 1
    timeout: float | None = None
    fallback_function: Callable[..., Any] | None = None
    excluded_exceptions: tuple[type[BaseException], ...] = ()
    half_open_max_calls: int = 1
    failure_rate_threshold: float | None = None
    slow_call_rate_threshold: float | None = None
    slow_call_duration: float | None = None
    sliding_window_type: Literal["count", "time"] = "count"
    sliding_window_size: int = 100
    minimum_calls: int = 10
    result_is_failure: Callable[[Any], bool] | None = None
    name: str | None = None
    listeners: tuple[Callable[[StateChange], None], ...] = field(default=())
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        has_rate_rule = self.failure_rate_threshold is not None or self.slow_call_rate_threshold is not None
        if self.failure_threshold is None:
            if not has_rate_rule:
                object.__setattr__(self, "failure_threshold", DEFAULT_FAILURE_THRESHOLD)
        else:
            positive_int("failure_threshold", self.failure_threshold)
        non_negative_seconds("recovery_timeout", self.recovery_timeout)
        positive_int("success_threshold", self.success_threshold)
        positive_int("half_open_max_calls", self.half_open_max_calls)
        positive_seconds("timeout", self.timeout, allow_none=True)
        rate("failure_rate_threshold", self.failure_rate_threshold)
        rate("slow_call_rate_threshold", self.slow_call_rate_threshold)
        positive_seconds("slow_call_duration", self.slow_call_duration, allow_none=True)
        if self.slow_call_rate_threshold is not None and self.slow_call_duration is None:
            raise ValueError(
                "slow_call_rate_threshold needs slow_call_duration (seconds) to say what is slow"
            )
        if self.sliding_window_type not in ("count", "time"):
            raise ValueError(
                f"sliding_window_type must be 'count' or 'time', got {self.sliding_window_type!r}"
            )
        positive_int("sliding_window_size", self.sliding_window_size)
        positive_int("minimum_calls", self.minimum_calls)
        if (
            has_rate_rule
            and self.sliding_window_type == "count"
            and self.minimum_calls > self.sliding_window_size
        ):
            raise ValueError(
                f"minimum_calls must be <= sliding_window_size for a count window "
                f"(got {self.minimum_calls} > {self.sliding_window_size}): the rate rule could never fire"
            )
        _check_exception_spec("expected_exception", self.expected_exception)
        excluded: object = self.excluded_exceptions
        if isinstance(excluded, type):
            excluded = (excluded,)
            object.__setattr__(self, "excluded_exceptions", excluded)
        if not isinstance(excluded, tuple) or not all(_is_exception_type(t) for t in excluded):
            raise ValueError(f"excluded_exceptions must be a tuple of exception types, got {excluded!r}")
        for name in ("fallback_function", "result_is_failure"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise ValueError(f"{name} must be callable or None, got {value!r}")
        listeners: object = self.listeners
        if isinstance(listeners, list):
            listeners = tuple(listeners)
            object.__setattr__(self, "listeners", listeners)
        if not isinstance(listeners, tuple) or not all(callable(f) for f in listeners):
            raise ValueError(f"listeners must be a tuple (or list) of callables, got {self.listeners!r}")
        if not callable(self.clock):
            raise ValueError(f"clock must be a callable returning monotonic seconds, got {self.clock!r}")
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise ValueError(f"name must be a non-empty string or None, got {self.name!r}")

    @property
    def has_window(self) -> bool:
        """True when a rate rule needs the sliding window."""
        return self.failure_rate_threshold is not None or self.slow_call_rate_threshold is not None


def _is_exception_type(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, BaseException)


def _check_exception_spec(name: str, spec: object) -> None:
    if _is_exception_type(spec):
        return
    if isinstance(spec, tuple):
        if spec and all(_is_exception_type(t) for t in spec):
            return
    elif callable(spec):
        return
    raise ValueError(
        f"{name} must be an exception type, a non-empty tuple of them or a predicate "
        f"taking the exception, got {spec!r}"
    )
