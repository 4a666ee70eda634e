"""`calculate_backoff`: exponential delays with jitter, reproducible under a seed."""

from __future__ import annotations

import math
import random

from rel_retry._config import Jitter, RetryConfig


def exponential_cap(attempt: int, config: RetryConfig) -> float:
    """``base * multiplier**attempt`` capped at ``max_delay_seconds`` (no jitter), overflow-safe."""
    base, cap, mult = config.base_delay_seconds, config.max_delay_seconds, config.multiplier
    if base == 0.0:
        return 0.0
    # Compare logarithms so a large attempt number cannot overflow the float power.
    if mult > 1.0 and attempt * math.log(mult) >= math.log(cap) - math.log(base):
        return cap
    try:
        return min(cap, base * mult**attempt)
    except OverflowError:  # a tiny base times a huge power can still be below the cap
        return min(cap, math.exp(math.log(base) + attempt * math.log(mult)))


def _unit(config: RetryConfig, attempt: int) -> float:
    seed = config.jitter_seed
    if seed is None:
        return random.random()
    # A string seed goes through SHA-512, so the value is the same in every process
    # (int/str seeding does not depend on PYTHONHASHSEED).
    return random.Random(f"rel-retry:{seed}:{attempt}").random()


def calculate_backoff(attempt: int, config: RetryConfig, previous_delay: float | None = None) -> float:
    """Return the wait in seconds before retry ``attempt`` (0 = after the first failure).

    The uncapped delay is ``base_delay_seconds * multiplier**attempt``; the
    result never exceeds ``max_delay_seconds`` and is never negative. Jitter:
    ``full`` draws from [0, d], ``equal`` from [d/2, d], ``decorrelated`` from
    [base, 3 * previous] (``previous_delay``, default the un-jittered delay of
    the attempt before), ``none`` returns d. With ``config.jitter_seed`` set the
    same seed and attempt always give the same delay, in any process.
    Raises ValueError for a negative ``attempt``.
    """
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
        raise ValueError(f"attempt must be an int >= 0, got {attempt!r}")
    capped = exponential_cap(attempt, config)
    kind = config.jitter
    if kind == "none" or capped == 0.0:
        return capped
    unit = _unit(config, attempt)
    if kind == "full":
        return capped * unit
    if kind == "equal":
        return capped / 2 + capped / 2 * unit
    base, cap = config.base_delay_seconds, config.max_delay_seconds
    if previous_delay is None:
        previous_delay = exponential_cap(attempt - 1, config) if attempt > 0 else base
    high = max(base, 3.0 * previous_delay)
    return min(cap, base + (high - base) * unit)


def exponential_backoff(
    attempt: int,
    base_delay: float = 1.0,
    *,
    multiplier: float = 2.0,
    max_delay: float = 60.0,
    jitter: Jitter = "none",
    seed: int | None = None,
) -> float:
    """The wait before retry ``attempt`` (0-based): ``base_delay * multiplier**attempt`` capped at ``max_delay``.

    The plain formula by default (``jitter="none"``), as hand-written retry loops
    compute it (``delay = base_delay * (2 ** attempt)``); pass a jitter kind and
    a ``seed`` for the jittered, reproducible delays of :func:`calculate_backoff`.
    Invalid values raise ValueError naming the parameter.
    """
    config = RetryConfig(
        base_delay_seconds=base_delay,
        multiplier=multiplier,
        max_delay_seconds=max_delay,
        jitter=jitter,
        jitter_seed=seed,
    )
    return calculate_backoff(attempt, config)
