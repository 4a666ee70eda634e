from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from opentelemetry import trace

from rel_telemetry import extract_env, inject_env, trace_env, traced, use_env_context
from rel_telemetry.testing import capture_spans

CHILD = textwrap.dedent(
    """
    import json
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry import trace
    import rel_telemetry

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)

    @rel_telemetry.traced("child.work")
    def work():
        return 1

    work()
    (span,) = exporter.get_finished_spans()
    print(json.dumps({
        "trace_id": f"{span.context.trace_id:032x}",
        "parent_span_id": f"{span.parent.span_id:016x}" if span.parent else None,
    }))
    """
)


def test_child_process_joins_parent_trace() -> None:
    """A real child Python process using rel-telemetry reports a span in the parent's trace."""
    with capture_spans() as spans, traced("parent.run") as span:
        env = inject_env()
        out = subprocess.run(
            [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=60, check=True
        )
    child = json.loads(out.stdout)
    parent = spans.one("parent.run")
    assert child["trace_id"] == f"{parent.context.trace_id:032x}"
    assert child["parent_span_id"] == f"{span.get_span_context().span_id:016x}"


def test_env_round_trip() -> None:
    """inject_env then extract_env gives back the active span's context."""
    with capture_spans(), traced("op") as span:
        env = inject_env({"KEEP": "1"})
    assert env["KEEP"] == "1"
    assert env["TRACEPARENT"].startswith("00-")
    ctx = trace.get_current_span(extract_env(env)).get_span_context()
    assert ctx.trace_id == span.get_span_context().trace_id
    assert ctx.span_id == span.get_span_context().span_id
    assert ctx.is_remote


def test_inject_without_span_drops_stale_context() -> None:
    """With no active span and none inherited, stale TRACEPARENT values are removed."""
    env = inject_env(
        {"TRACEPARENT": "00-" + "a" * 32 + "-" + "b" * 16 + "-01", "TRACESTATE": "x=1", "A": "b"}
    )
    assert env == {"A": "b"}


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "",
        "00-" + "0" * 32 + "-" + "b" * 16 + "-01",  # all-zero trace id is invalid
        "00-xyz-abc-01",
        "ff-" + "a" * 32 + "-" + "b" * 16 + "-01",  # version ff is forbidden
        "00-" + "a" * 32 + "-" + "b" * 16,
    ],
)
def test_malformed_traceparent_is_ignored(value: str) -> None:
    """A malformed TRACEPARENT yields an empty context, never an exception."""
    ctx = extract_env({"TRACEPARENT": value, "TRACESTATE": "bad state ,,,"})
    assert not trace.get_current_span(ctx).get_span_context().is_valid


def test_hostile_mapping_never_raises() -> None:
    """extract_env survives a mapping whose lookups raise."""

    class Hostile(dict[str, str]):
        def get(self, key: str, default: object = None) -> str:  # type: ignore[override]
            raise RuntimeError("boom")

    ctx = extract_env(Hostile())
    assert not trace.get_current_span(ctx).get_span_context().is_valid


def test_use_env_context_parents_spans() -> None:
    """Spans started inside use_env_context are children of the carried context."""
    tp = "00-" + "1" * 32 + "-" + "2" * 16 + "-01"
    with capture_spans() as spans, use_env_context({"TRACEPARENT": tp}), traced("inside"):
        pass
    span = spans.one("inside")
    assert f"{span.context.trace_id:032x}" == "1" * 32
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == "2" * 16


def test_trace_env_holds_only_the_trace_variables() -> None:
    """trace_env returns TRACEPARENT (and TRACESTATE) of the active span and nothing else."""
    with capture_spans(), traced("op") as span:
        env = trace_env()
        full = inject_env({"KEEP": "1"})
    assert set(env) == {"TRACEPARENT"}
    assert env["TRACEPARENT"] == full["TRACEPARENT"]
    ctx = trace.get_current_span(extract_env(env)).get_span_context()
    assert (ctx.trace_id, ctx.span_id) == (span.get_span_context().trace_id, span.get_span_context().span_id)


def test_trace_env_is_empty_without_a_trace() -> None:
    """With no active span and no inherited context there is nothing to pass on."""
    assert trace_env() == {}


def test_trace_env_carries_tracestate() -> None:
    """A TRACESTATE in the active context is passed on next to TRACEPARENT."""
    tp = "00-" + "3" * 32 + "-" + "4" * 16 + "-01"
    with use_env_context({"TRACEPARENT": tp, "TRACESTATE": "vendor=abc"}):
        env = trace_env()
    assert env == {"TRACEPARENT": tp, "TRACESTATE": "vendor=abc"}


def test_trace_env_merged_into_a_child_environment() -> None:
    """A child started with os.environ plus trace_env() joins the parent's trace."""
    with capture_spans() as spans, traced("parent.spawn") as span:
        env = {**os.environ, **trace_env()}
        out = subprocess.run(
            [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=60, check=True
        )
    child = json.loads(out.stdout)
    assert child["trace_id"] == f"{spans.one('parent.spawn').context.trace_id:032x}"
    assert child["parent_span_id"] == f"{span.get_span_context().span_id:016x}"


def test_inherited_context_is_passed_on_by_a_middle_process() -> None:
    """A process with no active span passes the context it inherited to its own children."""
    tp = "00-" + "5" * 32 + "-" + "6" * 16 + "-01"
    code = (
        "import json, rel_telemetry;"
        "print(json.dumps([rel_telemetry.trace_env(), rel_telemetry.inject_env({'A': 'b'})]))"
    )
    env = {**os.environ, "TRACEPARENT": tp}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    only, full = json.loads(out.stdout)
    assert only == {"TRACEPARENT": tp}
    assert full == {"A": "b", "TRACEPARENT": tp}
