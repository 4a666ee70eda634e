"""`RetryConfig`: the one policy object, shared by decorator, direct call and block."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from tenacity import RetryCallState

    from rel_retry._budget import RetryBudget

Jitter = Literal["full", "equal", "decorrelated", "none"]
_JITTERS: frozenset[str] = frozenset(get_args(Jitter))


@dataclass(frozen=True, slots=True)
class RetryConfig:
    """How to retry: how often, how long to wait, what to retry, and when to give up.

    ``max_retries`` counts retries after the first attempt (0 = one attempt).
    The wait before retry ``n`` (0-based) is ``base_delay_seconds *
    multiplier**n`` capped at ``max_delay_seconds``, then jittered. ``timeout``
    bounds the whole call: no wait is started that would end past it.

    What is retried: ``retry_on(exc)`` if given, else ``isinstance(exc,
    retryable_exceptions)`` if given, else :func:`classify_failure` (unknown
    errors are retried unless ``retry_unknown=False``). ``retry_on_result``
    retries a returned value it accepts. ``budget`` is a shared
    :class:`RetryBudget`. ``wait`` and ``stop`` accept tenacity wait and stop
    strategies in place of the built-in backoff and limits. ``name`` overrides
    the operation name used in notes and spans.

    Raises ValueError, naming the parameter, for any value out of range.
    """

    max_retries: int = 3
    base_delay_seconds: float = 1.0
    multiplier: float = 2.0
    max_delay_seconds: float = 60.0
    jitter_seed: int | None = None
    timeout: float | None = None
    retryable_exceptions: tuple[type[BaseException], ...] | None = None
    retry_on: Callable[[BaseException], bool] | None = None
    jitter: Jitter = "full"
    retry_on_result: Callable[[Any], bool] | None = None
    retry_unknown: bool = True
    budget: RetryBudget | None = None
    wait: Callable[[RetryCallState], float] | None = None
    stop: Callable[[RetryCallState], bool] | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        _check_int("max_retries", self.max_retries, minimum=0)
        _check_number("base_delay_seconds", self.base_delay_seconds, minimum=0.0)
        _check_number("multiplier", self.multiplier, minimum=1.0)
        _check_number("max_delay_seconds", self.max_delay_seconds, minimum=0.0)
        if self.base_delay_seconds > self.max_delay_seconds:
            raise ValueError(
                f"base_delay_seconds ({self.base_delay_seconds}) must not exceed "
                f"max_delay_seconds ({self.max_delay_seconds})"
            )
        if self.jitter_seed is not None:
            _check_int("jitter_seed", self.jitter_seed, minimum=None)
        if self.timeout is not None:
            _check_number("timeout", self.timeout, minimum=0.0)
            if self.timeout <= 0:
                raise ValueError(f"timeout must be a number > 0 or None, got {self.timeout!r}")
        if self.retryable_exceptions is not None:
            object.__setattr__(self, "retryable_exceptions", _exception_tuple(self.retryable_exceptions))
        if self.jitter not in _JITTERS:
            raise ValueError(f"jitter must be one of {sorted(_JITTERS)}, got {self.jitter!r}")
        for field in ("retry_on", "retry_on_result", "wait", "stop"):
            value = getattr(self, field)
            if value is not None and not callable(value):
                raise ValueError(f"{field} must be callable or None, got {value!r}")
        if not isinstance(self.retry_unknown, bool):
            raise ValueError(f"retry_unknown must be a bool, got {self.retry_unknown!r}")
        if self.budget is not None and not hasattr(self.budget, "try_spend"):
            raise ValueError(f"budget must be a RetryBudget or None, got {self.budget!r}")

    @property
    def max_attempts(self) -> int:
        """The number of attempts allowed, the first one plus ``max_retries``."""
        return self.max_retries + 1


def _check_int(name: str, value: object, *, minimum: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")


def _check_number(name: str, value: object, *, minimum: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")


def _exception_tuple(value: object) -> tuple[type[BaseException], ...]:
    items = value if isinstance(value, tuple | list | set | frozenset) else (value,)
    for item in items:
        if not (isinstance(item, type) and issubclass(item, BaseException)):
            raise ValueError(
                f"retryable_exceptions must hold exception classes only, got {item!r} in {value!r}"
            )
    return tuple(items)


# Names used by the requirement documents and by peer libraries, mapped to fields.
_ALIASES: Mapping[str, str] = {
    "base_delay": "base_delay_seconds",
    "retry_delay": "base_delay_seconds",
    "initial_delay": "base_delay_seconds",
    "max_delay": "max_delay_seconds",
    "backoff_factor": "multiplier",
    "exponential_base": "multiplier",
    "exceptions_to_retry": "retryable_exceptions",
    "retry_exceptions": "retryable_exceptions",
    "seed": "jitter_seed",
}
_FIELDS: frozenset[str] = frozenset(f.name for f in dataclasses.fields(RetryConfig))


def resolve_config(config: RetryConfig | None, options: Mapping[str, Any]) -> RetryConfig:
    """Merge keyword ``options`` (field names, documented aliases, ``max_attempts``) into ``config``.

    Raises TypeError for an unknown option and ValueError for a bad value.
    """
    if config is not None and not isinstance(config, RetryConfig):
        raise TypeError(f"expected a RetryConfig, got {config!r}")
    if not options:
        return config if config is not None else DEFAULT_CONFIG
    changes: dict[str, Any] = {}
    for key, value in options.items():
        if key == "max_attempts":
            _check_int("max_attempts", value, minimum=1)
            changes["max_retries"] = value - 1
            continue
        field = _ALIASES.get(key, key)
        if field not in _FIELDS:
            raise TypeError(
                f"unknown retry option {key!r}; accepted: {sorted(_FIELDS | set(_ALIASES) | {'max_attempts'})}"
            )
        if field in changes:
            raise TypeError(f"retry option {field!r} given twice (as {key!r})")
        changes[field] = value
    return dataclasses.replace(config if config is not None else DEFAULT_CONFIG, **changes)


DEFAULT_CONFIG = RetryConfig()
