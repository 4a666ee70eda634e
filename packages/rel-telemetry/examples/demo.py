"""A small traced job: spans printed to the console, one failure logged as JSON."""

from __future__ import annotations

import logging
import sys

from rel_telemetry import JsonFormatter, configure, get_error_reports, log_exception, traced


@traced()
def load(item: int) -> int:
    if item == 3:
        raise ConnectionError(f"item {item}: upstream unavailable")
    return item * 2


@traced("job")
def job() -> int:
    total = 0
    for item in range(5):
        try:
            total += load(item)
        except ConnectionError:
            log_exception("load failed", extra={"item": item}, operation="load")
    return total


def main() -> int:
    configure(service_name="rel-telemetry-demo", exporter="console", batch=False)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    logging.getLogger("rel").addHandler(handler)
    print("total:", job())
    print("error reports:", [(r.operation, r.exception_type) for r in get_error_reports()])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
