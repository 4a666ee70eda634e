"""``rel checkpoint`` and ``rel events``: look into run directories and event logs, read-only."""

from __future__ import annotations

import json
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


def _err(message: str) -> int:
    print(f"rel: error: {message}", file=sys.stderr)
    return 1


def checkpoint_command(action: str, run_dir: str, checkpoint_id: str | None) -> int:
    """``ls``, ``show`` or ``verify`` the checkpoints of ``run_dir``; 1 when anything is wrong."""
    if not Path(run_dir).is_dir():
        return _err(f"{run_dir}: not a run directory (no such directory)")
    if action == "ls":
        checkpoints = list_checkpoints(run_dir)
        if not checkpoints:
            print(f"{run_dir}: no checkpoints")
        for cp in checkpoints:
            print(
                f"{cp.checkpoint_id}  {cp.created_at}  state={cp.run_state}  "
                f"completed={len(cp.completed_workers)}  events={cp.events_count}"
            )
        return 0
    if action == "show":
        try:
            if checkpoint_id is None:
                latest = get_latest_checkpoint(run_dir)
                if latest is None:
                    return _err(f"{run_dir}: no valid checkpoint")
                checkpoint_id = latest.checkpoint_id
            print(json.dumps(load_checkpoint(run_dir, checkpoint_id), indent=2, sort_keys=True))
        except CheckpointError as exc:
            return _err(str(exc))
        return 0
    report = verify_run_dir(run_dir)
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def events_command(action: str, log: str, n: int) -> int:
    """``verify`` or ``tail`` the event log ``log``; 1 when it is corrupt or torn."""
    if not Path(log).is_file():
        return _err(f"{log}: no such event log")
    if action == "verify":
        report = verify_event_log(log)
        for line in report.lines():
            print(line)
        return 0 if report.ok else 1
    try:
        last = deque(replay_events(log), maxlen=n)
    except CheckpointError as exc:
        return _err(str(exc))
    for event in last:
        print(json.dumps({"seq": event.seq, "ts": event.timestamp, "payload": event.payload}))
    return 0
