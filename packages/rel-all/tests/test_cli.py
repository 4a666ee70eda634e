from __future__ import annotations

import errno
import sys
import time
from pathlib import Path

import psutil
import pytest

from rel_all._cli import build_parser, main
from rel_all._cmd_run import _retryable
from rel_proc import ProcessSpawnError, ProgramNotFoundError

from .conftest import Rel, alive_after


def test_help_lists_every_command(rel: Rel) -> None:
    """`rel --help` names every subcommand and the exit code convention."""
    out = rel("--help")
    assert out.returncode == 0
    for command in ("run", "checkpoint", "events", "health", "demo"):
        assert f"rel {command}" in out.stdout
    assert "Exit codes" in out.stdout


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("run", ["--timeout", "--grace", "--retries", "--backoff"]),
        ("checkpoint", ["ls", "show", "verify", "--id"]),
        ("events", ["verify", "tail", "-n"]),
        ("health", ["--check", "--serve", "--timeout", "--json"]),
        ("demo", ["--items", "--workdir", "--fresh", "--trace"]),
    ],
)
def test_subcommand_help_names_its_options(rel: Rel, command: str, options: list[str]) -> None:
    """Each subcommand's --help documents the options the parser really accepts."""
    out = rel(command, "--help")
    assert out.returncode == 0
    for option in options:
        assert option in out.stdout
    parser_actions = build_parser()._subparsers._group_actions[0].choices[command]._option_string_actions  # type: ignore[union-attr]
    for option in parser_actions:
        assert option in out.stdout


@pytest.fixture
def bad_inputs(tmp_path: Path) -> Path:
    """A directory with things that are not what the commands expect."""
    (tmp_path / "plain-dir").mkdir()
    (tmp_path / "a-file.txt").write_text("not a run directory\n")
    return tmp_path


BAD_ARGUMENTS = [
    ["nonsense"],
    [],
    ["--no-such-option"],
    ["run", "--timeout", "soon", "--", "true"],
    ["run", "--timeout", "-1", "--", "true"],
    ["run", "--grace", "nan", "--", "true"],
    ["run", "--retries", "-1", "--", "true"],
    ["run", "--retries", "two", "--", "true"],
    ["run", "--backoff", "inf", "--", "true"],
    ["run", "--backoff", "1e300", "--retries", "1", "--", "false"],
    ["run", "--grace", "1e12", "--", "true"],
    ["run"],
    ["run", "--"],
    ["run", "--timeout"],
    ["checkpoint"],
    ["checkpoint", "ls"],
    ["checkpoint", "destroy", "x"],
    ["checkpoint", "ls", "{tmp}/missing"],
    ["checkpoint", "ls", "{tmp}/plain-dir"],
    ["checkpoint", "ls", "{tmp}/a-file.txt"],
    ["checkpoint", "show", "{tmp}/missing"],
    ["checkpoint", "show", "{tmp}/plain-dir"],
    ["checkpoint", "verify", "{tmp}/missing"],
    ["checkpoint", "verify", "{tmp}/plain-dir"],
    ["checkpoint", "verify", "{tmp}/a-file.txt"],
    ["checkpoint", "verify", "{tmp}/plain-dir", "--id", "20260101_000000_000000"],
    ["events"],
    ["events", "verify"],
    ["events", "replay", "x"],
    ["events", "verify", "{tmp}/missing.ndjson"],
    ["events", "verify", "{tmp}/plain-dir"],
    ["events", "tail", "{tmp}/missing.ndjson"],
    ["events", "tail", "x", "-n", "0"],
    ["events", "tail", "x", "-n", "many"],
    ["health", "--check"],
    ["health", "--check", "tcp:localhost"],
    ["health", "--check", "tcp:localhost:0"],
    ["health", "--check", "memory:lots"],
    ["health", "--timeout", "-2"],
    ["health", "--serve", "http"],
    ["health", "--serve", "-1"],
    ["health", "--host", "0.0.0.0"],
    ["demo", "--items", "0"],
    ["demo", "--items", "ten"],
    ["demo", "--batch", "0"],
    ["demo", "--concurrency", "-3"],
    ["demo", "--fail-rate", "2"],
    ["demo", "--fail-rate", "often"],
    ["demo", "--seed", "x"],
    ["demo", "extra-positional"],
]


