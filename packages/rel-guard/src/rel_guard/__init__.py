"""rel-guard: circuit breaker, bulkhead, timeouts and deadlines, exact under concurrency.

Every policy works as a decorator, ``with``, ``async with`` and direct call,
on sync and async code, shared safely between threads and asyncio tasks.
"""

from rel_guard._breaker import CircuitBreaker
from rel_guard._breaker_config import CircuitBreakerConfig
from rel_guard._breaker_core import BreakerStats, CircuitState, StateChange
from rel_guard._bulkhead import Bulkhead, BulkheadConfig, BulkheadStats
from rel_guard._compose import compose
from rel_guard._deadline import Deadline, TimeoutManager, deadline, remaining, timeout
from rel_guard._errors import (
    BulkheadFullError,
    CircuitBreakerOpenError,
    DeadlineExceededError,
    GuardError,
)
from rel_guard._version import __version__

__all__ = [
    "__version__",
    # circuit breaker
    "BreakerStats",
    "CircuitBreaker",
    "CircuitBreakerConfig",
    "CircuitState",
    "StateChange",
    # bulkhead
    "Bulkhead",
    "BulkheadConfig",
    "BulkheadStats",
    # time limits
    "Deadline",
    "TimeoutManager",
    "deadline",
    "remaining",
    "timeout",
    # composition
    "compose",
    # errors
    "BulkheadFullError",
    "CircuitBreakerOpenError",
    "DeadlineExceededError",
    "GuardError",
]
