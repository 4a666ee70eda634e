"""The ``rel`` command: supervised runs, checkpoint and event-log inspection, health, the demo."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from rel_all._version import __version__

DESCRIPTION = """\
rel: reliability tools from the command line.

  rel run --timeout 30 --retries 2 -- ./job.sh ARGS   run a command supervised: retried
                                                      on failure, whole tree killed on timeout
  rel checkpoint ls|show|verify RUN_DIR               inspect a run directory's checkpoints
  rel events verify|tail LOG                          check or follow an event log
  rel health --check disk:/ --check tcp:HOST:PORT     run health checks (or serve them)
  rel demo                                            the resumable batch pipeline demo

Exit codes: 0 success, 1 a check or verification failed, 2 bad arguments;
`rel run` passes the command's own exit code through.
"""


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error and exit code 2 for bad arguments."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _duration(text: str) -> float:
    try:
        value = float(text.removesuffix("s"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds such as 30 or 2.5, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds >= 0, got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
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

    run = sub.add_parser(
        "run",
        help="run a command supervised, retried on failure, tree killed on timeout",
        description="Run CMD as a supervised child (rel-proc): on timeout or interrupt the whole "
        "process tree is ended (SIGTERM, grace, SIGKILL). A failed run (non-zero exit or timeout) is "
        "retried with exponential backoff (rel-retry). The trace context is handed to the child "
        "through TRACEPARENT. rel exits with the command's exit code (124 after a timeout, "
        "128+N when killed by signal N).",
    )
    run.add_argument("--timeout", type=_duration, default=None, metavar="S", help="seconds per attempt")
    run.add_argument(
        "--grace", type=_duration, default=5.0, metavar="S", help="seconds between SIGTERM and SIGKILL (5)"
    )
    run.add_argument("--retries", type=_count, default=0, metavar="N", help="retries after a failure (0)")
    run.add_argument(
        "--backoff", type=_duration, default=1.0, metavar="S", help="first retry delay in seconds (1)"
    )
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD ...", help="the command to run")

    cp = sub.add_parser(
        "checkpoint",
        help="list, show or verify the checkpoints of a run directory",
        description="Inspect the checkpoints of a rel-checkpoint run directory. 'verify' checks every "
        "checkpoint's checksum and the event log's framing, and exits 1 if anything is corrupt.",
    )
    cp.add_argument("action", choices=["ls", "show", "verify"])
    cp.add_argument("run_dir", metavar="RUN_DIR")
    cp.add_argument(
        "--id", dest="checkpoint_id", default=None, help="checkpoint id for 'show' (default: latest)"
    )

    ev = sub.add_parser(
        "events",
        help="verify or tail an event log",
        description="'verify' checks every record's framing and checksum and reports a torn tail or "
        "corruption (exit 1); 'tail' prints the last records as JSON lines.",
    )
    ev.add_argument("action", choices=["verify", "tail"])
    ev.add_argument("log", metavar="LOG")
    ev.add_argument("-n", type=_positive, default=10, metavar="N", help="records to show for 'tail' (10)")

    health = sub.add_parser(
        "health",
        help="run health checks once, or serve them over HTTP",
        description="Checks: disk:PATH (free space), memory, cpu, files (open files vs limit), "
        "tcp:HOST:PORT, http:URL. Without --serve, runs them once, prints a report and exits 0 "
        "when healthy, 1 otherwise. With --serve PORT, serves /livez, /readyz and /healthz on "
        "127.0.0.1:PORT until interrupted.",
    )
    health.add_argument(
        "--check", action="append", default=[], metavar="SPEC", help="a check to run (repeatable)"
    )
    health.add_argument("--timeout", type=_duration, default=2.0, metavar="S", help="per-check timeout (2)")
    health.add_argument("--serve", type=_count, default=None, metavar="PORT", help="serve on 127.0.0.1:PORT")
    health.add_argument("--json", action="store_true", help="print the report as health+json")

    demo = sub.add_parser(
        "demo",
        help="run the resumable batch pipeline demo",
        description="Process work items through the whole stack: fetch each from a flaky HTTP service "
        "on 127.0.0.1 (retry + circuit breaker + bulkhead), transform batches in managed worker "
        "subprocesses, write results atomically and checkpoint progress. Kill it at any moment and "
        "run it again: it resumes without redoing finished items. With OTEL_EXPORTER_OTLP_ENDPOINT "
        "set it exports its trace over OTLP.",
    )
    demo.add_argument("--items", type=_positive, default=300, metavar="N", help="work items (300)")
    demo.add_argument(
        "--workdir", default="rel-demo-run", metavar="DIR", help="state directory (rel-demo-run)"
    )
    demo.add_argument(
        "--batch", type=_positive, default=25, metavar="N", help="items per worker process (25)"
    )
    demo.add_argument("--concurrency", type=_positive, default=8, metavar="N", help="parallel fetches (8)")
    demo.add_argument(
        "--fail-rate", type=float, default=0.2, metavar="F", help="share of failing first fetches"
    )
    demo.add_argument("--seed", type=int, default=7, help="seed of the service's failures (7)")
    demo.add_argument("--fresh", action="store_true", help="discard earlier progress in --workdir first")
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

        return health_command(args.check, timeout=args.timeout, serve=args.serve, as_json=args.json)
    from rel_all._demo import run_demo  # noqa: PLC0415 - load a command only when it runs

    if not 0.0 <= args.fail_rate <= 1.0:
        parser.exit(2, f"rel demo: error: --fail-rate must be within [0, 1], got {args.fail_rate}\n")
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
