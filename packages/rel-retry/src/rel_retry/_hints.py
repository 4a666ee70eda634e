"""`retry_after` hints: the server (or the error) says how long to wait."""

from __future__ import annotations

import datetime as _dt
import email.utils
import math
from collections.abc import Mapping
from typing import Any


def retry_after_seconds(exc: BaseException) -> float | None:
    """Seconds the error asks to wait before the next attempt, or None without a hint.

    Reads ``exc.retry_after`` (seconds, ``timedelta`` or ``datetime``), then a
    ``Retry-After`` header (seconds or HTTP date) on ``exc.response.headers``
    or ``exc.headers``. A hint in the past gives 0. Never raises.
    """
    try:
        value = getattr(exc, "retry_after", None)
        if value is None:
            value = _header(getattr(getattr(exc, "response", None), "headers", None))
        if value is None:
            value = _header(getattr(exc, "headers", None))
        return None if value is None else _seconds(value)
    except Exception:
        return None


def _header(headers: Any) -> Any:
    if headers is None:
        return None
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    value = getter("Retry-After")
    if value is None and isinstance(headers, Mapping):
        for key, item in headers.items():
            if isinstance(key, str) and key.lower() == "retry-after":
                return item
    return value


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, _dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, _dt.datetime):
        when = value if value.tzinfo is not None else value.replace(tzinfo=_dt.UTC)
        seconds = (when - _dt.datetime.now(_dt.UTC)).total_seconds()
    elif isinstance(value, str | bytes):
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        text = text.strip()
        try:
            seconds = float(text)
        except ValueError:
            return _seconds(email.utils.parsedate_to_datetime(text))
    else:
        return None
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
