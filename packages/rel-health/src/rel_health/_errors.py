"""The exceptions of rel-health: one root, one for a failed health gate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rel_health._report import HealthReport


class HealthError(Exception):
    """Root of every exception rel-health raises."""


class HealthCheckFailedError(HealthError):
    """Raised when work must not proceed because health checks failed.

    ``report`` is the :class:`~rel_health.HealthReport` that failed, when the
    error came from :func:`raise_if_unhealthy` (None when raised by hand with
    only a message, as in ``raise HealthCheckFailedError("...")``).
    """

    def __init__(self, message: str, report: HealthReport | None = None) -> None:
        super().__init__(message)
        self.report = report

    @property
    def failed_checks(self) -> list[str]:
        """Names of the unhealthy checks in ``report`` (empty without a report)."""
        return [] if self.report is None else self.report.failed_checks

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.report))


def raise_if_unhealthy(report: HealthReport, *, strict: bool = False) -> HealthReport:
    """Return ``report`` if it is healthy, else raise :class:`HealthCheckFailedError`.

    With ``strict=True`` a degraded report also raises. The message names the
    failing checks and their messages.

    :raises HealthCheckFailedError: the report is unhealthy (or degraded when strict).
    """
    if report.is_healthy(strict=strict):
        return report
    names = report.failed_checks if report.failed_checks else report.degraded_checks
    details = "; ".join(f"{name}: {report.checks[name].message}" for name in names)
    raise HealthCheckFailedError(
        f"Health checks failed ({report.status.value}): {names}" + (f" - {details}" if details else ""),
        report,
    )
