"""``rel run``: a supervised command, retried on failure, its tree killed on timeout."""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

from rel_proc import CompletedProcess, ProcessSpawnError, ProcessTimeoutError, ProgramNotFoundError, run_sync
from rel_retry import RetryConfig, retry_with_backoff
from rel_telemetry import traced

EXIT_TIMEOUT = 124
EXIT_NOT_FOUND = 127


class CommandFailedError(Exception):
    """One attempt of the command ended with a non-zero exit code or a signal."""

    def __init__(self, result: CompletedProcess) -> None:
        self.result = result
        how = f"signal {result.signal}" if result.signal else f"exit code {result.returncode}"
        super().__init__(f"{' '.join(result.argv)} failed with {how} after {result.duration:.2f} s")


def exit_code_of(result: CompletedProcess) -> int:
    """The shell convention: the exit code, or 128+N for a death by signal N."""
    if result.returncode < 0:
        return 128 - result.returncode
    return result.returncode


def run_command(
    argv: Sequence[str], *, timeout: float | None, grace: float, retries: int, backoff: float
) -> int:
    """Run ``argv`` supervised and retried; return the exit code for ``rel`` to pass through."""
    attempts = 0

    def attempt() -> CompletedProcess:
        nonlocal attempts
        attempts += 1
        try:
            result = run_sync(argv[0], *argv[1:], timeout=timeout, grace=grace, capture_output=False)
        except ProcessTimeoutError:
            _say(f"attempt {attempts}: timed out after {timeout} s; the process tree was ended")
            raise
        if result.returncode != 0:
            _say(f"attempt {attempts}: {CommandFailedError(result)}")
            raise CommandFailedError(result)
        return result

    config = None
    if retries > 0:
        config = RetryConfig(
            max_retries=retries,
            base_delay_seconds=backoff,
            multiplier=2.0,
            max_delay_seconds=max(backoff * 16, backoff),
            jitter="equal",
            retry_on=lambda exc: isinstance(
                exc, CommandFailedError | ProcessTimeoutError | ProcessSpawnError
            ),
            name="rel run",
        )
    try:
        with traced("rel.run", {"rel.proc.argv0": argv[0]}, scope="rel_all"):
            result = attempt() if config is None else retry_with_backoff(attempt, config)
    except ProgramNotFoundError as exc:
        _say(str(exc))
        return EXIT_NOT_FOUND
    except ProcessTimeoutError:
        return EXIT_TIMEOUT
    except CommandFailedError as exc:
        return exit_code_of(exc.result)
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    return exit_code_of(result)


def _say(message: str) -> None:
    print(f"rel run: {message}", file=sys.stderr, flush=True)
