"""The requirement documents' examples, with only the import line changed."""

from __future__ import annotations

import dataclasses

import pytest

from rel_retry import (
    FailureClassification,
    RetryConfig,
    RetryContext,
    async_retry_with_backoff,
    calculate_backoff,
    classify_failure,
    retry_with_backoff,
    testing,
    with_retry,
)


def test_seed_000_retry_with_backoff_direct_call() -> None:
    """Seed 000: retry_with_backoff(lambda: ..., max_attempts=3, base_delay=2.0, retryable_exceptions=...)."""
    outcomes = [RuntimeError("rpc blip"), TimeoutError("slow")]

    def call_external_api() -> dict[str, str]:
        if outcomes:
            raise outcomes.pop(0)
        return {"status": "ok"}

    with testing() as record:
        # Retries 3 times with 2s base delay + random jitter
        result = retry_with_backoff(
            lambda: call_external_api(),  # noqa: PLW0108 - the seed's example, verbatim
            max_attempts=3,
            base_delay=2.0,
            retryable_exceptions=(RuntimeError, TimeoutError),
        )
    assert result == {"status": "ok"}
    assert len(record.failures) == 2


def test_seed_000_max_attempts_bounds_the_calls() -> None:
    """Seed 000: max_attempts=3 means three calls in all, then the error propagates."""
    calls = 0

    def call_external_api() -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("still down")

    with testing(), pytest.raises(RuntimeError, match="still down"):
        retry_with_backoff(
            lambda: call_external_api(),  # noqa: PLW0108 - the seed's example, verbatim
            max_attempts=3,
            base_delay=2.0,
            retryable_exceptions=(RuntimeError, TimeoutError),
        )
    assert calls == 3


async def test_seed_000_async_retry_with_backoff() -> None:
    """Seed 000: async_retry_with_backoff is the async twin."""
    outcomes = [ConnectionError("blip")]

    async def call_external_api() -> str:
        if outcomes:
            raise outcomes.pop(0)
        return "ok"

    with testing():
        result = await async_retry_with_backoff(
            lambda: call_external_api(),  # noqa: PLW0108 - the seed's example, verbatim
            max_attempts=3,
            base_delay=2.0,
            retryable_exceptions=(ConnectionError, TimeoutError),
        )
    assert result == "ok"


def test_seed_001_with_retry_decorator() -> None:
    """Seed 001: @with_retry(max_retries=5, retry_delay=2.0, backoff_factor=1.5, exceptions_to_retry=..., timeout=30.0)."""
    attempts = []

    @with_retry(
        max_retries=5,
        retry_delay=2.0,
        backoff_factor=1.5,
        exceptions_to_retry=(ConnectionError, TimeoutError),
        timeout=30.0,
    )
    def fetch_remote_data(url: str) -> dict[str, str]:
        attempts.append(url)
        if len(attempts) < 3:
            raise ConnectionError("reset by peer")
        data = {"url": url}
        return data  # noqa: RET504 - the seed's example, verbatim

    # Function will automatically retry on specified exceptions
    with testing():
        assert fetch_remote_data("http://127.0.0.1/data") == {"url": "http://127.0.0.1/data"}
    assert len(attempts) == 3


def test_seed_001_with_retry_does_not_retry_other_errors() -> None:
    """Seed 001: only exceptions_to_retry are retried."""
    calls = 0

    @with_retry(
        max_retries=5,
        retry_delay=2.0,
        backoff_factor=1.5,
        exceptions_to_retry=(ConnectionError, TimeoutError),
        timeout=30.0,
    )
    def fetch_remote_data(url: str) -> None:
        nonlocal calls
        calls += 1
        raise KeyError(url)

    with testing(), pytest.raises(KeyError):
        fetch_remote_data("x")
    assert calls == 1


def test_seed_003_decorator_with_config() -> None:
    """Seed 003: @retry_with_backoff(RetryConfig(max_retries=5, jitter_seed=42)) retries transient failures."""
    outcomes = [ConnectionError("network"), TimeoutError("slow")]

    @retry_with_backoff(RetryConfig(max_retries=5, jitter_seed=42))
    def fetch_data() -> str:
        if outcomes:
            raise outcomes.pop(0)
        return "payload"

    with testing():
        data = fetch_data()
    assert data == "payload"


def test_seed_003_permanent_failure_fails_fast() -> None:
    """Seed 003: validation errors are not retried."""
    calls = 0

    @retry_with_backoff(RetryConfig(max_retries=5, jitter_seed=42))
    def fetch_data() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("validation failed: missing field")

    with testing(), pytest.raises(ValueError, match="validation"):
        fetch_data()
    assert calls == 1


def test_seed_003_decorator_with_default_config() -> None:
    """Seed 003: decorator usage with the default config, with or without parentheses."""
    outcomes = [ConnectionError("x")]

    @retry_with_backoff()
    def with_parens() -> int:
        if outcomes:
            raise outcomes.pop(0)
        return 1

    @retry_with_backoff
    def bare() -> int:
        return 2

    with testing():
        assert with_parens() == 1
        assert bare() == 2


def test_seed_003_dataclasses() -> None:
    """Seed 003: RetryConfig and FailureClassification have the documented fields and defaults."""
    config = RetryConfig()
    assert (config.max_retries, config.base_delay_seconds, config.multiplier) == (3, 1.0, 2.0)
    assert (config.max_delay_seconds, config.jitter_seed) == (60.0, None)
    verdict = classify_failure(ConnectionError("x"))
    assert [f.name for f in dataclasses.fields(FailureClassification)] == [
        "error",
        "is_transient",
        "reason",
        "suggested_action",
    ]
    assert verdict.suggested_action in ("retry", "fail", "manual_intervention")


def test_seed_003_calculate_backoff_determinism_and_cap() -> None:
    """Seed 003: same seed + attempt = same delay; delays are capped at max_delay_seconds."""
    config = RetryConfig(jitter_seed=42)
    assert calculate_backoff(2, config) == calculate_backoff(2, RetryConfig(jitter_seed=42))
    capped = RetryConfig(base_delay_seconds=1.0, max_delay_seconds=5.0, jitter="none")
    assert calculate_backoff(10, capped) == 5.0
    assert [calculate_backoff(a, RetryConfig(jitter="none")) for a in range(4)] == [1.0, 2.0, 4.0, 8.0]


def test_seed_003_retry_context_tracks_state() -> None:
    """Seed 003: RetryContext tracks a retried operation."""
    context = RetryContext(RetryConfig(), "operation")
    assert context.attempts == 0
    assert context.attempt_number == 1
    assert context.last_error is None
    assert context.elapsed >= 0.0
