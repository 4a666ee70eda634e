"""`GracefulDegradation`: a service level chosen by rules over signals, without flapping."""

from __future__ import annotations

import inspect
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psutil

from rel_health._instrumentation import level_changes
from rel_health._report import HealthReport

logger = logging.getLogger("rel_health")

T = TypeVar("T")
Signals = Mapping[str, Any]
LevelListener = Callable[[str, str, str], object]
"""Called as ``listener(old_level, new_level, reason)`` after every level change."""


@dataclass(frozen=True, slots=True)
class DegradationRule:
    """Enter ``level`` while ``when(signals)`` holds.

    Once active, the rule stays active until ``until(signals)`` holds (default:
    until ``when`` no longer does) — a band between the two is the rule's
    hysteresis. Build common rules with :meth:`above`, :meth:`below` and
    :meth:`equals`.
    """

    level: str
    when: Callable[[Signals], bool]
    until: Callable[[Signals], bool] | None = None
    name: str = ""

    @classmethod
    def above(cls, signal: str, enter: float, *, level: str, recover: float | None = None) -> DegradationRule:
        """Active once ``signal`` exceeds ``enter``, until it falls below ``recover`` (default ``enter``).

        :raises ValueError: ``recover`` above ``enter``.
        """
        back = enter if recover is None else recover
        if back > enter:
            raise ValueError(f"recover ({recover!r}) must not exceed enter ({enter!r}) for an 'above' rule")
        return cls(
            level,
            lambda s: _number(s, signal) is not None and _number(s, signal) > enter,  # type: ignore[operator]
            lambda s: _number(s, signal) is not None and _number(s, signal) < back,  # type: ignore[operator]
            f"{signal} > {enter:g}" + (f" (until < {back:g})" if back != enter else ""),
        )

    @classmethod
    def below(cls, signal: str, enter: float, *, level: str, recover: float | None = None) -> DegradationRule:
        """Active once ``signal`` falls below ``enter``, until it exceeds ``recover`` (default ``enter``).

        :raises ValueError: ``recover`` below ``enter``.
        """
        back = enter if recover is None else recover
        if back < enter:
            raise ValueError(f"recover ({recover!r}) must not be below enter ({enter!r}) for a 'below' rule")
        return cls(
            level,
            lambda s: _number(s, signal) is not None and _number(s, signal) < enter,  # type: ignore[operator]
            lambda s: _number(s, signal) is not None and _number(s, signal) > back,  # type: ignore[operator]
            f"{signal} < {enter:g}" + (f" (until > {back:g})" if back != enter else ""),
        )

    @classmethod
    def equals(cls, signal: str, value: Any, *, level: str) -> DegradationRule:
        """Active while ``signal == value`` (e.g. ``health_status == "unhealthy"``)."""
        return cls(
            level,
            lambda s: signal in s and s[signal] == value,
            lambda s: signal in s and s[signal] != value,
            f"{signal} == {value!r}",
        )


def _number(signals: Signals, name: str) -> float | None:
    value = signals.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def system_signals() -> dict[str, float]:
    """``cpu_percent`` (since the previous call) and ``memory_percent`` of the machine, via psutil."""
    return {"cpu_percent": psutil.cpu_percent(None), "memory_percent": psutil.virtual_memory().percent}


