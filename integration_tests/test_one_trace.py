from __future__ import annotations

import errno
import json
import sys
from pathlib import Path

from rel_checkpoint import Run
from rel_io import atomic_write_json, read_json
from rel_proc import run_sync
from rel_retry import RetryConfig, retry_with_backoff
from rel_telemetry.testing import capture_spans

CHILD = str(Path(__file__).with_name("child_traced.py"))


def test_checkpointed_step_retries_writes_and_runs_a_child_in_one_trace(tmp_path: Path) -> None:
    """A step that retries a flaky write and runs a traced child Python process yields one trace.

    Retry and io spans sit under the step span; the child's spans sit under the
    proc span, joined through TRACEPARENT.
    """
    target = tmp_path / "out.json"
    failures = iter([OSError(errno.EAGAIN, "resource temporarily unavailable")])

    def flaky_write() -> None:
        for exc in failures:
            raise exc
        atomic_write_json(target, {"answer": 42})

    with capture_spans() as spans, Run(tmp_path / "run") as run, run.step("publish"):
        retry_with_backoff(flaky_write, RetryConfig(max_retries=3, base_delay_seconds=0.01))
        result = run_sync(sys.executable, CHILD, timeout=60, check=True)

    assert read_json(target) == {"answer": 42}
    step = spans.one("checkpoint.step")
    trace_id = step.context.trace_id
    retry = next(s for s in spans if s.name.startswith("retry "))
    write = next(
        s for s in spans.named("io.atomic_write") if (s.attributes or {}).get("rel.io.path") == str(target)
    )
    proc = next(s for s in spans if s.name.startswith("proc.run"))
    for span in (retry, write, proc):
        assert span.context.trace_id == trace_id, span.name
    assert retry.parent is not None
    assert retry.parent.span_id == step.context.span_id
    assert write.parent is not None
    assert write.parent.span_id in {retry.context.span_id, step.context.span_id}
    assert proc.parent is not None
    assert proc.parent.span_id == step.context.span_id
    assert retry.attributes is not None
    assert retry.attributes["rel.retry.attempts"] == 2

    child_spans = {s["name"]: s for s in json.loads(result.stdout)}
    assert child_spans["child.work"]["trace_id"] == f"{trace_id:032x}"
    assert child_spans["child.work"]["parent_span_id"] == f"{proc.context.span_id:016x}"
    assert child_spans["child.inner"]["parent_span_id"] == child_spans["child.work"]["span_id"]
