"""Spans and trace propagation to the child process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import PY, script

from rel_proc import ProcessFailedError, run
from rel_telemetry import traced
from rel_telemetry.testing import capture_spans

CHILD = """
    import json, os
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    import rel_telemetry

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)

    with rel_telemetry.traced("child.work"):
        pass
    (span,) = exporter.get_finished_spans()
    print(json.dumps({
        "trace_id": f"{span.context.trace_id:032x}",
        "parent_span_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "pid": os.getpid(),
    }))
"""


@pytest.mark.parametrize("supervise", [False, True], ids=["direct", "supervised"])
async def test_child_joins_parent_trace(tmp_path: Path, mark: dict[str, str], supervise: bool) -> None:
    """A real child Python process using rel-telemetry reports a span in the parent's trace, under proc.run.

    Supervised, the context crosses the shim too, and the span's pid is the program's.
    """
    with capture_spans() as spans:
        with traced("parent.job"):
            result = await run(
                PY, script(tmp_path, "child.py", CHILD), check=True, env=mark, supervise=supervise
            )
        child = json.loads(result.stdout)
    parent = spans.one("parent.job")
    proc_span = spans.one(f"proc.run {Path(PY).name}")
    assert child["trace_id"] == f"{parent.context.trace_id:032x}"
    assert child["parent_span_id"] == f"{proc_span.context.span_id:016x}"
    assert proc_span.parent is not None
    assert proc_span.parent.span_id == parent.context.span_id
    assert dict(proc_span.attributes or {})["rel.proc.pid"] == result.pid == child["pid"]


async def test_span_attributes(mark: dict[str, str]) -> None:
    """proc.run spans carry pid, argv0, exit code, signal, duration and whether the tree was killed."""
    with capture_spans() as spans:
        ok = await run("true", env=mark)
        with pytest.raises(ProcessFailedError):
            await run("sh", "-c", "exit 4", check=True, env=mark)
        await run("sh", "-c", "trap '' TERM; sleep 30 & kill -KILL $$", grace=0.05, env=mark)
    first, failed, killed = spans.named("proc.run true") + spans.named("proc.run sh")
    attrs = dict(first.attributes or {})
    assert attrs["rel.proc.pid"] == ok.pid
    assert attrs["rel.proc.argv0"] == "true"
    assert attrs["rel.proc.exit_code"] == 0
    assert attrs["rel.proc.tree_killed"] is False
    assert attrs["rel.proc.duration_s"] >= 0
    failed_attrs = dict(failed.attributes or {})
    assert failed_attrs["rel.proc.exit_code"] == 4
    assert str(failed_attrs["error.type"]).endswith("ProcessFailedError")
    killed_attrs = dict(killed.attributes or {})
    assert killed_attrs["rel.proc.signal"] == "SIGKILL"
    assert killed_attrs["rel.proc.tree_killed"] is True
