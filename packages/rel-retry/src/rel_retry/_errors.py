"""The package's root exception."""

from __future__ import annotations

from typing import Any


class RetryError(Exception):
    """Every attempt returned a result the policy rejected (``retry_on_result``).

    Failures that end in an exception re-raise that exception itself, with a
    note; this error is only for results. ``last_result`` holds the final
    attempt's value, ``attempts`` how many were made and ``name`` the operation.
    """

    def __init__(self, name: str, attempts: int, last_result: Any, reason: str) -> None:
        super().__init__(
            f"{name}: gave up after {attempts} attempt(s) because every result was rejected "
            f"by retry_on_result ({reason}); the last result was {last_result!r}"
        )
        self.name = name
        self.attempts = attempts
        self.last_result = last_result
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.name, self.attempts, self.last_result, self.reason))
