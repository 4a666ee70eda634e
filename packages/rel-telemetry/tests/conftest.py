from __future__ import annotations

from collections.abc import Iterator

import pytest

from rel_telemetry import clear_error_reports, configure_error_reports
from rel_telemetry._propagation import _reset_process_parent


@pytest.fixture(autouse=True)
def _clean_state() -> Iterator[None]:
    """Every test starts with an empty error store, no sink and no inherited trace."""
    clear_error_reports()
    configure_error_reports(capacity=1000, sink_dir=None)
    _reset_process_parent()
    yield
    clear_error_reports()
    configure_error_reports(capacity=1000, sink_dir=None)
    _reset_process_parent()
