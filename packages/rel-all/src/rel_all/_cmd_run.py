"""``rel run``: a supervised command, retried on failure, its tree killed on timeout."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from rel_proc import (
    TRANSIENT_SPAWN_ERRNOS,
    CompletedProcess,
    ProcessSpawnError,
    ProcessTimeoutError,
    ProgramNotFoundError,
    managed_subprocess,
)
from rel_retry import RetryConfig, retry_with_backoff
from rel_telemetry import traced

EXIT_TIMEOUT = 124
EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127


class CommandFailedError(Exception):
    """One attempt of the command ended with a non-zero exit code or a signal."""

    def __init__(self, outcome: CompletedProcess) -> None:
        self.outcome = outcome
        how = f"signal {outcome.signal}" if outcome.signal else f"exit code {outcome.returncode}"
        super().__init__(f"{' '.join(outcome.argv)} failed with {how} after {outcome.duration:.2f} s")


class _Terminated(Exception):
    """rel itself was sent SIGTERM while the command ran."""


def exit_code_of(returncode: int) -> int:
    """The shell convention: the exit code, or 128+N for a death by signal N."""
    return 128 - returncode if returncode < 0 else returncode


async def _attempt(argv: Sequence[str], limit: float | None, grace: float) -> CompletedProcess:
    # stdin, stdout and stderr are rel's own, as if the command ran directly.
    # A flag, not the cancel message: the teardown may re-raise a bare
    # CancelledError (a second SIGTERM while the tree is ending).
    terminated = False
    task = asyncio.current_task()

    def on_sigterm() -> None:
        nonlocal terminated
        terminated = True
        if task is not None:
            task.cancel()

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, on_sigterm)
    start = time.monotonic()
    try:
        async with managed_subprocess(
            argv[0], *argv[1:], stdin=None, stdout=None, stderr=None, timeout=limit, grace=grace
        ) as proc:
            returncode = await proc.wait()
    except asyncio.CancelledError:
        if terminated:
            raise _Terminated from None
        raise
    return CompletedProcess(list(argv), returncode, duration=time.monotonic() - start, pid=proc.pid)


def run_command(
    argv: Sequence[str], *, timeout: float | None, grace: float, retries: int, backoff: float
) -> int:
    """Run ``argv`` supervised and retried; return the exit code for ``rel`` to pass through."""
    attempts = 0

    def attempt() -> CompletedProcess:
        nonlocal attempts
        attempts += 1
        try:
            outcome = asyncio.run(_attempt(argv, timeout, grace))
        except ProcessTimeoutError:
            _say(f"attempt {attempts}: timed out after {timeout} s; the process tree was ended")
            raise
        if outcome.returncode != 0:
            _say(f"attempt {attempts}: {CommandFailedError(outcome)}")
            raise CommandFailedError(outcome)
        return outcome

    config = None
    if retries > 0:
        config = RetryConfig(
            max_retries=retries,
            base_delay_seconds=backoff,
            multiplier=2.0,
            max_delay_seconds=max(backoff * 16, backoff),
            jitter="equal",
            retry_on=_retryable,
            name="rel run",
        )
    provider = _export_spans()
    try:
        with traced("rel.run", {"rel.proc.argv0": argv[0]}, scope="rel_all"):
            outcome = attempt() if config is None else retry_with_backoff(attempt, config)
    except ProgramNotFoundError as exc:
        _say(str(exc))
        return EXIT_NOT_FOUND
    except ProcessSpawnError as exc:
        _say(str(exc))
        return EXIT_CANNOT_EXECUTE
    except ProcessTimeoutError:
        return EXIT_TIMEOUT
    except CommandFailedError as exc:
        return exit_code_of(exc.outcome.returncode)
    except _Terminated:
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    finally:
        if provider is not None:
            provider.force_flush(timeout_millis=5000)  # a collector that is down must not hold us up
    return exit_code_of(outcome.returncode)


def _retryable(exc: BaseException) -> bool:
    # A spawn that failed for lack of resources may work a moment later; one that
    # failed because the program is missing or not executable never will.
    if isinstance(exc, ProcessSpawnError):
        return exc.errno in TRANSIENT_SPAWN_ERRNOS
    return isinstance(exc, CommandFailedError | ProcessTimeoutError)


def _export_spans() -> Any:
    """With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, export rel's spans there (the child joins that trace)."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return None
    from rel_telemetry import configure  # noqa: PLC0415 - the SDK loads only when spans are exported

    return configure(service_name=os.environ.get("OTEL_SERVICE_NAME", "rel-run"), exporter="otlp")


def _say(message: str) -> None:
    print(f"rel run: {message}", file=sys.stderr, flush=True)
