"""What `/livez`, `/readyz` and `/healthz` answer, shared by the HTTP server and the ASGI app."""

from __future__ import annotations

import json
from dataclasses import dataclass

from rel_health._checker import HealthChecker
from rel_health._report import HEALTH_JSON, HealthReport

PROBE_PATHS = ("/livez", "/readyz", "/healthz")

LIVENESS_GROUP = "liveness"
READINESS_GROUP = "readiness"


@dataclass(frozen=True, slots=True)
class ProbeResponse:
    """An HTTP answer: status code, content type and body bytes."""

    status: int
    content_type: str
    body: bytes


async def probe(checker: HealthChecker, path: str) -> ProbeResponse:
    """Answer the probe at ``path`` (query string ignored).

    ``/livez`` runs the checks in the ``liveness`` group (none: the process
    answers, so it passes); ``/readyz`` those in the ``readiness`` group, or
    every critical check when that group is empty; ``/healthz`` all checks,
    with details. 200 unless the report is unhealthy (503); 404 for other paths.
    """
    route = path.split("?", 1)[0].rstrip("/") or "/"
    if route == "/livez":
        report = await checker.check_all(names=checker.names_in_group(LIVENESS_GROUP))
        return _answer(report, details=False)
    if route == "/readyz":
        names = checker.names_in_group(READINESS_GROUP) or checker.critical_names()
        return _answer(await checker.check_all(names=names), details=False)
    if route == "/healthz":
        return _answer(await checker.check_all(), details=True)
    body = json.dumps({"status": "fail", "output": f"no probe at {route}; try one of {list(PROBE_PATHS)}"})
    return ProbeResponse(404, HEALTH_JSON, body.encode())


def _answer(report: HealthReport, *, details: bool) -> ProbeResponse:
    body = json.dumps(report.to_dict(details=details), default=str, separators=(",", ":"))
    return ProbeResponse(report.http_status, HEALTH_JSON, body.encode())
