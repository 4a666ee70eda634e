"""Resuming a run: the newest valid checkpoint plus the steps recorded after it."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rel_checkpoint._errors import CheckpointError
from rel_checkpoint._framing import Event
from rel_checkpoint._replay import read_events
from rel_checkpoint._rundir import (
    EVENTS_FILE,
    SNAPSHOT_FILE,
    Checkpoint,
    _ids,
    get_latest_checkpoint,
    parse_snapshot,
    snapshot_fields,
)
from rel_checkpoint._telemetry import checkpoint_span, log, report
from rel_telemetry.attributes import CHECKPOINT_ID, CHECKPOINT_RUN_ID

PathLike = str | os.PathLike[str]

STEP_COMPLETED = "step_completed"
"""The ``type`` of the event :class:`Run.step` appends when a step finishes."""


@dataclass(frozen=True, slots=True)
class ResumeResult:
    """What :func:`resume_run` found: which run, from which state and checkpoint, what is left.

    ``checkpoint_loaded`` and ``resumed_from_state`` are ``""`` on a fresh
    start; ``success`` is False when checkpoints exist but none verifies.
    """

    run_id: str
    resumed_from_state: str
    checkpoint_loaded: str
    workers_to_rerun: list[str] = field(default_factory=list)
    success: bool = True


def _events_path(run_dir: PathLike) -> Path:
    path = Path(run_dir)
    return path / EVENTS_FILE if path.is_dir() else path


def replay_events(
    run_dir: PathLike,
    checkpoint: Checkpoint | None = None,
    *,
    from_seq: int | None = None,
    skip_corrupt: bool = False,
) -> Iterator[Event]:
    """Stream the events of ``run_dir`` (or of an event log file), oldest first, in constant memory.

    With ``checkpoint``, start after the events it already reflects
    (``events_count + 1``); ``from_seq`` starts at a sequence number. A missing
    log yields nothing. A torn last record is ignored; a corrupt record before
    the tail raises :class:`EventLogCorruptError` (byte offset, expected seq)
    unless ``skip_corrupt``.
    """
    start = from_seq if from_seq is not None else (checkpoint.events_count + 1 if checkpoint else 1)
    return read_events(_events_path(run_dir), start, skip_corrupt=skip_corrupt)


def _snapshot_run_id(run_dir: PathLike) -> str:
    source = Path(run_dir) / SNAPSHOT_FILE
    try:
        return snapshot_fields(parse_snapshot(source.read_bytes(), source), run_dir)[0]
    except (OSError, CheckpointError):
        return Path(run_dir).name


def completed_steps(run_dir: PathLike) -> tuple[Checkpoint | None, dict[str, None], bool]:
    """(latest valid checkpoint, completed step names in order, whether the state is trustworthy)."""
    checkpoint = get_latest_checkpoint(run_dir)
    if checkpoint is None and _ids(run_dir):
        return None, {}, False
    done: dict[str, None] = dict.fromkeys(checkpoint.completed_workers if checkpoint else [])
    # Skipping a corrupt record can only make a step run again, never skip one.
    for event in replay_events(run_dir, checkpoint, skip_corrupt=True):
        name = _completed_step(event.payload)
        if name is not None:
            done[name] = None
    return checkpoint, done, True


def _completed_step(payload: Any) -> str | None:
    if isinstance(payload, dict) and payload.get("type") == STEP_COMPLETED:
        step = payload.get("step")
        if isinstance(step, str):
            return step
    return None


def resume_run(run_dir: PathLike, all_workers: Iterable[str]) -> ResumeResult:
    """Work out how to resume the run in ``run_dir``: the workers of ``all_workers`` still to run.

    Loads the newest checkpoint that verifies (skipping corrupt ones) and adds
    the steps recorded complete in the event log after it. Order of
    ``all_workers`` is kept and duplicates dropped. With no checkpoint it is a
    fresh start (every worker not recorded complete in the log). When
    checkpoints exist but none verifies, ``success`` is False and every worker
    is listed.
    """
    workers = list(dict.fromkeys(all_workers))
    with checkpoint_span("checkpoint.resume", run_dir) as span:
        checkpoint, done, trustworthy = completed_steps(run_dir)
        if not trustworthy:
            err = CheckpointError(
                f"run directory {os.fspath(run_dir)!r} has checkpoints but none verifies; "
                "every worker will run again",
                path=run_dir,
            )
            log.warning("%s", err)
            report("checkpoint.resume", err, run_dir)
            return ResumeResult(_snapshot_run_id(run_dir), "", "", workers, False)
        run_id = checkpoint.run_id if checkpoint else _snapshot_run_id(run_dir)
        result = ResumeResult(
            run_id=run_id,
            resumed_from_state=checkpoint.run_state if checkpoint else "",
            checkpoint_loaded=checkpoint.checkpoint_id if checkpoint else "",
            workers_to_rerun=[w for w in workers if w not in done],
            success=True,
        )
        if span.is_recording():
            span.set_attributes({CHECKPOINT_RUN_ID: run_id, CHECKPOINT_ID: result.checkpoint_loaded})
            span.set_attribute("rel.checkpoint.workers_to_rerun", len(result.workers_to_rerun))
        return result


def get_incomplete_workers(run_dir: PathLike, all_workers: Iterable[str]) -> list[str]:
    """The workers of ``all_workers`` that :func:`resume_run` would run again, in order."""
    return resume_run(run_dir, all_workers).workers_to_rerun
