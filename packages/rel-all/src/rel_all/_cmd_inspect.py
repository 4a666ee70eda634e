"""``rel checkpoint`` and ``rel events``: look into run directories and event logs, read-only."""

from __future__ import annotations

import json
import logging
import sys
from collections import deque
from pathlib import Path

from rel_checkpoint import (
    CheckpointError,
    get_latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    replay_events,
    verify_event_log,
    verify_run_dir,
)

EXIT_PROBLEM = 1
EXIT_USAGE = 2
RUN_DIR_MARKERS = ("checkpoints", "snapshot.json", "events.ndjson")
MAX_REPORT_LINES = 40
_CHECKPOINT_ID_HELP = "ids look like 20260101_120000_000000; 'rel checkpoint ls RUN_DIR' lists them"


def _err(message: str, code: int = EXIT_PROBLEM) -> int:
    print(f"rel: error: {message}", file=sys.stderr)
    return code


def _print_report(lines: list[str]) -> None:
    """Print a verification report, eliding the middle of a very long one (the verdict stays last)."""
    if len(lines) > MAX_REPORT_LINES:
        head = lines[: MAX_REPORT_LINES - 1]
        lines = [*head, f"... {len(lines) - len(head) - 1} more findings not shown", lines[-1]]
    for line in lines:
        print(line)


def _run_dir_problem(run_dir: str) -> str | None:
    path = Path(run_dir)
    if not path.exists():
        return f"{run_dir}: no such directory"
    if not path.is_dir():
        return f"{run_dir}: not a directory (give the run directory, not a file in it)"
    if not any((path / marker).exists() for marker in RUN_DIR_MARKERS):
        return f"{run_dir}: not a run directory (it holds none of {', '.join(RUN_DIR_MARKERS)})"
    return None


def checkpoint_command(action: str, run_dir: str, checkpoint_id: str | None) -> int:
    """``ls``, ``show`` or ``verify`` the checkpoints of ``run_dir``.

    Returns 0 when all is well, 1 when a checkpoint is missing or anything is
    corrupt, 2 when ``run_dir`` is not a run directory or the arguments do not fit.
    """
    if checkpoint_id is not None and action != "show":
        return _err(f"--id applies to 'show' only, not to '{action}'", EXIT_USAGE)
    problem = _run_dir_problem(run_dir)
    if problem is not None:
        return _err(problem, EXIT_USAGE)
    _quiet_library_warnings()  # every problem is reported below, once
    if action == "ls":
        return _ls(run_dir)
    if action == "show":
        return _show(run_dir, checkpoint_id)
    report = verify_run_dir(run_dir)
    _print_report(report.lines())
    return 0 if report.ok else EXIT_PROBLEM


def _quiet_library_warnings() -> None:
    logging.getLogger("rel_checkpoint").setLevel(logging.ERROR)


def _corrupt_checkpoints(run_dir: str) -> list[tuple[str, str]]:
    """(id, problem) of every checkpoint whose metadata or snapshot copy fails to verify."""
    return [(cid, problem) for cid, problem in verify_run_dir(run_dir).checkpoints if problem is not None]


def _ls(run_dir: str) -> int:
    valid = {cp.checkpoint_id: cp for cp in list_checkpoints(run_dir)}
    corrupt = dict(_corrupt_checkpoints(run_dir))
    if not valid and not corrupt:
        print(f"{run_dir}: no checkpoints")
    for checkpoint_id in sorted({*valid, *corrupt}):
        if checkpoint_id in corrupt:
            print(f"{checkpoint_id}  CORRUPT: {corrupt[checkpoint_id]}")
            continue
        cp = valid[checkpoint_id]
        print(
            f"{cp.checkpoint_id}  {cp.created_at}  state={cp.run_state}  "
            f"completed={len(cp.completed_workers)}  events={cp.events_count}"
        )
    return EXIT_PROBLEM if corrupt else 0


def _show(run_dir: str, checkpoint_id: str | None) -> int:
    skipped: list[tuple[str, str]] = []
    try:
        if checkpoint_id is None:
            latest = get_latest_checkpoint(run_dir)
            if latest is None:
                return _err(f"{run_dir}: no valid checkpoint")
            checkpoint_id = latest.checkpoint_id
            skipped = [(cid, why) for cid, why in _corrupt_checkpoints(run_dir) if cid > checkpoint_id]
        data = load_checkpoint(run_dir, checkpoint_id)
    except CheckpointError as exc:
        return _err(str(exc))
    except ValueError as exc:  # a malformed --id
        return _err(f"--id {checkpoint_id!r}: {exc}; {_CHECKPOINT_ID_HELP}", EXIT_USAGE)
    print(json.dumps(data, indent=2, sort_keys=True))
    for cid, why in skipped:
        print(
            f"rel: warning: newer checkpoint {cid} is corrupt, showing {checkpoint_id}: {why}",
            file=sys.stderr,
        )
    return EXIT_PROBLEM if skipped else 0


def _log_path(log: str) -> tuple[Path | None, str | None]:
    path = Path(log)
    if path.is_dir():
        if (path / "events.ndjson").is_file():
            return path / "events.ndjson", None
        return None, f"{log}: a directory without events.ndjson (give an event log or a run directory)"
    if not path.exists():
        return None, f"{log}: no such event log"
    if not path.is_file():
        return None, f"{log}: not a regular file"
    return path, None


def events_command(action: str, log: str, n: int) -> int:
    """``verify`` or ``tail`` the event log ``log`` (a file, or a run directory holding one).

    Returns 0 when the log is sound, 1 when it is corrupt or has a torn tail,
    2 when ``log`` names no event log.
    """
    path, problem = _log_path(log)
    if path is None:
        return _err(problem or f"{log}: no such event log", EXIT_USAGE)
    if action == "verify":
        report = verify_event_log(path)
        _print_report(report.lines())
        return 0 if report.ok else EXIT_PROBLEM
    _quiet_library_warnings()
    try:
        last = deque(replay_events(path), maxlen=n)
    except CheckpointError as exc:
        return _err(str(exc))
    for event in last:
        print(json.dumps({"seq": event.seq, "ts": event.timestamp, "payload": event.payload}))
    report = verify_event_log(path)
    if report.torn_tail is not None:
        offset, length = report.torn_tail
        print(
            f"rel: warning: {path} ends in a torn record of {length} bytes at offset {offset} "
            "(an append cut short), not shown",
            file=sys.stderr,
        )
    return 0 if report.ok else EXIT_PROBLEM