class GracefulDegradation:
    """Named service levels, best first, and the rules that pick one.

    Each :meth:`evaluate` gathers signals (``cpu_percent`` and
    ``memory_percent`` from psutil when ``system_signals`` is true, the
    sources added with :meth:`add_signal`, and the mapping passed in), then
    moves to the worst level of the active rules. Moving to a worse level is
    immediate; moving back to a better one needs the better target on
    ``recover_after`` consecutive evaluations and at least ``min_dwell_s``
    seconds at the current level — hysteresis, so the level does not flap.
    With no rules the level stays at the first one.

    :raises ValueError: no levels, duplicate levels, a rule naming an unknown
        level, ``recover_after`` < 1 or a negative ``min_dwell_s``.
    """

    def __init__(
        self,
        levels: Sequence[str] = ("normal", "reduced", "minimal"),
        rules: Iterable[DegradationRule] = (),
        *,
        recover_after: int = 3,
        min_dwell_s: float = 0.0,
        system_signals: bool = True,
    ) -> None:
        self.levels: tuple[str, ...] = tuple(levels)
        if not self.levels or len(set(self.levels)) != len(self.levels):
            raise ValueError(f"levels must be a non-empty sequence of distinct names, got {levels!r}")
        if isinstance(recover_after, bool) or not isinstance(recover_after, int) or recover_after < 1:
            raise ValueError(f"recover_after must be an integer >= 1 (evaluations), got {recover_after!r}")
        if not (isinstance(min_dwell_s, int | float) and min_dwell_s >= 0):
            raise ValueError(f"min_dwell_s must be a number >= 0 (seconds), got {min_dwell_s!r}")
        self.recover_after = recover_after
        self.min_dwell_s = float(min_dwell_s)
        self._rules: list[DegradationRule] = []
        self._active: set[int] = set()
        self._sources: dict[str, Callable[[], Any]] = {}
        self._listeners: list[LevelListener] = []
        self._system = system_signals
        self._index = 0
        self._since = time.monotonic()
        self._better_streak = 0
        self._reason = "initial level"
        self._lock = threading.RLock()
        for rule in rules:
            self.add_rule(rule)

    # -- configuration -------------------------------------------------------
    def add_rule(self, rule: DegradationRule) -> None:
        """Add ``rule``. :raises ValueError: its level is not one of ``levels``."""
        if rule.level not in self.levels:
            raise ValueError(f"rule level {rule.level!r} is not one of {self.levels}")
        with self._lock:
            self._rules.append(rule)

    def add_signal(self, name: str, source: Callable[[], Any]) -> None:
        """Read signal ``name`` from ``source()`` on every evaluation.

        An async source is awaited by :meth:`evaluate_async` (and skipped, with
        a warning, by :meth:`evaluate`). A source returning a
        :class:`~rel_health.HealthReport` gives its status. A source that raises
        leaves the signal out of that evaluation.
        """
        self._sources[name] = source

    def add_listener(self, listener: LevelListener) -> None:
        """Call ``listener(old, new, reason)`` after each level change; its errors are logged."""
        self._listeners.append(listener)

    # -- state ---------------------------------------------------------------
    @property
    def level(self) -> str:
        """The current level."""
        return self.levels[self._index]

    current_level = level

    @property
    def level_index(self) -> int:
        """Position of the current level in ``levels`` (0 is full service)."""
        return self._index

    @property
    def is_degraded(self) -> bool:
        """True at any level but the first."""
        return self._index > 0

    @property
    def reason(self) -> str:
        """Why the current level was chosen (the rule names, or ``"manual"``)."""
        return self._reason

    def select(self, implementations: Mapping[str, T]) -> T:
        """Return the implementation for the current level.

        When the current level has none, the nearest better level's is used
        (``{"normal": full, "minimal": cached}`` at ``"reduced"`` gives ``full``).

        :raises KeyError: no implementation for this level or any better one.
        """
        for index in range(self._index, -1, -1):
            if self.levels[index] in implementations:
                return implementations[self.levels[index]]
        raise KeyError(
            f"no implementation for level {self.level!r} or a better one among {list(implementations)}"
        )

    def set_level(self, level: str, reason: str = "manual") -> None:
        """Force ``level`` now (the next evaluation may move it again).

        :raises ValueError: unknown level.
        """
        if level not in self.levels:
            raise ValueError(f"level must be one of {self.levels}, got {level!r}")
        with self._lock:
            self._move(self.levels.index(level), reason)

    # -- evaluation ----------------------------------------------------------
    def evaluate(self, signals: Signals | None = None) -> str:
        """Gather signals, apply the rules and hysteresis, and return the (new) level."""
        gathered = self._gather_sync()
        gathered.update(signals or {})
        return self._apply(gathered)

    async def evaluate_async(self, signals: Signals | None = None) -> str:
        """Like :meth:`evaluate`, also awaiting async signal sources."""
        gathered = self._system_values()
        for name, source in list(self._sources.items()):
            try:
                value = source()
                if inspect.isawaitable(value):
                    value = await value
            except Exception:
                logger.warning("degradation signal %r failed; left out", name, exc_info=True)
                continue
            gathered[name] = value.status if isinstance(value, HealthReport) else value
        gathered.update(signals or {})
        return self._apply(gathered)

    def _system_values(self) -> dict[str, Any]:
        return dict(system_signals()) if self._system else {}

    def _gather_sync(self) -> dict[str, Any]:
        gathered = self._system_values()
        for name, source in list(self._sources.items()):
            try:
                value = source()
            except Exception:
                logger.warning("degradation signal %r failed; left out", name, exc_info=True)
                continue
            if inspect.isawaitable(value):
                if inspect.iscoroutine(value):
                    value.close()
                logger.warning("degradation signal %r is async; use evaluate_async()", name)
                continue
            gathered[name] = value.status if isinstance(value, HealthReport) else value
        return gathered

    def _apply(self, signals: Signals) -> str:
        with self._lock:
            for position, rule in enumerate(self._rules):
                try:
                    if position in self._active:
                        leave = rule.until(signals) if rule.until is not None else not rule.when(signals)
                        if leave:
                            self._active.discard(position)
                    elif rule.when(signals):
                        self._active.add(position)
                except Exception:
                    logger.warning(
                        "degradation rule %r failed; state kept", rule.name or rule.level, exc_info=True
                    )
            active = [self._rules[p] for p in sorted(self._active)]
            target = max((self.levels.index(r.level) for r in active), default=0)
            reason = ", ".join(r.name or r.level for r in active if self.levels.index(r.level) == target)
            if target > self._index:
                self._move(target, reason)
            elif target < self._index:
                self._better_streak += 1
                dwelt = time.monotonic() - self._since >= self.min_dwell_s
                if self._better_streak >= self.recover_after and dwelt:
                    self._move(target, reason or "recovered")
            else:
                self._better_streak = 0
            return self.level

    def _move(self, index: int, reason: str) -> None:
        old = self.level
        self._better_streak = 0
        if index == self._index:
            return
        self._index = index
        self._since = time.monotonic()
        self._reason = reason
        new = self.level
        log = logger.warning if index else logger.info
        log("service level %s -> %s (%s)", old, new, reason)
        level_changes.add(1, {"rel.health.level": new})
        for listener in list(self._listeners):
            try:
                listener(old, new, reason)
            except Exception:
                logger.exception("degradation listener %r failed", listener)
