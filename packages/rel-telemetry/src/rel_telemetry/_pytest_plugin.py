"""pytest fixtures shipped with rel-telemetry (loaded automatically by pytest)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def rel_spans() -> Iterator[Any]:
    """Spans finished during the test, captured in memory (needs opentelemetry-sdk)."""
    from rel_telemetry.testing import capture_spans  # noqa: PLC0415 - the SDK is optional

    with capture_spans() as spans:
        yield spans
