"""`HealthCheck` and `HealthStatus`: the result of one check."""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class HealthStatus(enum.StrEnum):
    """How one check, or a whole report, went. Compares equal to its plain string."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"

    def __str__(self) -> str:
        return self.value

    @property
    def severity(self) -> int:
        """Severity as a number where larger is worse; healthy is 0, degraded 1, unhealthy 2."""
        return _SEVERITY[self]

    @classmethod
    def coerce(cls, value: HealthStatus | str) -> HealthStatus:
        """Return the status named by ``value`` (a member or its string, any case).

        :raises ValueError: ``value`` names no status.
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        raise ValueError(f"status must be one of 'healthy', 'degraded', 'unhealthy'; got {value!r}")

    @classmethod
    def worst(cls, statuses: Any) -> HealthStatus:
        """The worst of ``statuses`` (healthy when there are none)."""
        result = cls.HEALTHY
        for status in statuses:
            if _SEVERITY[status] > _SEVERITY[result]:
                result = status
        return result


_SEVERITY = {HealthStatus.HEALTHY: 0, HealthStatus.DEGRADED: 1, HealthStatus.UNHEALTHY: 2}


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """The outcome of one health check.

    ``status`` accepts a :class:`HealthStatus` or its string (``"healthy"``,
    ``"degraded"``, ``"unhealthy"``) and is always stored as a
    :class:`HealthStatus`. ``details`` holds JSON-friendly facts (observed
    values, limits). The checker fills ``duration_s`` and ``checked_at`` (wall
    clock, seconds since the epoch) when it runs the check.

    :raises ValueError: ``status`` names no status.
    """

    name: str
    status: HealthStatus
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    duration_s: float | None = None
    checked_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", HealthStatus.coerce(self.status))
        object.__setattr__(self, "details", dict(self.details))
        if self.duration_s is not None and not (math.isfinite(self.duration_s) and self.duration_s >= 0):
            raise ValueError(f"duration_s must be a finite number >= 0, got {self.duration_s!r}")

    @property
    def is_healthy(self) -> bool:
        """True when the status is healthy."""
        return self.status is HealthStatus.HEALTHY

    @classmethod
    def healthy(cls, name: str, message: str = "", **details: Any) -> HealthCheck:
        """A healthy result."""
        return cls(name, HealthStatus.HEALTHY, message, details)

    @classmethod
    def degraded(cls, name: str, message: str = "", **details: Any) -> HealthCheck:
        """A degraded result."""
        return cls(name, HealthStatus.DEGRADED, message, details)

    @classmethod
    def unhealthy(cls, name: str, message: str = "", **details: Any) -> HealthCheck:
        """An unhealthy result."""
        return cls(name, HealthStatus.UNHEALTHY, message, details)
