"""`RetryContext`: the state of one call once an attempt has failed, and every stop rule."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from rel_retry._backoff import calculate_backoff
from rel_retry._classify import classify_failure
from rel_retry._config import RetryConfig
from rel_retry._hints import retry_after_seconds
from rel_retry._telemetry import CallSpan, count_attempt
from rel_retry._testing import SWITCH, RecordedAttempt
from rel_telemetry import time_remaining

_NO_RESULT: Any = object()


class RetryContext:
    """What a retried call has been through: attempts, errors, waits and time.

    The retry loop creates one when the first attempt fails (a call that
    succeeds first time never builds one); :func:`retry_context` hands it to
    blocks as ``attempt.context``. ``stop_reason`` (text) and ``stop_code``
    (``max_retries``, ``timeout``, ``deadline``, ``budget``, ``not_retryable``,
    ``stop_condition``) are set once the policy gives up. The methods
    ``failed``, ``rejected``, ``waited``, ``succeeded`` and ``gave_up`` are how
    a retry loop reports to it; a hand-written loop may use them too.
    """

    __slots__ = (
        "_previous_wait",
        "_span",
        "attempts",
        "config",
        "delays",
        "last_error",
        "last_result",
        "name",
        "started_at",
        "stop_code",
        "stop_reason",
    )

    def __init__(self, config: RetryConfig, name: str = "operation", started_at: float | None = None) -> None:
        self.config = config
        self.name = config.name or name
        self.started_at = time.monotonic() if started_at is None else started_at
        self.attempts = 0
        self.delays: list[float] = []
        self.last_error: BaseException | None = None
        self.last_result: Any = None
        self.stop_reason: str | None = None
        self.stop_code: str | None = None
        self._previous_wait: float | None = None
        self._span = CallSpan()

    @classmethod
    def after_failure(cls, config: RetryConfig, name: str, started_at: float) -> RetryContext:
        """The context of a call whose first attempt, started at ``started_at``, just failed.

        Opens the call's span (back-dated to the first attempt) when tracing is on.
        """
        ctx = cls(config, name, started_at)
        ctx._span.open(ctx.name, started_at)
        return ctx

    # -- read-only views --------------------------------------------------
    @property
    def elapsed(self) -> float:
        """Seconds since the first attempt started."""
        return time.monotonic() - self.started_at

    @property
    def total_delay(self) -> float:
        """Seconds spent waiting between attempts so far."""
        return sum(self.delays)

    @property
    def attempt_number(self) -> int:
        """The number of the attempt about to run (1-based)."""
        return self.attempts + 1

    # -- the loop's side -------------------------------------------------
    def failed(self, exc: BaseException) -> float | None:
        """Account a failed attempt; return the wait before the next one, or None to give up."""
        self.attempts += 1
        self.last_error = exc
        wait = self._decide(exc, _NO_RESULT)
        self._span.attempt_failed(self.attempts, exc, wait)
        self._observe(exc, wait, "failure")
        return wait

    def rejected(self, result: Any) -> float | None:
        """Account an attempt whose result ``retry_on_result`` rejected; wait or None."""
        self.attempts += 1
        self.last_result = result
        wait = self._decide(None, result)
        self._span.result_rejected(self.attempts, wait)
        self._observe(None, wait, "failure")
        return wait

    def waited(self, seconds: float) -> None:
        """Record a wait that was actually taken."""
        self.delays.append(seconds)

    def succeeded(self) -> None:
        """The attempt just made returned an accepted result."""
        self.attempts += 1
        self._observe(None, None, "success")
        self._span.finish(self.attempts, "success")

    def gave_up(self, exc: BaseException) -> None:
        """The last failure is final: add the note and close the span."""
        note = (
            f"rel_retry: {self.name} failed after {self.attempts} attempt(s) in "
            f"{self.elapsed:.3f}s; stopped: {self.stop_reason}"
        )
        # An exception whose __notes__ was replaced by a non-list still propagates.
        with contextlib.suppress(Exception):
            exc.add_note(note)
        self._span.finish(self.attempts, "failure", exc=exc, stop_reason=self.stop_code)

    def gave_up_on_result(self) -> None:
        """The last rejected result is final: close the span."""
        self._span.finish(self.attempts, "failure", stop_reason=self.stop_code)

    def interrupted(self, exc: BaseException, *, during_attempt: bool = True) -> None:
        """An interrupt or cancellation ended the call: never retried, span closed."""
        if during_attempt:
            self.attempts += 1
        self._span.finish(self.attempts, "cancelled", exc=exc, stop_reason="interrupted")

    # -- policy -----------------------------------------------------------
    def _stop(self, code: str, reason: str) -> None:
        self.stop_code = code
        self.stop_reason = reason

    def _decide(self, exc: BaseException | None, result: Any) -> float | None:
        config = self.config
        if exc is not None:
            retry, why = should_retry(exc, config)
            if not retry:
                self._stop("not_retryable", why)
                return None
        record = SWITCH.record
        allowed = config.max_attempts
        if record is not None and record.attempts_cap is not None and record.attempts_cap < allowed:
            allowed = record.attempts_cap
            if self.attempts >= allowed:
                self._stop("max_retries", f"testing cap of {allowed} attempt(s) reached")
                return None
        if self.attempts >= allowed:
            self._stop("max_retries", f"max_retries={config.max_retries} reached")
            return None
        state = None
        if config.stop is not None or config.wait is not None:
            from rel_retry._tenacity_bridge import call_state  # noqa: PLC0415 - only when used

            state = call_state(
                attempt_number=self.attempts,
                started_at=self.started_at,
                idle_for=self.total_delay,
                exc=exc,
                result=result,
            )
            if config.stop is not None and config.stop(state):
                self._stop("stop_condition", f"stop condition {config.stop!r} met")
                return None

        if config.wait is not None and state is not None:
            wait = max(0.0, float(config.wait(state)))
        else:
            wait = calculate_backoff(self.attempts - 1, config, self._previous_wait)
        hint = None if exc is None else retry_after_seconds(exc)
        if hint is not None:
            # A hint is the earliest moment the callee accepts another call: it can
            # lengthen the backoff, never shorten it (a "retry now" hint from many
            # callers at once would otherwise turn into a busy loop).
            wait = min(max(wait, hint), config.max_delay_seconds)
        if record is not None:
            wait = 0.0

        elapsed = self.elapsed
        if config.timeout is not None and elapsed + wait >= config.timeout:
            self._stop(
                "timeout",
                f"timeout={config.timeout}s would be passed by the next wait of {wait:.3f}s "
                f"({elapsed:.3f}s spent)",
            )
            return None
        left = time_remaining()
        if left is not None and wait >= left:
            self._stop(
                "deadline",
                f"the ambient deadline ({max(0.0, left):.3f}s left) would be passed by the next wait of {wait:.3f}s",
            )
            return None
        if config.budget is not None and not config.budget.try_spend():
            self._stop("budget", f"the retry budget is spent ({config.budget!r})")
            return None
        self._previous_wait = wait
        return wait

    def _observe(self, exc: BaseException | None, wait: float | None, outcome: str) -> None:
        count_attempt(self.name, outcome)
        record = SWITCH.record
        if record is not None:
            record.add(RecordedAttempt(self.name, self.attempts, exc, wait))


def should_retry(exc: BaseException, config: RetryConfig) -> tuple[bool, str]:
    """Whether ``config`` retries ``exc``, and why not when it does not."""
    if not isinstance(exc, Exception):
        return False, f"{type(exc).__name__} is never retried"
    if config.retry_on is not None:
        if config.retry_on(exc):
            return True, ""
        return False, f"retry_on rejected {type(exc).__name__}"
    if config.retryable_exceptions is not None:
        if isinstance(exc, config.retryable_exceptions):
            return True, ""
        names = ", ".join(c.__name__ for c in config.retryable_exceptions)
        return False, f"{type(exc).__name__} is not one of retryable_exceptions ({names})"
    verdict = classify_failure(exc)
    if not verdict.is_transient:
        return False, f"permanent failure: {verdict.reason}"
    if verdict.suggested_action == "manual_intervention" and not config.retry_unknown:
        return False, f"{verdict.reason}; retry_unknown=False"
    return True, ""
