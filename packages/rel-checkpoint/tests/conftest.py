from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from rel_telemetry import clear_error_reports, configure_error_reports


@pytest.fixture(autouse=True)
def _clean_reports() -> Iterator[None]:
    """Every test starts with an empty error-report store."""
    clear_error_reports()
    configure_error_reports(capacity=1000, sink_dir=None)
    yield
    clear_error_reports()


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run directory with a snapshot of seed 003's shape."""
    path = tmp_path / "run"
    path.mkdir()
    write_snapshot(path, run_id="run-1", run_state="RUNNING", completed_workers=["worker1", "worker2"])
    return path


def write_snapshot(run_dir: Path, **fields: object) -> None:
    (run_dir / "snapshot.json").write_text(json.dumps(fields), encoding="utf-8")
