from __future__ import annotations

import logging
import math
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rel_io import (
    ParseError,
    env_bool,
    env_duration,
    env_float,
    env_int,
    safe_parse_bool,
    safe_parse_duration,
    safe_parse_float,
    safe_parse_int,
)

anything = st.one_of(
    st.none(),
    st.text(),
    st.binary(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "", "  ", "0x10", "1_000", "3.0", "½", "٣"]),
)


def test_seed_safe_parse_float_clamps(monkeypatch):
    """Seed 000: an environment value is clamped to [0.0, 2.0], a malformed one gives the default."""
    monkeypatch.setenv("SMI_TEMP", "7.5")
    assert safe_parse_float(os.environ.get("SMI_TEMP"), 0.0, min_val=0.0, max_val=2.0) == 2.0
    monkeypatch.setenv("SMI_TEMP", "hot")
    assert safe_parse_float(os.environ.get("SMI_TEMP"), 0.0, min_val=0.0, max_val=2.0) == 0.0
    monkeypatch.delenv("SMI_TEMP")
    assert safe_parse_float(os.environ.get("SMI_TEMP"), 0.0, min_val=0.0, max_val=2.0) == 0.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("42", 42),
        (" 7 ", 7),
        ("1_000", 1000),
        ("3.0", 3),
        ("1e3", 1000),
        (5, 5),
        (None, -1),
        ("", -1),
        ("3.5", -1),
        ("nan", -1),
        ("inf", -1),
        ("abc", -1),
        (True, -1),
        (float("nan"), -1),
        (b"12", 12),
    ],
)
def test_safe_parse_int_values(value, expected):
    """Integers parse; None, empty, fractional, NaN, infinite and garbage give the default."""
    assert safe_parse_int(value, -1) == expected


def test_one_warning_names_the_source(caplog):
    """A malformed value logs exactly one warning naming its source; None logs nothing."""
    caplog.set_level(logging.WARNING, logger="rel_io")
    safe_parse_int("12abc", 3, source="WORKERS")
    safe_parse_int(None, 3, source="WORKERS")
    records = [r for r in caplog.records if r.name == "rel_io"]
    assert len(records) == 1
    assert "WORKERS" in records[0].getMessage()
    assert "12abc" in records[0].getMessage()


def test_clamping_warns(caplog):
    """An out-of-range value is clamped with a warning."""
    caplog.set_level(logging.WARNING, logger="rel_io")
    assert safe_parse_int("500", 1, min_val=1, max_val=64, source="N") == 64
    assert "clamped" in caplog.records[-1].getMessage()


def test_strict_mode_raises():
    """strict=True raises ParseError (a ValueError) naming the source instead of falling back."""
    with pytest.raises(ParseError, match="PORT"):
        safe_parse_int("http", 80, source="PORT", strict=True)
    with pytest.raises(ValueError, match="maximum"):
        safe_parse_float("9", 1.0, max_val=2.0, strict=True)
    with pytest.raises(ParseError):
        safe_parse_bool("maybe", False, strict=True)
    with pytest.raises(ParseError):
        safe_parse_duration("soon", 1.0, strict=True)


def test_inverted_bounds_are_configuration_errors():
    """min_val > max_val is a ValueError naming both."""
    with pytest.raises(ValueError, match="min_val"):
        safe_parse_int("1", 0, min_val=5, max_val=1)


@settings(max_examples=200, deadline=None)
@given(value=anything, default=st.integers(-1000, 1000), low=st.integers(-500, 0), span=st.integers(0, 500))
def test_int_never_raises_and_stays_in_bounds(value, default, low, span):
    """Lenient safe_parse_int never raises and always returns an int within [min_val, max_val]."""
    result = safe_parse_int(value, default, min_val=low, max_val=low + span)
    assert isinstance(result, int)
    assert low <= result <= low + span


@settings(max_examples=200, deadline=None)
@given(
    value=anything,
    default=st.floats(-1e6, 1e6),
    low=st.floats(-1e3, 0),
    span=st.floats(0, 1e3),
)
def test_float_never_raises_and_stays_in_bounds(value, default, low, span):
    """Lenient safe_parse_float never raises and always returns a finite float within bounds."""
    result = safe_parse_float(value, default, min_val=low, max_val=low + span)
    assert math.isfinite(result)
    assert low <= result <= low + span


@settings(max_examples=100, deadline=None)
@given(value=anything, default=st.booleans())
def test_bool_never_raises(value, default):
    """Lenient safe_parse_bool never raises and returns a bool."""
    assert isinstance(safe_parse_bool(value, default), bool)


@settings(max_examples=100, deadline=None)
@given(value=anything, default=st.floats(0, 100))
def test_duration_never_raises(value, default):
    """Lenient safe_parse_duration never raises and returns a finite duration >= 0 within bounds."""
    result = safe_parse_duration(value, default, min_val=0.0, max_val=3600.0)
    assert 0.0 <= result <= 3600.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("2d", 172800.0),
        ("1.5", 1.5),
        ("250us", 0.00025),
        ("10 min", 600.0),
        ("1H", 3600.0),
    ],
)
def test_duration_formats(text, seconds):
    """Durations with units parse to seconds."""
    assert safe_parse_duration(text, -1.0) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["-5s", "5 parsecs", "s", "5s5", "inf", "nan"])
def test_bad_durations_give_default(text):
    """Negative, unknown-unit and malformed durations give the default."""
    assert safe_parse_duration(text, 9.0) == 9.0


@pytest.mark.parametrize(("text", "expected"), [("yes", True), ("OFF", False), ("1", True), ("f", False)])
def test_bool_words(text, expected):
    """Common yes/no words parse."""
    assert safe_parse_bool(text, not expected) is expected


def test_env_helpers(monkeypatch, caplog):
    """env_* read the environment, warn naming the variable, and fall back or clamp."""
    caplog.set_level(logging.WARNING, logger="rel_io")
    monkeypatch.setenv("REL_WORKERS", "many")
    monkeypatch.setenv("REL_RATIO", "0.25")
    monkeypatch.setenv("REL_DEBUG", "on")
    monkeypatch.setenv("REL_TIMEOUT", "500ms")
    monkeypatch.delenv("REL_UNSET", raising=False)
    assert env_int("REL_WORKERS", 4, min_val=1) == 4
    assert any("REL_WORKERS" in r.getMessage() for r in caplog.records)
    assert env_float("REL_RATIO", 1.0, max_val=0.2) == 0.2
    assert env_bool("REL_DEBUG", False) is True
    assert env_duration("REL_TIMEOUT", 30.0) == 0.5
    assert env_int("REL_UNSET", 7) == 7
    assert env_int("X", 1, environ={"X": "9"}) == 9
    with pytest.raises(ParseError, match="REL_WORKERS"):
        env_int("REL_WORKERS", 4, strict=True)
