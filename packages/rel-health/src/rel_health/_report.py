"""`HealthReport`: every check of one run, the overall status, and its JSON form."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rel_health._check import HealthCheck, HealthStatus

#: Media type of the IETF health-check response format.
HEALTH_JSON = "application/health+json"

_IETF_STATUS = {
    HealthStatus.HEALTHY: "pass",
    HealthStatus.DEGRADED: "warn",
    HealthStatus.UNHEALTHY: "fail",
}


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The results of one run of a :class:`~rel_health.HealthChecker`.

    ``status`` is unhealthy when a critical check is unhealthy, degraded when
    any other check is not healthy, healthy otherwise. ``checks`` maps each
    check name to its result, in registration order. ``cached`` is True when
    the report was served from the checker's cache rather than a fresh run.
    """

    status: HealthStatus
    checks: Mapping[str, HealthCheck]
    critical: frozenset[str] = frozenset()
    duration_s: float = 0.0
    checked_at: float = 0.0
    cached: bool = False
    extras: Mapping[str, Any] = field(default_factory=dict)

    def is_healthy(self, *, strict: bool = False) -> bool:
        """True unless the overall status is unhealthy (``strict``: only if all checks are healthy)."""
        if strict:
            return self.status is HealthStatus.HEALTHY
        return self.status is not HealthStatus.UNHEALTHY

    @property
    def failed_checks(self) -> list[str]:
        """Names of the unhealthy checks (critical or not), in registration order."""
        return [name for name, check in self.checks.items() if check.status is HealthStatus.UNHEALTHY]

    @property
    def degraded_checks(self) -> list[str]:
        """Names of the degraded checks, in registration order."""
        return [name for name, check in self.checks.items() if check.status is HealthStatus.DEGRADED]

    @property
    def durations(self) -> dict[str, float | None]:
        """Seconds each check took, by name."""
        return {name: check.duration_s for name, check in self.checks.items()}

    @property
    def http_status(self) -> int:
        """200 unless the report is unhealthy, then 503 (what a probe endpoint answers)."""
        return 503 if self.status is HealthStatus.UNHEALTHY else 200

    def to_dict(self, *, details: bool = True) -> dict[str, Any]:
        """The report in the shape of the IETF health-check response draft.

        ``{"status": "pass"|"warn"|"fail", "checks": {name: [{...}]}, ...}``;
        each check entry has ``status``, ``output`` (its message, when not
        passing or when ``details``), ``time`` (RFC 3339), ``durationMs``,
        ``critical`` and, with ``details``, a ``details`` object.
        """
        checks: dict[str, list[dict[str, Any]]] = {}
        for name, check in self.checks.items():
            entry: dict[str, Any] = {
                "status": _IETF_STATUS[check.status],
                "time": _rfc3339(check.checked_at),
                "critical": name in self.critical,
            }
            if check.message and (details or check.status is not HealthStatus.HEALTHY):
                entry["output"] = check.message
            if check.duration_s is not None:
                entry["durationMs"] = round(check.duration_s * 1000, 3)
            if details and check.details:
                entry["details"] = dict(check.details)
            checks[name] = [entry]
        body: dict[str, Any] = {"status": _IETF_STATUS[self.status]}
        if self.status is not HealthStatus.HEALTHY:
            failing = self.failed_checks or self.degraded_checks
            body["output"] = f"{self.status.value}: {', '.join(failing)}"
        body.update(self.extras)
        body["checks"] = checks
        return body


def ietf_status(status: HealthStatus | str) -> str:
    """Map a :class:`HealthStatus` to the IETF draft's ``pass`` / ``warn`` / ``fail``."""
    return _IETF_STATUS[HealthStatus.coerce(status)]


def _rfc3339(epoch: float) -> str:
    return (
        _dt.datetime.fromtimestamp(epoch, _dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
