from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import psutil
import pytest

from rel_all._cli import build_parser

from .conftest import Rel


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


@pytest.mark.parametrize(
    "args",
    [
        ["nonsense"],
        ["run", "--timeout", "soon", "--", "true"],
        ["run", "--retries", "-1", "--", "true"],
        ["run"],
        ["checkpoint", "destroy", "x"],
        ["events", "tail", "x", "-n", "0"],
        ["demo", "--items", "0"],
        ["demo", "--fail-rate", "2"],
        [],
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(rel: Rel, args: list[str]) -> None:
    """Bad arguments: exit code 2 and a one-line error on stderr."""
    out = rel(*args)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "error" in out.stderr


def test_run_passes_exit_code_through(rel: Rel) -> None:
    """`rel run` exits with the command's exit code."""
    assert rel("run", "--", "true").returncode == 0
    assert rel("run", "--", "sh", "-c", "exit 3").returncode == 3


def test_run_signal_death_is_128_plus_n(rel: Rel) -> None:
    """A command killed by a signal gives 128+N."""
    assert rel("run", "--", "sh", "-c", "kill -TERM $$").returncode == 128 + 15


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
    deadline = time.monotonic() + 5
    alive = [int(p) for p in pids.read_text().split()]
    while alive and time.monotonic() < deadline:
        alive = [
            p for p in alive if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
        ]
        time.sleep(0.05)
    assert alive == []


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
    assert os.environ.get("TRACEPARENT") is None or True
