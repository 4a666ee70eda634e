from __future__ import annotations

import dataclasses

import pytest

from rel_retry import RetryBudget, RetryConfig, retry_with_backoff, with_retry
from rel_retry._config import resolve_config


def test_defaults_match_the_seed_dataclass() -> None:
    """The defaults are those of the seed's RetryConfig."""
    config = RetryConfig()
    assert (config.max_retries, config.base_delay_seconds, config.multiplier) == (3, 1.0, 2.0)
    assert (config.max_delay_seconds, config.jitter_seed, config.timeout) == (60.0, None, None)
    assert config.jitter == "full"
    assert config.max_attempts == 4


def test_config_is_frozen() -> None:
    """A policy cannot change under the functions that share it."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        RetryConfig().max_retries = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"base_delay_seconds": -0.1}, "base_delay_seconds"),
        ({"base_delay_seconds": float("nan")}, "base_delay_seconds"),
        ({"max_delay_seconds": -1}, "max_delay_seconds"),
        ({"base_delay_seconds": 5, "max_delay_seconds": 1}, "max_delay_seconds"),
        ({"multiplier": 0.5}, "multiplier"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": -3}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
        ({"retryable_exceptions": (ValueError, "oops")}, "retryable_exceptions"),
        ({"retryable_exceptions": (int,)}, "retryable_exceptions"),
        ({"jitter": "half"}, "jitter"),
        ({"jitter_seed": "42"}, "jitter_seed"),
        ({"retry_on": 3}, "retry_on"),
        ({"budget": object()}, "budget"),
    ],
)
def test_invalid_configuration_names_the_parameter(kwargs: dict[str, object], parameter: str) -> None:
    """Bad values fail at construction with a ValueError naming the parameter."""
    with pytest.raises(ValueError, match=parameter):
        RetryConfig(**kwargs)  # type: ignore[arg-type]


def test_zero_attempts_is_rejected() -> None:
    """max_attempts counts the first attempt, so it must be at least 1."""
    with pytest.raises(ValueError, match="max_attempts"):
        retry_with_backoff(lambda: 1, max_attempts=0)


def test_single_exception_class_is_accepted() -> None:
    """retryable_exceptions=OSError is stored as a one-element tuple."""
    assert RetryConfig(retryable_exceptions=OSError).retryable_exceptions == (OSError,)  # type: ignore[arg-type]


def test_aliases_from_the_requirement_documents() -> None:
    """The seeds' spellings map onto RetryConfig fields."""
    config = resolve_config(
        None,
        {
            "max_attempts": 3,
            "base_delay": 2.0,
            "max_delay": 30.0,
            "backoff_factor": 1.5,
            "exceptions_to_retry": (ConnectionError,),
        },
    )
    assert config == RetryConfig(
        max_retries=2,
        base_delay_seconds=2.0,
        max_delay_seconds=30.0,
        multiplier=1.5,
        retryable_exceptions=(ConnectionError,),
    )


def test_options_override_a_given_config() -> None:
    """Keyword options refine the config passed alongside them."""
    base = RetryConfig(max_retries=7, jitter_seed=1)
    assert resolve_config(base, {"timeout": 5.0}) == RetryConfig(max_retries=7, jitter_seed=1, timeout=5.0)


def test_unknown_option_is_a_type_error() -> None:
    """A misspelt option is reported, with the accepted ones."""
    with pytest.raises(TypeError, match="max_retrys"):
        retry_with_backoff(lambda: 1, max_retrys=3)


def test_option_given_twice_is_a_type_error() -> None:
    """An alias and its field together are ambiguous."""
    with pytest.raises(TypeError, match="base_delay_seconds"):
        resolve_config(None, {"base_delay": 1.0, "base_delay_seconds": 2.0})


def test_with_retry_validates_at_decoration() -> None:
    """with_retry's bad values fail when the decorator is built, not on first call."""
    with pytest.raises(ValueError, match="timeout"):
        with_retry(max_retries=2, timeout=-1)


def test_with_retry_long_delay_raises_the_cap() -> None:
    """A retry_delay above the default cap is honoured rather than rejected."""

    @with_retry(retry_delay=120.0)
    def fn() -> int:
        return 1

    assert fn() == 1


@pytest.mark.parametrize(
    "kwargs",
    [{"ratio": -0.1}, {"min_retries_per_second": -1}, {"window_seconds": 0}, {"ratio": float("nan")}],
)
def test_invalid_budget_is_rejected(kwargs: dict[str, float]) -> None:
    """RetryBudget validates its numbers at construction."""
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        RetryBudget(**kwargs)