def _main_in_process(args: list[str]) -> int:
    try:
        return main(args)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize("args", BAD_ARGUMENTS, ids=lambda a: " ".join(a) or "(none)")
def test_bad_arguments_give_one_line_and_exit_2(
    bad_inputs: Path, args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bad arguments, for every subcommand: exit code 2, a one-line error on stderr, no traceback."""
    monkeypatch.chdir(bad_inputs)
    code = _main_in_process([a.format(tmp=bad_inputs) for a in args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "error" in err


@pytest.mark.parametrize(
    "args",
    [["nonsense"], ["run", "--timeout", "soon", "--", "true"], ["checkpoint", "ls", "{tmp}/missing"]],
)
def test_bad_arguments_of_the_real_command(rel: Rel, bad_inputs: Path, args: list[str]) -> None:
    """The installed command itself exits 2 with one line on stderr for bad arguments."""
    out = rel(*(a.format(tmp=bad_inputs) for a in args))
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "Traceback" not in out.stderr


def test_run_passes_exit_code_through(rel: Rel) -> None:
    """`rel run` exits with the command's exit code."""
    assert rel("run", "--", "true").returncode == 0
    assert rel("run", "--", "sh", "-c", "exit 3").returncode == 3


def test_run_signal_death_is_128_plus_n(rel: Rel) -> None:
    """A command killed by a signal gives 128+N."""
    assert rel("run", "--", "sh", "-c", "kill -TERM $$").returncode == 128 + 15


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="real-time signal numbers are Linux's")
def test_run_death_by_a_signal_without_a_name(rel: Rel) -> None:
    """Signal 40 (a real-time one) has no signal.Signals member: still 128+N and a one-line report."""
    out = rel("run", "--", "sh", "-c", "kill -40 $$")
    assert out.returncode == 128 + 40, out.stderr
    assert "Traceback" not in out.stderr
    assert "failed with signal SIG40" in out.stderr


def test_run_missing_program(rel: Rel) -> None:
    """A missing program gives 127 and names it."""
    out = rel("run", "--", "no-such-program-rel-test")
    assert out.returncode == 127
    assert "no-such-program-rel-test" in out.stderr


def test_run_retries_until_success(rel: Rel, tmp_path: Path) -> None:
    """A command failing twice then succeeding passes with --retries 2; the attempts are reported."""
    counter = tmp_path / "n"
    script = f"n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; [ $n -ge 3 ]"
    out = rel("run", "--retries", "2", "--backoff", "0.01", "--", "sh", "-c", script)
    assert out.returncode == 0, out.stderr
    assert counter.read_text().strip() == "3"
    assert out.stderr.count("attempt") == 2


def test_run_gives_up_after_retries(rel: Rel) -> None:
    """With the retries spent, the last exit code is passed through."""
    out = rel("run", "--retries", "1", "--backoff", "0.01", "--", "sh", "-c", "exit 5")
    assert out.returncode == 5
    assert out.stderr.count("attempt") == 2


def test_run_timeout_kills_the_tree(rel: Rel, tmp_path: Path) -> None:
    """On timeout the whole tree (a shell and its background sleepers) is ended; exit 124."""
    pids = tmp_path / "pids"
    script = f"sleep 60 & echo $! >> {pids}; sleep 60 & echo $! >> {pids}; wait"
    start = time.monotonic()
    out = rel("run", "--timeout", "0.5", "--grace", "0.2", "--", "sh", "-c", script)
    assert out.returncode == 124
    assert time.monotonic() - start < 30
    assert alive_after((int(p) for p in pids.read_text().split()), 5) == []


def test_run_hands_trace_context_to_the_child(rel: Rel) -> None:
    """The child sees TRACEPARENT with the trace id rel was started in."""
    traceparent = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    code = "import os; print(os.environ.get('TRACEPARENT', 'none'))"
    out = rel("run", "--", sys.executable, "-c", code, env={"TRACEPARENT": traceparent})
    assert out.returncode == 0
    assert out.stdout.strip().split("-")[1] == "ab" * 16


def test_version(rel: Rel) -> None:
    """`rel --version` prints the rel-all version."""
    import rel_all

    out = rel("--version")
    assert out.stdout.strip() == f"rel {rel_all.__version__}"


