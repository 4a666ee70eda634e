from __future__ import annotations

import pytest

from rel_retry import exponential_backoff


def test_plain_formula() -> None:
    """By default it is base * 2**attempt, capped: the formula of seed 002's hand-written loop."""
    assert [exponential_backoff(a, 1.0) for a in range(4)] == [1.0, 2.0, 4.0, 8.0]
    assert exponential_backoff(10, 1.0, max_delay=30.0) == 30.0
    assert exponential_backoff(3, 0.5, multiplier=3.0) == pytest.approx(13.5)


def test_seeded_jitter_is_reproducible() -> None:
    """With a jitter kind and a seed the delay is jittered within bounds and the same every time."""
    first = exponential_backoff(3, 1.0, jitter="full", seed=42)
    assert first == exponential_backoff(3, 1.0, jitter="full", seed=42)
    assert 0.0 <= first <= 8.0


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"base_delay": -1.0}, "base_delay_seconds"), ({"max_delay": -2.0}, "max_delay_seconds")],
)
def test_invalid_values_name_the_parameter(kwargs: dict[str, float], name: str) -> None:
    """Negative delays are rejected with the parameter named."""
    with pytest.raises(ValueError, match=name):
        exponential_backoff(1, **kwargs)  # type: ignore[arg-type]
