"""The demo's transform step, run as a managed subprocess: JSON lines in, JSON lines out.

Reads ``{"item": n, "value": v}`` objects from stdin, one per line, and writes
the transformed record for each to stdout. The transform is deterministic, so
a rerun after a crash produces byte-identical results.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

from opentelemetry import trace

from rel_telemetry import configure, traced


def transform(record: dict[str, int]) -> dict[str, object]:
    """The deterministic transform of one fetched record."""
    value = int(record["value"])
    return {
        "item": int(record["item"]),
        "value": value,
        "square": value * value,
        "digest": hashlib.sha256(str(value).encode()).hexdigest()[:16],
    }


def main() -> int:
    """Transform every stdin line; exit 1 on malformed input, naming the line."""
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        configure(service_name="rel-demo-worker", exporter="otlp", batch=False)
    with traced("demo.transform_batch", scope="rel_all"):
        out = []
        for lineno, line in enumerate(sys.stdin, 1):
            if not line.strip():
                continue
            try:
                out.append(json.dumps(transform(json.loads(line)), sort_keys=True))
            except (ValueError, KeyError, TypeError) as exc:
                print(f"demo worker: bad input on line {lineno}: {exc}", file=sys.stderr)
                return 1
        sys.stdout.write("\n".join(out) + ("\n" if out else ""))
    _flush_spans()
    return 0


def _flush_spans() -> None:
    provider = trace.get_tracer_provider()
    flush = getattr(provider, "force_flush", None)
    if flush is not None:
        flush()


if __name__ == "__main__":
    raise SystemExit(main())
