from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from rel_telemetry import clear_error_reports, configure_error_reports


@pytest.fixture(autouse=True)
def _clean_state() -> Iterator[None]:
    """Every test starts with an empty error store and the usual umask."""
    clear_error_reports()
    configure_error_reports(capacity=1000, sink_dir=None)
    old_umask = os.umask(0o022)
    yield
    os.umask(old_umask)
    clear_error_reports()


def temps_in(directory: os.PathLike[str] | str) -> list[str]:
    """rel-io temp files left in ``directory``."""
    return sorted(name for name in os.listdir(directory) if name.endswith(".tmp"))
