"""Configuration from environment variables through the defensive parsers.

An unset variable gives the default silently; a malformed or out-of-range one
gives the default (or the clamped value) and one warning naming the variable,
or :class:`ParseError` with ``strict=True``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from rel_io._parsing import safe_parse_bool, safe_parse_duration, safe_parse_float, safe_parse_int


def _get(name: str, environ: Mapping[str, str] | None) -> str | None:
    return (os.environ if environ is None else environ).get(name)


def env_int(
    name: str,
    default: int,
    min_val: int | None = None,
    max_val: int | None = None,
    *,
    strict: bool = False,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Read integer variable ``name`` (see :func:`safe_parse_int`)."""
    return safe_parse_int(_get(name, environ), default, min_val, max_val, source=name, strict=strict)


def env_float(
    name: str,
    default: float,
    min_val: float | None = None,
    max_val: float | None = None,
    *,
    strict: bool = False,
    environ: Mapping[str, str] | None = None,
) -> float:
    """Read float variable ``name`` (see :func:`safe_parse_float`)."""
    return safe_parse_float(_get(name, environ), default, min_val, max_val, source=name, strict=strict)


def env_bool(
    name: str, default: bool, *, strict: bool = False, environ: Mapping[str, str] | None = None
) -> bool:
    """Read boolean variable ``name`` (see :func:`safe_parse_bool`)."""
    return safe_parse_bool(_get(name, environ), default, source=name, strict=strict)


def env_duration(
    name: str,
    default: float,
    min_val: float | None = None,
    max_val: float | None = None,
    *,
    strict: bool = False,
    environ: Mapping[str, str] | None = None,
) -> float:
    """Read duration variable ``name`` in seconds (``"500ms"``, ``"30s"``; see :func:`safe_parse_duration`)."""
    return safe_parse_duration(_get(name, environ), default, min_val, max_val, source=name, strict=strict)
