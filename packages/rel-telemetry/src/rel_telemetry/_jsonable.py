"""Turn arbitrary objects into JSON-safe values without ever raising."""

from __future__ import annotations

import datetime as _dt
import enum
import math
import os
from collections.abc import Mapping
from typing import Any

_MAX_DEPTH = 8
_MAX_ITEMS = 200
_MAX_STR = 4096


def safe_repr(value: object) -> str:
    """``repr(value)``, truncated; a placeholder if ``repr`` itself raises."""
    try:
        text = repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"
    return text if len(text) <= _MAX_STR else text[:_MAX_STR] + "...<truncated>"


def jsonable(value: object, _depth: int = 0) -> Any:
    """Return a JSON-serialisable copy of ``value``.

    Strings, numbers, booleans and None pass through (non-finite floats become
    strings); mappings and sequences are copied with string keys; anything else,
    and anything nested too deeply or cyclic, becomes its ``repr``.
    """
    if value is None or isinstance(value, bool | int | str):
        if isinstance(value, str) and len(value) > _MAX_STR:
            return value[:_MAX_STR] + "...<truncated>"
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if _depth >= _MAX_DEPTH:
        return safe_repr(value)
    try:
        if isinstance(value, enum.Enum):
            return jsonable(value.value, _depth + 1)
        if isinstance(value, _dt.datetime | _dt.date | _dt.time):
            return value.isoformat()
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        if isinstance(value, bytes):
            return safe_repr(value)
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for i, (k, v) in enumerate(value.items()):
                if i >= _MAX_ITEMS:
                    out["..."] = f"{len(value) - _MAX_ITEMS} more"
                    break
                key = k if isinstance(k, str) else safe_repr(k)
                out[key] = jsonable(v, _depth + 1)
            return out
        if isinstance(value, list | tuple | set | frozenset):
            items = list(value)
            result = [jsonable(v, _depth + 1) for v in items[:_MAX_ITEMS]]
            if len(items) > _MAX_ITEMS:
                result.append(f"... {len(items) - _MAX_ITEMS} more")
            return result
    except Exception:
        return safe_repr(value)
    return safe_repr(value)
