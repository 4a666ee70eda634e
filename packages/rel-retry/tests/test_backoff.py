from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rel_retry import RetryConfig, calculate_backoff
from rel_retry._backoff import exponential_cap

JITTERS = ["full", "equal", "decorrelated", "none"]


@st.composite
def configs(draw: st.DrawFn) -> RetryConfig:
    base = draw(st.floats(min_value=0.0, max_value=10.0))
    cap = draw(st.floats(min_value=base, max_value=1000.0))
    return RetryConfig(
        base_delay_seconds=base,
        max_delay_seconds=cap,
        multiplier=draw(st.floats(min_value=1.0, max_value=10.0)),
        jitter=draw(st.sampled_from(JITTERS)),
        jitter_seed=draw(st.none() | st.integers(-(2**63), 2**63)),
    )


@settings(max_examples=200, deadline=None)
@given(config=configs(), attempt=st.integers(min_value=0, max_value=2000))
def test_delay_stays_within_bounds(config: RetryConfig, attempt: int) -> None:
    """Every delay lies in [0, max_delay] and within its jitter's band of the exponential cap."""
    delay = calculate_backoff(attempt, config)
    cap = exponential_cap(attempt, config)
    assert 0.0 <= delay <= config.max_delay_seconds
    if config.jitter == "none":
        assert delay == cap
    elif config.jitter == "full":
        assert delay <= cap
    elif config.jitter == "equal":
        assert cap / 2 <= delay <= cap
    else:
        assert min(config.base_delay_seconds, config.max_delay_seconds) <= delay


@settings(max_examples=100, deadline=None)
@given(config=configs(), attempt=st.integers(min_value=0, max_value=500))
def test_cap_is_monotonic(config: RetryConfig, attempt: int) -> None:
    """The un-jittered delay never decreases from one attempt to the next and never passes the max."""
    here, following = exponential_cap(attempt, config), exponential_cap(attempt + 1, config)
    assert here <= following <= config.max_delay_seconds


@settings(max_examples=100, deadline=None)
@given(config=configs(), attempt=st.integers(min_value=0, max_value=100))
def test_cap_follows_the_formula(config: RetryConfig, attempt: int) -> None:
    """Below the max, the delay is base * multiplier**attempt."""
    try:
        raw = config.base_delay_seconds * config.multiplier**attempt
    except OverflowError:
        raw = math.exp(math.log(config.base_delay_seconds) + attempt * math.log(config.multiplier))
    assert exponential_cap(attempt, config) == pytest.approx(min(raw, config.max_delay_seconds), rel=1e-9)


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(-(2**40), 2**40),
    attempt=st.integers(min_value=0, max_value=60),
    jitter=st.sampled_from(JITTERS),
)
def test_seeded_jitter_is_deterministic(seed: int, attempt: int, jitter: str) -> None:
    """Same seed and attempt give the same delay, however often it is computed."""
    config = RetryConfig(jitter_seed=seed, jitter=jitter)  # type: ignore[arg-type]
    assert calculate_backoff(attempt, config) == calculate_backoff(
        attempt, RetryConfig(jitter_seed=seed, jitter=jitter)
    )  # type: ignore[arg-type]


def test_seeds_give_different_delays() -> None:
    """Different seeds do not all collapse onto one sequence."""
    sequences = {
        tuple(calculate_backoff(a, RetryConfig(jitter_seed=seed)) for a in range(5)) for seed in range(20)
    }
    assert len(sequences) == 20


def test_unseeded_jitter_varies() -> None:
    """Without a seed, full jitter spreads the delays."""
    config = RetryConfig(base_delay_seconds=1.0)
    assert len({calculate_backoff(3, config) for _ in range(50)}) > 40


def test_seeded_delays_match_across_processes() -> None:
    """A child process with another hash seed computes the same delays."""
    config = RetryConfig(jitter_seed=42, jitter="full")
    mine = [calculate_backoff(a, config) for a in range(8)]
    code = (
        "import json; from rel_retry import RetryConfig, calculate_backoff;"
        "c = RetryConfig(jitter_seed=42, jitter='full');"
        "print(json.dumps([calculate_backoff(a, c) for a in range(8)]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, timeout=60
    )
    assert json.loads(out.stdout) == mine


def test_exponential_progression_without_jitter() -> None:
    """The seed's formula: 1, 2, 4, 8 ... capped at the max."""
    config = RetryConfig(base_delay_seconds=1.0, multiplier=2.0, max_delay_seconds=10.0, jitter="none")
    assert [calculate_backoff(a, config) for a in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_huge_attempt_does_not_overflow() -> None:
    """Attempt numbers far past the cap give the cap, not OverflowError."""
    assert calculate_backoff(10**6, RetryConfig(jitter="none")) == 60.0


def test_negative_attempt_is_rejected() -> None:
    """attempt counts from 0."""
    with pytest.raises(ValueError, match="attempt"):
        calculate_backoff(-1, RetryConfig())


def test_decorrelated_grows_from_the_previous_delay() -> None:
    """Decorrelated jitter draws from [base, 3 * previous], capped."""
    config = RetryConfig(
        base_delay_seconds=1.0, max_delay_seconds=100.0, jitter="decorrelated", jitter_seed=7
    )
    for previous in (1.0, 5.0, 20.0, 50.0):
        delay = calculate_backoff(4, config, previous)
        assert 1.0 <= delay <= min(100.0, 3 * previous)
