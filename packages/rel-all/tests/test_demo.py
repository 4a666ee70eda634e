from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from rel_all._demo import run_demo
from rel_all._flaky_service import FlakyConfig, FlakyService

from .conftest import Rel, alive_after


def test_demo_completes_and_resumes(rel: Rel, tmp_path: Path) -> None:
    """The demo processes every item once; a second run finds them all done."""
    workdir = tmp_path / "d"
    out = rel("demo", "--items", "40", "--batch", "10", "--workdir", str(workdir), "--trace")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "40 processed now, 0 already done" in out.stdout
    # The progress bar (plain lines when stderr is not a terminal) ends at 40/40.
    assert re.search(r"\[#{30}\] 40/40 100%", out.stderr), out.stderr[-1000:]
    # The summary: items done, fetches and retries, breaker trips, time.
    summary = re.search(
        r"(\d+) items fetched with (\d+) attempts, retries (\d+), breaker trips (\d+) .* time ([\d.]+) s",
        out.stdout,
    )
    assert summary is not None, out.stdout
    fetched, attempts, retries, _trips, seconds = summary.groups()
    assert int(fetched) == 40
    assert int(retries) == int(attempts) - 40 > 0  # the service fails some first attempts on purpose
    assert float(seconds) > 0
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


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_demo_stops_cleanly_on_a_signal_and_resumes(tmp_path: Path, signum: int) -> None:
    """Ctrl-C or SIGTERM mid-run: one message and 128+N, no traceback, no worker left; a rerun finishes the rest."""
    workdir = tmp_path / "d"
    args = [
        sys.executable,
        "-m",
        "rel_all",
        "demo",
        "--items",
        "40",
        "--batch",
        "5",
        "--workdir",
        str(workdir),
    ]
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - undo a shell's ignore
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the first progress line: the pipeline is working
        assert "/40" in first, first
        children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        proc.send_signal(signum)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signum, err[-2000:]
    assert "Traceback" not in err
    assert f"stopped by {signal.Signals(signum).name}" in err
    assert "Run the same command again to resume" in err
    assert alive_after(children, 10) == []
    done = int(re.search(r"; (\d+) of 40 items are done", err).group(1))  # type: ignore[union-attr]
    again = subprocess.run([*args, "--quiet"], capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{40 - done} processed now, {done} already done" in again.stdout


def test_progress_bar_redraws_one_line_on_a_terminal() -> None:
    """On a terminal the bar redraws in place (carriage returns) and ends with one newline and the counters."""
    import io

    from rel_all._progress import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    bar = Progress(10, stream=stream, width=10)
    bar.advance(4, retries=2, trips=0)
    bar.advance(6, retries=5, trips=1)
    bar.finish()
    text = stream.getvalue()
    assert text.startswith("\r[####------] 4/10")
    assert text.count("\n") == 1
    assert text.endswith("retries=5 trips=1\n")
    assert "[##########] 10/10 100%" in text


def test_second_demo_on_the_same_workdir_is_refused(rel: Rel, tmp_path: Path) -> None:
    """While one demo holds the work directory, another exits 1 at once, naming it, and writes nothing."""
    from rel_io import file_lock

    workdir = tmp_path / "d"
    (workdir / "results").mkdir(parents=True)
    with file_lock(workdir / ".demo.lock", timeout=5):
        out = rel("demo", "--items", "5", "--workdir", str(workdir), "--quiet")
    assert out.returncode == 1
    assert "another demo is running" in out.stderr
    assert str(workdir) in out.stderr
    assert list((workdir / "results").iterdir()) == []


def test_trace_tree_nests_children_and_folds_repeated_siblings() -> None:
    """The console tree indents children under parents, folds same-named siblings (xN) and counts failures."""
    from rel_all._trace_tree import render_tree
    from rel_telemetry import traced
    from rel_telemetry.testing import capture_spans

    with capture_spans() as spans:
        with traced("job"):
            for i in range(3):
                with traced("step"), traced("write"):
                    pass
                if i == 2:
                    with pytest.raises(ValueError, match="boom"), traced("step"):
                        raise ValueError("boom")
        with traced("other"):
            pass
    lines = render_tree(list(spans)).splitlines()
    names = [re.match(r"\s*\S+(?: x\d+)?", line).group(0) for line in lines]  # type: ignore[union-attr]
    assert names == ["job", "  step x4", "    write x3", "other"], lines
    assert lines[1].endswith("(1 failed)")
