"""rel-checkpoint: checkpoints and event logs that survive kill -9, and runs that resume exactly.

Checksummed checkpoint files written atomically through rel-io; a CRC-framed
JSON-lines event log with torn-tail recovery and three durability modes; run
directories (snapshot, events, checkpoints) with resume. See the docs for
the on-disk formats.
"""

from rel_checkpoint._errors import (
    CheckpointCorruptError,
    CheckpointError,
    CheckpointNotFoundError,
    EventLogClosedError,
    EventLogCorruptError,
    EventLogFailedError,
    IncompatibleCheckpointError,
    InvalidSnapshotError,
)
from rel_checkpoint._eventlog import Durability, EventLog
from rel_checkpoint._framing import Event
from rel_checkpoint._integrity import save_checkpoint, validate_checkpoint_compatibility
from rel_checkpoint._recovery import RecoveryReport
from rel_checkpoint._resume import (
    STEP_COMPLETED,
    ResumeResult,
    get_incomplete_workers,
    replay_events,
    resume_run,
)
from rel_checkpoint._run import Run, Step
from rel_checkpoint._rundir import (
    CHECKPOINTS_DIR,
    EVENTS_FILE,
    SNAPSHOT_FILE,
    Checkpoint,
    cleanup_old_checkpoints,
    create_checkpoint,
    get_latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
)
from rel_checkpoint._verify import (
    EventLogVerification,
    RunVerification,
    verify_event_log,
    verify_run_dir,
)
from rel_checkpoint._version import __version__

__all__ = [
    "__version__",
    # checkpoint files
    "load_checkpoint",
    "save_checkpoint",
    "validate_checkpoint_compatibility",
    # event log
    "Durability",
    "Event",
    "EventLog",
    "RecoveryReport",
    "replay_events",
    # run directories
    "CHECKPOINTS_DIR",
    "EVENTS_FILE",
    "SNAPSHOT_FILE",
    "STEP_COMPLETED",
    "Checkpoint",
    "cleanup_old_checkpoints",
    "create_checkpoint",
    "get_latest_checkpoint",
    "list_checkpoints",
    # resume
    "ResumeResult",
    "Run",
    "Step",
    "EventLogVerification",
    "RunVerification",
    "verify_event_log",
    "verify_run_dir",
    "get_incomplete_workers",
    "resume_run",
    # errors
    "CheckpointCorruptError",
    "CheckpointError",
    "CheckpointNotFoundError",
    "EventLogClosedError",
    "EventLogCorruptError",
    "EventLogFailedError",
    "IncompatibleCheckpointError",
    "InvalidSnapshotError",
]