def test_run_not_executable_is_126_and_not_retried(rel: Rel, tmp_path: Path) -> None:
    """A file that exists but cannot be executed gives 126 and one line, with no pointless retries."""
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)
    start = time.monotonic()
    # A retry would first wait 50-100 s (equal jitter): far beyond the bound below.
    out = rel("run", "--retries", "3", "--backoff", "100", "--", str(script))
    assert out.returncode == 126, out.stderr
    assert time.monotonic() - start < 40
    assert "Traceback" not in out.stderr
    assert str(script) in out.stderr


def test_run_missing_program_is_not_retried(rel: Rel) -> None:
    """A program that is not found fails at once (127) even with --retries: no backoff is waited."""
    start = time.monotonic()
    # A retry would first wait 50-100 s (equal jitter): far beyond the bound below.
    out = rel("run", "--retries", "3", "--backoff", "100", "--", "no-such-program-rel-test")
    assert out.returncode == 127
    assert time.monotonic() - start < 40


def test_run_timeout_then_retry_succeeds(rel: Rel, tmp_path: Path) -> None:
    """A timed-out attempt is retried; the next attempt's success is rel's exit code."""
    counter = tmp_path / "n"
    script = f"n=$(cat {counter} 2>/dev/null || echo 0); echo $((n+1)) > {counter}; [ $n -ge 1 ] || sleep 60"
    out = rel(
        "run", "--timeout", "0.5", "--grace", "0.2", "--retries", "2", "--backoff", "0.01", "--",
        "sh", "-c", script,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert counter.read_text().strip() == "2"
    assert "timed out" in out.stderr


def test_sigterm_to_rel_run_ends_the_tree(tmp_path: Path) -> None:
    """SIGTERM to `rel run` ends the command's whole tree before rel exits (143)."""
    import signal
    import subprocess

    pids = tmp_path / "pids"
    script = f"sleep 60 & echo $! >> {pids}; sleep 60 & echo $! >> {pids}; wait"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rel_all", "run", "--grace", "0.5", "--", "sh", "-c", script]
    )
    try:
        deadline = time.monotonic() + 30
        while (not pids.exists() or len(pids.read_text().split()) < 2) and time.monotonic() < deadline:
            time.sleep(0.05)
        children = [int(p) for p in pids.read_text().split()]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        proc.kill()
    assert alive_after(children, 5) == []


def test_run_passes_stdin_stdout_and_stderr_through(tmp_path: Path) -> None:
    """The command reads rel's stdin and writes to rel's stdout and stderr, as if run directly."""
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "rel_all", "run", "--", "sh", "-c", "tr a-z A-Z; echo to-stderr >&2"],
        input="piped through\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "PIPED THROUGH\n"
    assert out.stderr == "to-stderr\n"


def test_second_sigterm_during_teardown_still_exits_143(tmp_path: Path) -> None:
    """A second SIGTERM while the tree is being ended changes nothing: 143, no traceback."""
    import signal
    import subprocess

    ready, termed = tmp_path / "ready", tmp_path / "termed"
    # The shell survives SIGTERM (its trap notes it), so the teardown waits out the grace period.
    script = f"trap 'echo x > {termed}' TERM; echo x > {ready}; while :; do sleep 0.05; done"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rel_all", "run", "--grace", "5", "--", "sh", "-c", script],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Wait until rel is past the spawn: its owner-death watchdog, started right after,
        # is its second child. (A SIGTERM during the spawn ends the new tree at once.)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
            ready.exists() and len(psutil.Process(proc.pid).children()) >= 2
        ):
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        while not termed.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert termed.exists(), "the command never saw the first SIGTERM"
        proc.send_signal(signal.SIGTERM)  # the tree is still inside its 5 s grace period
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err


def test_only_transient_spawn_failures_are_retried() -> None:
    """A spawn that failed for lack of resources is retried; a missing or non-executable program is not."""
    assert _retryable(ProcessSpawnError(["job"], errno.EAGAIN, "Resource temporarily unavailable"))
    assert _retryable(ProcessSpawnError(["job"], errno.ETXTBSY, "Text file busy"))
    assert not _retryable(ProcessSpawnError(["job"], errno.EACCES, "Permission denied"))
    assert not _retryable(ProcessSpawnError(["job"], errno.ENOEXEC, "Exec format error"))
    assert not _retryable(ProgramNotFoundError(["job"], "/usr/bin"))
