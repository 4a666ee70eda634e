from __future__ import annotations

from typing import Any

import pytest

from rel_telemetry import traced, tracing_enabled
from rel_telemetry.testing import capture_spans


def test_rel_spans_fixture_captures_the_test(rel_spans: Any) -> None:
    """The rel_spans pytest fixture, installed with the package, records the test's spans."""
    assert tracing_enabled()
    with traced("in test"):
        pass
    assert rel_spans.names() == ["in test"]


def test_capture_restores_the_previous_provider() -> None:
    """Nested captures each see their own spans, and leaving them restores what was before."""
    assert not tracing_enabled()
    with capture_spans() as outer:
        with traced("outer span"):
            pass
        with capture_spans() as inner, traced("inner span"):
            pass
        with traced("outer again"):
            pass
    assert not tracing_enabled()
    assert outer.names() == ["outer span", "outer again"]
    assert inner.names() == ["inner span"]


def test_one_names_the_spans_it_found() -> None:
    """CapturedSpans.one fails with the names seen when the span is missing or repeated."""
    with capture_spans() as spans:
        for _ in range(2):
            with traced("twice"):
                pass
    with pytest.raises(AssertionError, match=r"found 2 among \['twice', 'twice'\]"):
        spans.one("twice")
    with pytest.raises(AssertionError, match="found 0"):
        spans.one("never")
    spans.clear()
    assert len(spans) == 0
