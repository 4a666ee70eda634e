"""pytest fixtures shipped with rel-retry (loaded automatically by pytest)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rel_retry._testing import TestingRecord, testing


@pytest.fixture
def rel_retry_testing() -> Iterator[TestingRecord]:
    """Testing mode for the test: zero waits, attempts recorded in the yielded record."""
    with testing() as record:
        yield record
