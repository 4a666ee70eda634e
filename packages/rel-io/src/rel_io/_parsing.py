"""Defensive parsing of untrusted numbers, booleans and durations (env vars, CLI flags).

Lenient by default: None gives the default silently; empty, malformed, NaN or
infinite input gives the default with one warning naming the source; values
outside ``[min_val, max_val]`` are clamped with one warning. The result is
always within the bounds. ``strict=True`` raises :class:`ParseError` instead.
"""

from __future__ import annotations

import logging
import math
import re
from typing import TypeVar

from rel_io._errors import ParseError

_log = logging.getLogger("rel_io")

N = TypeVar("N", int, float)

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})
_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|µs|ms|sec|min|s|m|h|d)", re.IGNORECASE)


def _check_bounds(min_val: float | None, max_val: float | None) -> None:
    if min_val is not None and max_val is not None and min_val > max_val:
        raise ValueError(f"min_val must be <= max_val, got min_val={min_val!r} > max_val={max_val!r}")


def _reject(source: str | None, value: object, why: str, default: object, strict: bool) -> None:
    name = source or "value"
    if strict:
        raise ParseError(f"{name}: {why} (got {value!r})", operation="parse")
    _log.warning("%s: %s (got %r); using the default %r", name, why, value, default)


def _clamp(
    result: N, min_val: N | None, max_val: N | None, source: str | None, strict: bool, *, warn: bool = True
) -> N:
    low = min_val is not None and result < min_val
    high = max_val is not None and result > max_val
    if not (low or high):
        return result
    bound = min_val if low else max_val
    assert bound is not None
    if warn:
        name = source or "value"
        side = "below the minimum" if low else "above the maximum"
        if strict:
            raise ParseError(f"{name}: {result!r} is {side} {bound!r}", operation="parse")
        _log.warning("%s: %r is %s %r; clamped to it", name, result, side, bound)
    return bound


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8").strip()
        except UnicodeDecodeError:
            return None
    return str(value).strip()


def safe_parse_float(
    value: object,
    default: float,
    min_val: float | None = None,
    max_val: float | None = None,
    *,
    source: str | None = None,
    strict: bool = False,
) -> float:
    """Parse ``value`` as a finite float clamped to ``[min_val, max_val]``; fall back to ``default``.

    ``safe_parse_float(os.environ.get("T"), 0.0, min_val=0.0, max_val=2.0)``
    never raises in lenient mode (except ``ValueError`` for ``min_val > max_val``).
    """
    _check_bounds(min_val, max_val)
    fallback = _clamp(float(default), min_val, max_val, source, False, warn=False)
    if value is None:
        return fallback
    if isinstance(value, bool):
        _reject(source, value, "a boolean is not a number", default, strict)
        return fallback
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = _text(value)
        if not text:
            _reject(source, value, "empty or undecodable, expected a number", default, strict)
            return fallback
        try:
            number = float(text)
        except ValueError:
            _reject(source, value, "not a number", default, strict)
            return fallback
    if not math.isfinite(number):
        _reject(source, value, "not a finite number", default, strict)
        return fallback
    return _clamp(number, min_val, max_val, source, strict)


def safe_parse_int(
    value: object,
    default: int,
    min_val: int | None = None,
    max_val: int | None = None,
    *,
    source: str | None = None,
    strict: bool = False,
) -> int:
    """Parse ``value`` as an int clamped to ``[min_val, max_val]``; fall back to ``default``.

    Accepts ``"42"``, ``" 42 "``, ``"1_000"`` and integral floats (``"3.0"``,
    ``"1e3"``); ``"3.5"`` is rejected. Never raises in lenient mode (except
    ``ValueError`` for ``min_val > max_val``).
    """
    _check_bounds(min_val, max_val)
    fallback = _clamp(int(default), min_val, max_val, source, False, warn=False)
    if value is None:
        return fallback
    if isinstance(value, bool):
        _reject(source, value, "a boolean is not an integer", default, strict)
        return fallback
    number: int
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            _reject(source, value, "not a finite integral number", default, strict)
            return fallback
        number = int(value)
    else:
        text = _text(value)
        if not text:
            _reject(source, value, "empty or undecodable, expected an integer", default, strict)
            return fallback
        try:
            number = int(text, 10)
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                _reject(source, value, "not an integer", default, strict)
                return fallback
            if not math.isfinite(as_float) or not as_float.is_integer():
                _reject(source, value, "not a finite integral number", default, strict)
                return fallback
            number = int(as_float)
    return _clamp(number, min_val, max_val, source, strict)


def safe_parse_bool(value: object, default: bool, *, source: str | None = None, strict: bool = False) -> bool:
    """Parse yes/no words (``1 true t yes y on`` / ``0 false f no n off``, any case); else ``default``."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = _text(value)
    lowered = (text or "").lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    _reject(source, value, "not a boolean (expected one of 1/0, true/false, yes/no, on/off)", default, strict)
    return default


def safe_parse_duration(
    value: object,
    default: float,
    min_val: float | None = None,
    max_val: float | None = None,
    *,
    source: str | None = None,
    strict: bool = False,
) -> float:
    """Parse a duration into seconds: ``"500ms"``, ``"30s"``, ``"5m"``, ``"1h30m"``, ``"2d"`` or a bare number of seconds.

    Units: ns, us/µs, ms, s/sec, m/min, h, d. Negative, malformed or infinite
    input gives ``default``; the result is clamped to ``[min_val, max_val]``.
    """
    _check_bounds(min_val, max_val)
    fallback = _clamp(float(default), min_val, max_val, source, False, warn=False)
    if value is None:
        return fallback
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = _text(value) if not isinstance(value, bool) else None
        if not text:
            _reject(source, value, "empty, expected a duration such as 500ms, 30s or 5m", default, strict)
            return fallback
        seconds_or_none = _duration_seconds(text)
        if seconds_or_none is None:
            _reject(source, value, "not a duration (examples: 500ms, 30s, 5m, 1h30m)", default, strict)
            return fallback
        seconds = seconds_or_none
    if not math.isfinite(seconds) or seconds < 0:
        _reject(source, value, "not a finite duration >= 0", default, strict)
        return fallback
    return _clamp(seconds, min_val, max_val, source, strict)


def _duration_seconds(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        pass
    compact = text.replace(" ", "")
    position = 0
    total = 0.0
    for match in _DURATION_PART.finditer(compact):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _UNITS[match.group(2).lower()]
        position = match.end()
    if position != len(compact) or position == 0:
        return None
    return total
