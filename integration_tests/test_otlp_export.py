from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from otlp_receiver import OtlpReceiver

SCRIPT = textwrap.dedent(
    """
    import sys
    import rel_telemetry
    from rel_io import atomic_write_json
    from rel_proc import run_sync
    from rel_retry import RetryConfig, retry_with_backoff

    provider = rel_telemetry.configure(service_name="otlp-test", exporter="otlp", batch=False)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 2:
            raise ConnectionError("blip")
        atomic_write_json(sys.argv[1], {"ok": True})

    with rel_telemetry.traced("job"):
        retry_with_backoff(flaky, RetryConfig(max_retries=2, base_delay_seconds=0.01))
        run_sync(sys.executable, "-c", "pass", timeout=30, check=True)
    provider.force_flush()
    provider.shutdown()
    """
)


def test_spans_reach_an_otlp_receiver(tmp_path: Path, otlp_receiver: OtlpReceiver) -> None:
    """rel's spans exported over OTLP/HTTP decode with opentelemetry-proto: names, parents, attributes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp_receiver.endpoint
    subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "out.json")], env=env, check=True, timeout=120
    )
    spans = {s.name: s for s in otlp_receiver.spans}
    job = spans["job"]
    retry = next(s for s in otlp_receiver.spans if s.name.startswith("retry "))
    write = spans["io.atomic_write"]
    proc = next(s for s in otlp_receiver.spans if s.name.startswith("proc.run"))
    assert {s.trace_id for s in (job, retry, write, proc)} == {job.trace_id}
    assert job.parent_span_id == ""
    assert retry.parent_span_id == job.span_id
    assert proc.parent_span_id == job.span_id
    assert write.parent_span_id in {retry.span_id, job.span_id}
    assert retry.attributes["rel.retry.attempts"] == 2
    assert retry.scope == "rel_retry"
    assert write.scope == "rel_io"
    assert "rel.io.path" in write.attributes
    assert isinstance(proc.attributes["rel.proc.pid"], int)
    assert proc.attributes["rel.proc.exit_code"] == 0
    assert job.service == "otlp-test"


def test_demo_exports_one_trace_over_otlp(tmp_path: Path, otlp_receiver: OtlpReceiver) -> None:
    """`rel demo` with OTEL_EXPORTER_OTLP_ENDPOINT exports its trace; worker spans join it via TRACEPARENT."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp_receiver.endpoint
    args = [sys.executable, "-m", "rel_all", "demo", "--items", "12", "--batch", "6", "--quiet"]
    subprocess.run([*args, "--workdir", str(tmp_path / "d")], env=env, check=True, timeout=300)
    spans = otlp_receiver.spans
    (root,) = [s for s in spans if s.name == "rel.demo"]
    (run,) = [s for s in spans if s.name == "demo.run"]
    assert run.service == "rel-demo"
    assert root.parent_span_id == ""
    assert run.parent_span_id == root.span_id
    # Everything the demo and its workers did is one trace.
    assert {s.trace_id for s in spans} == {root.trace_id}
    assert [s.name for s in spans if s.parent_span_id == ""] == ["rel.demo"]
    procs = [s for s in spans if s.name.startswith("proc.run")]
    workers = [s for s in spans if s.name == "demo.transform_batch"]
    assert len(procs) == 2
    assert len(workers) == 2
    assert {w.service for w in workers} == {"rel-demo-worker"}
    assert {w.trace_id for w in workers} == {run.trace_id}
    assert {w.parent_span_id for w in workers} == {p.span_id for p in procs}
    assert len([s for s in spans if s.name == "demo.fetch"]) == 12


CHILD = textwrap.dedent(
    """
    import rel_telemetry

    provider = rel_telemetry.configure(service_name="rel-run-child", exporter="otlp", batch=False)
    with rel_telemetry.traced("child.work"):
        pass
    provider.shutdown()
    """
)


def test_rel_run_exports_its_spans_and_the_child_joins_the_trace(otlp_receiver: OtlpReceiver) -> None:
    """`rel run` under an incoming TRACEPARENT exports rel.run and proc.run; the child's span hangs under proc.run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp_receiver.endpoint
    trace_id, parent_id = "ab" * 16, "cd" * 8
    env["TRACEPARENT"] = f"00-{trace_id}-{parent_id}-01"
    out = subprocess.run(
        [sys.executable, "-m", "rel_all", "run", "--timeout", "60", "--", sys.executable, "-c", CHILD],
        env=env,
        timeout=120,
        check=False,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    spans = otlp_receiver.spans
    (run,) = [s for s in spans if s.name == "rel.run"]
    (proc,) = [s for s in spans if s.name.startswith("proc.run")]
    (child,) = [s for s in spans if s.name == "child.work"]
    assert {run.trace_id, proc.trace_id, child.trace_id} == {trace_id}
    assert run.parent_span_id == parent_id
    assert proc.parent_span_id == run.span_id
    assert child.parent_span_id == proc.span_id
    assert run.service == "rel-run"
    assert child.service == "rel-run-child"
