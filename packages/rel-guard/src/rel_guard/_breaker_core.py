"""The circuit breaker's state machine, shared by every calling form.

A call asks :meth:`BreakerCore.admit` for a permit (or gets a fresh
:class:`CircuitBreakerOpenError` to raise), runs, then reports exactly one of
:meth:`on_success`, :meth:`on_failure` or :meth:`on_ignore` with that permit.
All state lives behind one short ``threading.Lock`` that is never held while
user code, listeners or telemetry run, so it never blocks an event loop for
longer than a few attribute updates.

A permit names the *epoch* of the state that admitted the call (``2 * epoch``,
plus 1 for a half-open probe): every transition starts a new epoch, so an
outcome that arrives after the breaker moved on is counted in the statistics
but cannot disturb the new state. Probes in flight are counted across epochs,
so even when a failed probe reopens the breaker and it soon half-opens again,
no more than ``half_open_max_calls`` probes ever run at once. While CLOSED
the admission needs no lock (one attribute read), and so does a success while
nothing is pending (no failures counted, no timing, and no window or a full
count window without failures): that is the hot path. While OPEN (before the
recovery timeout) or FORCED_OPEN, a refusal needs no lock either: it reads one
snapshot attribute, the clock and the last failure, and counts itself with an
atomic counter.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from rel_guard._breaker_config import CircuitBreakerConfig
from rel_guard._errors import CircuitBreakerOpenError
from rel_guard._telemetry import (
    BREAKER_CALLS,
    BREAKER_REJECTIONS,
    BREAKER_TRANSITIONS,
    add_span_event,
    metrics_enabled,
    tracing_enabled,
)
from rel_guard._windows import CountWindow, TimeWindow
from rel_telemetry import attributes

_log = logging.getLogger("rel_guard")

NO_PERMIT = -1
DISABLED_PERMIT = -2

# Builds a refusal without running a Python __init__ (its fields live in ``args``).
_new_exception = BaseException.__new__


class CircuitState(StrEnum):
    """The states of a circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    FORCED_OPEN = "forced_open"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class StateChange:
    """One transition, as delivered to listeners: ``at`` is the breaker clock's time."""

    name: str
    from_state: CircuitState
    to_state: CircuitState
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class BreakerStats:
    """A consistent snapshot of a breaker's counters.

    ``successes + failures + ignored + rejected`` is the number of calls
    attempted since creation (or the last ``reset()``); the window fields
    describe the current sliding window (0 without a rate rule).
    """

    name: str
    state: CircuitState
    successes: int
    failures: int
    ignored: int
    rejected: int
    consecutive_failures: int
    window_calls: int
    window_failures: int
    window_slow_calls: int
    half_open_calls: int
    retry_after: float | None


