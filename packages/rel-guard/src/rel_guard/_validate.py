"""Construction-time checks shared by the config classes: ValueError naming the parameter."""

from __future__ import annotations

import math


def positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an int >= 1; otherwise raise ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def non_negative_seconds(name: str, value: object, *, allow_none: bool = False) -> float | None:
    """Return ``value`` as float if it is a finite number >= 0 (or None when allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        accepted = "a finite number of seconds >= 0" + (" or None" if allow_none else "")
        raise ValueError(f"{name} must be {accepted}, got {value!r}")
    return float(value)


def positive_seconds(name: str, value: object, *, allow_none: bool = False) -> float | None:
    """Return ``value`` as float if it is a finite number > 0 (or None when allowed)."""
    if value is None and allow_none:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        accepted = "a finite number of seconds > 0" + (" or None" if allow_none else "")
        raise ValueError(f"{name} must be {accepted}, got {value!r}")
    return float(value)


def rate(name: str, value: object) -> float | None:
    """Return ``value`` if it is None or a fraction in (0, 1]."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ValueError(f"{name} must be a fraction in (0, 1] such as 0.5, or None, got {value!r}")
    return float(value)
