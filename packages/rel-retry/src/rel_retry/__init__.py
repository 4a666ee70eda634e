"""rel-retry: retries that are correct, observable and nearly free on the success path."""

from rel_retry._backoff import calculate_backoff, exponential_backoff
from rel_retry._block import Attempt, retry_context
from rel_retry._budget import RetryBudget
from rel_retry._classify import (
    FailureClassification,
    FailureRule,
    classify_failure,
    register_failure_rule,
    registered_failure_rules,
    unregister_failure_rule,
)
from rel_retry._config import Jitter, RetryConfig
from rel_retry._core import async_retry_with_backoff, retry_with_backoff, with_retry
from rel_retry._errors import RetryError
from rel_retry._hints import retry_after_seconds
from rel_retry._state import RetryContext
from rel_retry._testing import RecordedAttempt, TestingRecord, is_testing, set_testing, testing
from rel_retry._version import __version__

__all__ = [
    "__version__",
    # policy
    "Jitter",
    "RetryBudget",
    "RetryConfig",
    "calculate_backoff",
    "exponential_backoff",
    "retry_after_seconds",
    # retrying
    "Attempt",
    "RetryContext",
    "async_retry_with_backoff",
    "retry_context",
    "retry_with_backoff",
    "with_retry",
    # classification
    "FailureClassification",
    "FailureRule",
    "classify_failure",
    "register_failure_rule",
    "registered_failure_rules",
    "unregister_failure_rule",
    # errors
    "RetryError",
    # testing
    "RecordedAttempt",
    "TestingRecord",
    "is_testing",
    "set_testing",
    "testing",
]
