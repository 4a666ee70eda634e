from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from rel_all._demo import run_demo
from rel_all._flaky_service import FlakyConfig, FlakyService

from .conftest import Rel


def test_demo_completes_and_resumes(rel: Rel, tmp_path: Path) -> None:
    """The demo processes every item once; a second run finds them all done."""
    workdir = tmp_path / "d"
    out = rel("demo", "--items", "40", "--batch", "10", "--workdir", str(workdir), "--quiet", "--trace")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "40 processed now, 0 already done" in out.stdout
    assert "every item has exactly one result" in out.stdout
    assert "demo.run" in out.stdout
    assert "proc.run" in out.stdout
    results = sorted((workdir / "results").iterdir())
    assert len(results) == 40
    assert json.loads(results[7].read_text())["item"] == 7
    again = rel("demo", "--items", "40", "--workdir", str(workdir), "--quiet")
    assert again.returncode == 0
    assert "0 processed now, 40 already done" in again.stdout


def test_demo_fresh_discards_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--fresh starts over: every item is processed again."""
    workdir = tmp_path / "d"
    assert run_demo(items=12, batch=6, workdir=workdir, quiet=True) == 0
    assert run_demo(items=12, batch=6, workdir=workdir, quiet=True, fresh=True) == 0
    assert "12 processed now, 0 already done" in capsys.readouterr().out


def test_flaky_service_is_flaky_then_answers() -> None:
    """The service fails some first attempts (503/429 with Retry-After) and answers retries."""
    service = FlakyService(FlakyConfig(seed=1, fail_rate=1.0, outage_seconds=0)).start()
    try:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{service.url}/items/3", timeout=5)
        assert info.value.code in (429, 503)
        info.value.close()
        with urllib.request.urlopen(f"{service.url}/items/3", timeout=5) as response:
            assert json.loads(response.read())["item"] == 3
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{service.url}/nothing", timeout=5)
        assert missing.value.code == 404
        missing.value.close()
    finally:
        service.stop()


@pytest.mark.parametrize("field", ["fail_rate", "rate_limit_rate"])
def test_flaky_config_validation(field: str) -> None:
    """Rates outside [0, 1] are rejected, naming the parameter."""
    with pytest.raises(ValueError, match=field):
        FlakyConfig(**{field: 1.5})
