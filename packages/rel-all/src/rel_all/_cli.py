"""The ``rel`` command: supervised runs, checkpoint and event-log inspection, health, the demo."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TypeVar

from rel_all._version import __version__

_T = TypeVar("_T")

DESCRIPTION = """\
rel: reliability tools from the command line.

  rel run --timeout 30 --retries 2 -- ./job.sh ARGS   run a command supervised: retried
                                                      on failure, whole tree killed on timeout
  rel checkpoint ls|show|verify RUN_DIR               inspect a run directory's checkpoints
  rel events verify|tail LOG                          check an event log, or print its last records
  rel health --check disk:/ --check tcp:HOST:PORT     run health checks (or serve them)
  rel demo                                            the resumable batch pipeline demo

Exit codes: 0 success, 1 a check or verification failed, 2 bad arguments;
`rel run` passes the command's own exit code through.
Run `rel COMMAND --help` for a command's options, exit codes and examples.
"""


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error and exit code 2 for bad arguments."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _parse(text: str, kind: Callable[[str], _T], expected: str) -> _T:
    """``kind(text)``, or the one-line argparse error ``expected ..., got TEXT``."""
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


# About three years: beyond it, sleeps and backoff delays (up to 16x the
# --backoff) overflow the platform's time type.
_MAX_SECONDS = 10**8


def _duration(text: str) -> float:
    value = _parse(text.removesuffix("s"), float, "seconds such as 30 or 2.5")
    if not math.isfinite(value) or not 0 <= value <= _MAX_SECONDS:
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds from 0 to {_MAX_SECONDS}, got {text!r}"
        )
    return value


def _timeout(text: str) -> float:
    value = _duration(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a number of seconds > 0, got 0")
    return value


def _port(text: str) -> int:
    value = _count(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port in 0-65535 (0: any free port), got {text!r}")
    return value


def _rate(text: str) -> float:
    value = _parse(text, float, "a number from 0 to 1")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value


def _count(text: str) -> int:
    value = _parse(text, int, "a whole number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _positive(text: str) -> int:
    value = _count(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a number >= 1, got 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The full ``rel`` argument parser."""
    parser = _Parser(
        prog="rel", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"rel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    raw = argparse.RawDescriptionHelpFormatter
    run = sub.add_parser(
        "run",
        help="run a command supervised, retried on failure, tree killed on timeout",
        formatter_class=raw,
        description="""\
Run CMD as a supervised child process (rel-proc). On timeout, Ctrl-C or
SIGTERM the whole process tree is ended: SIGTERM, then SIGKILL after the
grace period. A failed attempt (non-zero exit, death by signal, timeout) is
retried with exponential backoff (rel-retry) when --retries is given.
The command reads and writes rel's own stdin, stdout and stderr.
The child receives the trace context in TRACEPARENT; with
OTEL_EXPORTER_OTLP_ENDPOINT set, rel's own spans are exported there over
OTLP/HTTP and the child's spans join the same trace.""",
        epilog="""\
exit codes:
  the command's own exit code (of the last attempt)
  124    the last attempt timed out
  126    CMD exists but cannot be executed
  127    CMD was not found
  128+N  the command was killed by signal N
  2      bad arguments to rel run

examples:
  rel run -- make test
  rel run --timeout 600 --retries 3 -- ./nightly-export.sh --full
  rel run --timeout 30 --grace 2 -- python worker.py""",
    )
    run.add_argument(
        "--timeout", type=_timeout, default=None, metavar="S", help="seconds allowed per attempt (no limit)"
    )
    run.add_argument(
        "--grace", type=_duration, default=5.0, metavar="S", help="seconds between SIGTERM and SIGKILL (5)"
    )
    run.add_argument(
        "--retries", type=_count, default=0, metavar="N", help="retries after a failed attempt (0)"
    )
    run.add_argument(
        "--backoff",
        type=_duration,
        default=1.0,
        metavar="S",
        help="delay before the first retry, doubled each time, jittered (1)",
    )
    run.add_argument(
        "argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS ...]", help="the command to run, after --"
    )

    cp = sub.add_parser(
        "checkpoint",
        help="list, show or verify the checkpoints of a run directory",
        formatter_class=raw,
        description="""\
Inspect a rel-checkpoint run directory (the directory given to
rel_checkpoint.Run, holding checkpoints/, snapshot.json and events.ndjson).
Nothing is modified.

  ls      one line per checkpoint, oldest first (CORRUPT for a damaged one)
  show    the latest valid checkpoint's snapshot as JSON (or --id ID)
  verify  check every checkpoint's checksum, the snapshot and the event log""",
        epilog="""\
exit codes:
  0  all is well
  1  a checkpoint is corrupt ('ls' and 'show' list or skip it, 'show' prints
     the newest valid one), the event log is torn or corrupt ('verify'), or no
     checkpoint verifies ('show')
  2  bad arguments, or RUN_DIR is not a run directory

examples:
  rel checkpoint ls rel-demo-run/run
  rel checkpoint show rel-demo-run/run --id 20260101_120000_000000
  rel checkpoint verify rel-demo-run/run""",
    )
    cp.add_argument("action", choices=["ls", "show", "verify"], help="ls, show or verify")
    cp.add_argument("run_dir", metavar="RUN_DIR", help="the run directory")
    cp.add_argument(
        "--id",
        dest="checkpoint_id",
        default=None,
        metavar="ID",
        help="the checkpoint for 'show', as listed by 'ls' (default: the latest valid one)",
    )

    ev = sub.add_parser(
        "events",
        help="verify or tail an event log",
        formatter_class=raw,
        description="""\
Read a rel-checkpoint event log (events.ndjson: one framed, checksummed
record per line). LOG may be the file or the run directory holding it.
Nothing is modified.

  verify  check every record's frame, checksum and sequence number; report a
          torn tail (an append cut short by a crash) and corrupt records
  tail    print the last N valid records as JSON lines""",
        epilog="""\
exit codes:
  0  the log is sound
  1  the log has a torn tail ('tail' still prints the valid records before it)
     or a corrupt record
  2  bad arguments, or LOG is not an event log

examples:
  rel events verify rel-demo-run/run/events.ndjson
  rel events tail -n 20 rel-demo-run/run""",
    )
    ev.add_argument("action", choices=["verify", "tail"], help="verify or tail")
    ev.add_argument("log", metavar="LOG", help="an event log, or a run directory holding events.ndjson")
    ev.add_argument("-n", type=_positive, default=10, metavar="N", help="records to show for 'tail' (10)")

    health = sub.add_parser(
        "health",
        help="run health checks once, or serve them over HTTP",
        formatter_class=raw,
        description="""\
Run health checks (rel-health) once and print a report, or serve them for
probes. Without --check: disk:/, memory and files.

checks (SPEC):
  disk:PATH      used space of the filesystem holding PATH
  memory         system memory in use
  cpu            system-wide CPU use
  files          this process's open files against its limit
  tcp:HOST:PORT  a TCP connection can be opened
  http:URL       URL answers with HTTP 200

With --serve PORT, /livez, /readyz and /healthz are served on HOST:PORT
(--host, 127.0.0.1 unless given) until Ctrl-C or SIGTERM; PORT 0 picks a free
port and prints it. Probes from outside the machine (Kubernetes) need
--host 0.0.0.0.""",
        epilog="""\
exit codes:
  0  every check passed (or the server was stopped)
  1  a check failed, or the port could not be bound
  2  bad arguments, such as an unknown SPEC

examples:
  rel health
  rel health --check disk:/var/lib --check tcp:db.internal:5432 --json
  rel health --check http:http://127.0.0.1:8080/ping --serve 8081 --host 0.0.0.0""",
    )
    health.add_argument(
        "--check", action="append", default=[], metavar="SPEC", help="a check to run (repeatable)"
    )
    health.add_argument(
        "--timeout", type=_timeout, default=2.0, metavar="S", help="seconds allowed per check (2)"
    )
    health.add_argument(
        "--serve", type=_port, default=None, metavar="PORT", help="serve the checks on HOST:PORT"
    )
    health.add_argument(
        "--host", default=None, metavar="HOST", help="address to serve on, with --serve (127.0.0.1)"
    )
    health.add_argument("--json", action="store_true", help="print the report as JSON (health+json)")

    demo = sub.add_parser(
        "demo",
        help="run the resumable batch pipeline demo",
        formatter_class=raw,
        description="""\
A batch pipeline through the whole stack. It starts a deliberately flaky HTTP
service on 127.0.0.1, fetches every work item from it through retry, circuit
breaker and bulkhead, transforms the items in batches in managed worker
subprocesses, writes each result atomically to DIR/results/ and records
progress in the run directory DIR/run/. A progress bar runs on stderr; the
summary at the end gives items done, retries, breaker trips and time.

Kill it at any moment (Ctrl-C, kill -9) and run the same command again: it
resumes, skipping every finished item, and ends with exactly one result per
item. With OTEL_EXPORTER_OTLP_ENDPOINT set, the trace is exported over
OTLP/HTTP; --trace prints it as a tree.""",
        epilog="""\
exit codes:
  0  every item has exactly one result
  1  results are missing, or another demo holds DIR
  2  bad arguments

examples:
  rel demo
  rel demo --items 1000 --fail-rate 0.4 --trace
  rel checkpoint verify rel-demo-run/run     # inspect what the demo left""",
    )
    demo.add_argument("--items", type=_positive, default=300, metavar="N", help="work items (300)")
    demo.add_argument(
        "--workdir", default="rel-demo-run", metavar="DIR", help="state directory (rel-demo-run)"
    )
    demo.add_argument(
        "--batch", type=_positive, default=25, metavar="N", help="items per worker process (25)"
    )
    demo.add_argument(
        "--concurrency", type=_positive, default=8, metavar="N", help="fetches at once, the bulkhead (8)"
    )
    demo.add_argument(
        "--fail-rate",
        type=_rate,
        default=0.2,
        metavar="F",
        help="share of first fetches the service fails, 0 to 1 (0.2)",
    )
    demo.add_argument("--seed", type=int, default=7, metavar="N", help="seed of the service's failures (7)")
    demo.add_argument("--fresh", action="store_true", help="discard earlier progress in DIR first")
    demo.add_argument("--trace", action="store_true", help="print a compact trace tree at the end")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.add_argument(
        "--verbose", action="store_true", help="also log every breaker transition and retry warning"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rel`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "run":
        from rel_all._cmd_run import run_command  # noqa: PLC0415 - load a command only when it runs

        command = list(args.argv)
        if command and command[0] == "--":
            command = command[1:]
        if not command:
            parser.exit(2, "rel run: error: no command given: rel run [options] -- CMD [ARGS...]\n")
        return run_command(
            command, timeout=args.timeout, grace=args.grace, retries=args.retries, backoff=args.backoff
        )
    if args.command == "checkpoint":
        from rel_all._cmd_inspect import checkpoint_command  # noqa: PLC0415 - load a command only when it runs

        return checkpoint_command(args.action, args.run_dir, args.checkpoint_id)
    if args.command == "events":
        from rel_all._cmd_inspect import events_command  # noqa: PLC0415 - load a command only when it runs

        return events_command(args.action, args.log, args.n)
    if args.command == "health":
        from rel_all._cmd_health import health_command  # noqa: PLC0415 - load a command only when it runs

        if args.host is not None and args.serve is None:
            parser.exit(2, "rel health: error: --host applies to --serve only (see 'rel health --help')\n")
        return health_command(
            args.check,
            timeout=args.timeout,
            serve=args.serve,
            as_json=args.json,
            host=args.host or "127.0.0.1",
        )
    from rel_all._demo import run_demo  # noqa: PLC0415 - load a command only when it runs

    return run_demo(
        items=args.items,
        workdir=args.workdir,
        batch=args.batch,
        concurrency=args.concurrency,
        fail_rate=args.fail_rate,
        seed=args.seed,
        fresh=args.fresh,
        trace=args.trace,
        quiet=args.quiet,
        verbose=args.verbose,
    )


def console_main() -> None:
    """The console script: exit with :func:`main`'s code (quietly when the reader of stdout goes away)."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # `rel ... | head` closed the pipe: not an error of ours. Point stdout at
        # /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 0
    sys.exit(code)
