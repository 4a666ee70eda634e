from __future__ import annotations

import json
import os
import threading
import tracemalloc
from pathlib import Path

import pytest

from rel_telemetry import configure_error_reports, get_error_reports, record_error


def test_seed_001_report_fields() -> None:
    """Reports expose the fields seed 001 reads: operation, path, exception type and message, context."""
    record_error("read_file", FileNotFoundError("nope"), path="a.txt", context={"attempt": 1})
    (report,) = get_error_reports(operation="read_file", limit=5)
    assert report.operation == "read_file"
    assert report.path == "a.txt"
    assert report.exception_type == "FileNotFoundError"
    assert report.exception_msg == "nope"
    assert report.context == {"attempt": 1}
    assert report.timestamp.endswith("Z")


def test_newest_first_filter_and_limit() -> None:
    """get_error_reports returns newest first, filtered by operation, at most limit."""
    for i in range(10):
        record_error("op_a" if i % 2 else "op_b", ValueError(str(i)))
    a = get_error_reports(operation="op_a", limit=3)
    assert [r.exception_msg for r in a] == ["9", "7", "5"]
    assert len(get_error_reports()) == 10
    with pytest.raises(ValueError, match="limit"):
        get_error_reports(limit=-1)


def test_store_is_bounded() -> None:
    """Memory stays flat: only the newest `capacity` reports are kept."""
    configure_error_reports(capacity=100)
    err = OSError("x")
    for _ in range(2000):
        record_error("op", err)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(20000):
        record_error("op", err)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(get_error_reports()) == 100
    assert after - before < 200_000


def test_thread_safety() -> None:
    """Eight threads recording at once lose nothing within capacity."""
    configure_error_reports(capacity=10_000)

    def worker(n: int) -> None:
        for i in range(1000):
            record_error(f"t{n}", RuntimeError(str(i)))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(get_error_reports()) == 8000
    assert all(len(get_error_reports(operation=f"t{n}")) == 1000 for n in range(8))


def test_jsonl_sink_and_rotation(tmp_path: Path) -> None:
    """The sink appends JSON lines and rotates at the size limit."""
    configure_error_reports(sink_dir=tmp_path / "errs", sink_max_bytes=2000, sink_backups=2)
    for i in range(60):
        record_error("write_file", PermissionError(f"denied {i}"), path=f"/x/{i}")
    files = sorted(p.name for p in (tmp_path / "errs").iterdir())
    assert files == ["error_reports.jsonl", "error_reports.jsonl.1", "error_reports.jsonl.2"]
    last = (tmp_path / "errs" / "error_reports.jsonl").read_text().splitlines()[-1]
    data = json.loads(last)
    assert data["path"] == "/x/59"
    assert data["exception_type"] == "PermissionError"
    assert all(p.stat().st_size <= 2000 for p in (tmp_path / "errs").iterdir())


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_sink_warns_once_permissions(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A sink directory without write permission warns once and never raises."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        configure_error_reports(sink_dir=locked)
        for _ in range(5):
            record_error("op", ValueError("x"))
    finally:
        locked.chmod(0o700)
    assert len([r for r in caplog.records if "not writable" in r.getMessage()]) == 1


def test_unwritable_sink_warns_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A sink path blocked by a regular file warns once and never raises (works as root too)."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    configure_error_reports(sink_dir=blocker / "sub")
    for _ in range(5):
        record_error("op", ValueError("x"))
    assert len(get_error_reports()) == 5
    assert len([r for r in caplog.records if "not writable" in r.getMessage()]) == 1


def test_invalid_configuration() -> None:
    """Bad store settings fail at configuration with the parameter named."""
    with pytest.raises(ValueError, match="capacity"):
        configure_error_reports(capacity=0)
    with pytest.raises(ValueError, match="sink_max_bytes"):
        configure_error_reports(sink_max_bytes=0)


def test_context_is_copied_and_made_safe() -> None:
    """Context is copied into JSON-safe values, so later mutation does not change the report."""
    ctx: dict[str, object] = {"items": [1, 2], "obj": object()}
    record_error("op", ValueError("x"), context=ctx)
    ctx["items"] = "changed"
    (report,) = get_error_reports()
    assert report.context["items"] == [1, 2]
    assert isinstance(report.context["obj"], str)