class BreakerCore:
    """Permits and outcomes for one breaker; see the module docstring."""

    __slots__ = (
        "_clock",
        "_consecutive",
        "_dispatching",
        "_epoch",
        "_failure_threshold",
        "_failures",
        "_fast_capable",
        "_fast_when_clean",
        "_ignored",
        "_last_failure",
        "_listeners",
        "_lock",
        "_metric_attrs",
        "_open_until",
        "_pending",
        "_probe_successes",
        "_probes",
        "_refusal",
        "_rejected",
        "_state",
        "_successes",
        "_window",
        "closed_permit",
        "config",
        "fast_permit",
        "fast_rejections",
        "fast_successes",
        "name",
        "success_attrs",
        "timed",
    )

    def __init__(self, config: CircuitBreakerConfig, name: str) -> None:
        self.config = config
        self.name = name
        self._clock = config.clock
        self._failure_threshold = config.failure_threshold
        self._window: CountWindow | TimeWindow | None = None
        if config.has_window:
            size = config.sliding_window_size
            self._window = CountWindow(size) if config.sliding_window_type == "count" else TimeWindow(size)
        self.timed = config.slow_call_duration is not None
        self._fast_capable = self._window is None and not self.timed
        # A full count window without failures is unchanged by one more success (the
        # oldest outcome it evicts is a success too), so that success needs no lock.
        self._fast_when_clean = isinstance(self._window, CountWindow) and not self.timed
        self._lock = threading.Lock()
        self._dispatching = threading.Lock()
        self._pending: deque[StateChange] = deque()
        self._listeners: list[Callable[[StateChange], None]] = list(config.listeners)
        self._metric_attrs = {attributes.GUARD_NAME: name}
        self.success_attrs = {**self._metric_attrs, attributes.GUARD_OUTCOME: "success"}
        self._reset_counters()
        self._state = CircuitState.CLOSED
        self._epoch = 0
        self.closed_permit = 0
        self.fast_permit = 0 if self._fast_capable else NO_PERMIT
        # (state, open_until) while a refusal needs no lock: OPEN before the recovery
        # timeout, or FORCED_OPEN (open_until None); None in every other state.
        self._refusal: tuple[str, float | None] | None = None
        self._open_until = 0.0
        self._probes = 0
        self._probe_successes = 0
        self._consecutive = 0
        self._last_failure: BaseException | None = None

    def _reset_counters(self) -> None:
        self.fast_successes = itertools.count()
        self.fast_rejections = itertools.count()
        self._successes = 0
        self._failures = 0
        self._ignored = 0
        self._rejected = 0

    # -- admission ---------------------------------------------------------------
    def admit(self) -> int | CircuitBreakerOpenError:
        """Return a permit for one call, or the fresh CircuitBreakerOpenError refusing it.

        The error is returned, not raised, so the caller raises it from its own
        frame (its traceback then starts there). Its ``__cause__`` is already set.
        """
        permit = self.closed_permit
        if permit >= 0:
            return permit
        refusal = self._refusal
        if refusal is None:
            return self._admit_locked()
        state, until = refusal
        retry_after = None
        if until is not None:
            now = self._clock()
            if now >= until:
                return self._admit_locked()  # time to probe: a transition, under the lock
            retry_after = until - now
        next(self.fast_rejections)
        error: CircuitBreakerOpenError = _new_exception(
            CircuitBreakerOpenError, self.name, state, retry_after
        )
        cause = self._last_failure
        if cause is not None:
            error.__cause__ = cause
        if metrics_enabled() or tracing_enabled():
            self._note_rejection(state)
        return error

    def _admit_locked(self) -> int | CircuitBreakerOpenError:
        retry_after: float | None = None
        with self._lock:
            state = self._state
            if state is CircuitState.CLOSED:
                return self._epoch * 2
            if state is CircuitState.DISABLED:
                return DISABLED_PERMIT
            if state is CircuitState.OPEN:
                now = self._clock()
                if now >= self._open_until:
                    self._set_state(CircuitState.HALF_OPEN, "recovery_timeout elapsed", now)
                    state = CircuitState.HALF_OPEN
                else:
                    retry_after = self._open_until - now
            if state is CircuitState.HALF_OPEN:
                if self._probes < self.config.half_open_max_calls:
                    self._probes += 1
                    permit = self._epoch * 2 + 1
                else:
                    permit = NO_PERMIT
                    retry_after = 0.0
            else:
                permit = NO_PERMIT
            if permit == NO_PERMIT:
                self._rejected += 1
                cause = self._last_failure
        if self._pending:
            self.dispatch()
        if permit != NO_PERMIT:
            return permit
        error: CircuitBreakerOpenError = _new_exception(
            CircuitBreakerOpenError, self.name, state._value_, retry_after
        )
        if cause is not None:
            error.__cause__ = cause
        if metrics_enabled() or tracing_enabled():
            self._note_rejection(state._value_)
        return error

    def _note_rejection(self, state: str) -> None:
        if metrics_enabled():
            BREAKER_REJECTIONS.add(1, {**self._metric_attrs, attributes.GUARD_BREAKER_STATE: state})
        add_span_event(
            "rel.guard.breaker.rejected",
            {attributes.GUARD_NAME: self.name, attributes.GUARD_BREAKER_STATE: state},
        )

    # -- outcomes ----------------------------------------------------------------
    def on_success(self, permit: int, duration: float = 0.0) -> None:
        """Record that the call holding ``permit`` succeeded after ``duration`` seconds."""
        if permit == self.fast_permit:
            next(self.fast_successes)
            if metrics_enabled():
                BREAKER_CALLS.add(1, self.success_attrs)
            return
        self._record(permit, False, duration, None)

    def on_failure(self, permit: int, duration: float, error: BaseException | None) -> None:
        """Record that the call holding ``permit`` failed (``error`` may be None for a bad result)."""
        self._record(permit, True, duration, error)

    def on_ignore(self, permit: int) -> None:
        """Release ``permit`` without counting the call as success or failure."""
        with self._lock:
            self._ignored += 1
            if permit >= 0 and permit & 1:
                self._probes -= 1
        if metrics_enabled():
            BREAKER_CALLS.add(1, {**self._metric_attrs, attributes.GUARD_OUTCOME: "ignored"})

    def on_exception(self, permit: int, duration: float, error: BaseException) -> None:
        """Classify ``error`` (failure, success or ignored) and record it for ``permit``."""
        if not isinstance(error, Exception):
            self.on_ignore(permit)  # cancellation, KeyboardInterrupt, SystemExit, GeneratorExit
            return
        config = self.config
        if config.excluded_exceptions and isinstance(error, config.excluded_exceptions):
            self.on_ignore(permit)
            return
        expected = config.expected_exception
        if isinstance(expected, type | tuple):
            failed = isinstance(error, expected)
        else:
            try:
                failed = bool(expected(error))
            except Exception:
                _log.exception(
                    "expected_exception predicate of breaker %r raised; counting a failure", self.name
                )
                failed = True
        if failed:
            self._record(permit, True, duration, error)
        else:
            self._record(permit, False, duration, None)

    def _record(self, permit: int, failed: bool, duration: float, error: BaseException | None) -> None:
        config = self.config
        with self._lock:
            if failed:
                self._failures += 1
                if error is not None:
                    self._last_failure = error
            else:
                self._successes += 1
            if permit >= 0 and permit & 1:
                self._probes -= 1
            if permit >> 1 == self._epoch:
                slow = self.timed and duration >= config.slow_call_duration  # type: ignore[operator]
                state = self._state
                if state is CircuitState.CLOSED:
                    self._record_closed(failed, slow)
                elif state is CircuitState.HALF_OPEN:
                    if failed or (slow and config.slow_call_rate_threshold is not None):
                        self._open(
                            "a probe call failed" if failed else "a probe call was slow", self._clock()
                        )
                    else:
                        self._probe_successes += 1
                        if self._probe_successes >= config.success_threshold:
                            self._set_state(
                                CircuitState.CLOSED,
                                f"{self._probe_successes} probe calls succeeded",
                                self._clock(),
                            )
        if metrics_enabled():
            outcome = "failure" if failed else "success"
            BREAKER_CALLS.add(1, {**self._metric_attrs, attributes.GUARD_OUTCOME: outcome})
        if self._pending:
            self.dispatch()

    def _record_closed(self, failed: bool, slow: bool) -> None:
        now = 0.0
        window = self._window
        if window is not None:
            now = self._clock()
            window.record(failed, slow, now)
        if failed:
            self._consecutive += 1
            self.fast_permit = NO_PERMIT
        else:
            self._consecutive = 0
            if self._fast_capable or (
                self._fast_when_clean
                and window is not None
                and window.failures == 0
                and window.calls == window.size
            ):
                self.fast_permit = self._epoch * 2
        threshold = self._failure_threshold
        if threshold is not None and self._consecutive >= threshold:
            self._open(f"{self._consecutive} consecutive failures", self._clock())
            return
        if window is not None:
            calls, failures, slow_calls = window.calls, window.failures, window.slow  # as of `now`
            if calls < self.config.minimum_calls:
                return
            rate = self.config.failure_rate_threshold
            if rate is not None and failures / calls >= rate:
                self._open(f"failure rate {failures}/{calls} calls reached {rate:.0%}", now)
                return
            rate = self.config.slow_call_rate_threshold
            if rate is not None and slow_calls / calls >= rate:
                self._open(f"slow-call rate {slow_calls}/{calls} calls reached {rate:.0%}", now)

    # -- transitions (lock held) -------------------------------------------------
    def _open(self, reason: str, now: float) -> None:
        self._open_until = now + self.config.recovery_timeout
        self._set_state(CircuitState.OPEN, reason, now)

    def _set_state(self, new: CircuitState, reason: str, now: float) -> None:
        old = self._state
        self._state = new
        self._epoch += 1
        self._consecutive = 0
        self._probe_successes = 0
        if self._window is not None:
            self._window.clear()
        if new is CircuitState.CLOSED:
            self._refusal = None
            self.closed_permit = self._epoch * 2
            self.fast_permit = self.closed_permit if self._fast_capable else NO_PERMIT
        elif new is CircuitState.DISABLED:
            self._refusal = None
            self.closed_permit = NO_PERMIT
            self.fast_permit = DISABLED_PERMIT
        else:
            self.closed_permit = NO_PERMIT
            self.fast_permit = NO_PERMIT
            if new is CircuitState.OPEN:
                self._refusal = (new._value_, self._open_until)
            elif new is CircuitState.FORCED_OPEN:
                self._refusal = (new._value_, None)
            else:
                self._refusal = None
        if old is not new:
            self._pending.append(StateChange(self.name, old, new, reason, now))

    def transition(self, new: CircuitState, reason: str) -> None:
        """Move to ``new`` now (admin operations); a no-op if already there.

        Moving to CLOSED is a full reset: counters, window and last failure are cleared.
        """
        with self._lock:
            if self._state is not new or new is CircuitState.CLOSED:
                self._set_state(new, reason, self._clock())
            if new is CircuitState.CLOSED:
                self._last_failure = None
                self._reset_counters()
        if self._pending:
            self.dispatch()

    # -- listeners -----------------------------------------------------------------
    def add_listener(self, listener: Callable[[StateChange], None]) -> None:
        """Call ``listener`` with every later :class:`StateChange`."""
        with self._lock:
            self._listeners = [*self._listeners, listener]

    def remove_listener(self, listener: Callable[[StateChange], None]) -> None:
        """Stop calling ``listener``; ValueError if it was not added."""
        with self._lock:
            listeners = list(self._listeners)
            listeners.remove(listener)
            self._listeners = listeners

    def dispatch(self) -> None:
        """Deliver pending transitions in order, outside the state lock.

        One thread delivers at a time; a thread that finds another delivering
        leaves its events to it (the deliverer re-checks after letting go).
        """
        pending = self._pending
        while pending:
            if not self._dispatching.acquire(blocking=False):
                return
            try:
                while True:
                    try:
                        change = pending.popleft()
                    except IndexError:
                        break
                    self._deliver(change)
            finally:
                self._dispatching.release()

    def _deliver(self, change: StateChange) -> None:
        attrs = {
            attributes.GUARD_NAME: change.name,
            attributes.GUARD_BREAKER_FROM_STATE: change.from_state.value,
            attributes.GUARD_BREAKER_STATE: change.to_state.value,
        }
        if metrics_enabled():
            BREAKER_TRANSITIONS.add(1, attrs)
        add_span_event("rel.guard.breaker.state_change", {**attrs, "rel.guard.breaker.reason": change.reason})
        if change.to_state is CircuitState.OPEN:
            _log.warning("circuit breaker %r opened: %s", change.name, change.reason)
        for listener in self._listeners:
            try:
                listener(change)
            except Exception:
                _log.exception("listener %r of circuit breaker %r raised; ignored", listener, change.name)

    # -- reading -------------------------------------------------------------------
    @property
    def state(self) -> CircuitState:
        """The current state.

        An OPEN breaker whose recovery timeout has elapsed stays OPEN until the
        next call asks for a permit and moves it to HALF_OPEN.
        """
        return self._state

    def stats(self) -> BreakerStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            fast = int(repr(self.fast_successes)[6:-1])
            fast_rejected = int(repr(self.fast_rejections)[6:-1])
            window = self._window
            calls = failures = slow = 0
            if window is not None:
                calls, failures, slow = window.totals(self._clock())
            retry_after: float | None = None
            if self._state is CircuitState.OPEN:
                retry_after = max(0.0, self._open_until - self._clock())
            elif self._state is CircuitState.HALF_OPEN:
                retry_after = 0.0
            return BreakerStats(
                name=self.name,
                state=self._state,
                successes=self._successes + fast,
                failures=self._failures,
                ignored=self._ignored,
                rejected=self._rejected + fast_rejected,
                consecutive_failures=self._consecutive,
                window_calls=calls,
                window_failures=failures,
                window_slow_calls=slow,
                half_open_calls=self._probes,
                retry_after=retry_after,
            )

    @property
    def last_failure(self) -> BaseException | None:
        """The last exception counted as a failure, if any."""
        return self._last_failure
