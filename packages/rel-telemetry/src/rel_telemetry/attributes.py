"""Attribute names shared by every rel package, so each spells them the same.

Standard OpenTelemetry names are used where they exist; rel's own carry the
``rel.<package>.`` prefix.
"""

from typing import Final

# Standard semantic conventions.
ERROR_TYPE: Final = "error.type"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
CODE_FUNCTION: Final = "code.function"
SERVICE_NAME: Final = "service.name"

# Shared across packages.
OPERATION: Final = "rel.operation"
CANCELLED: Final = "rel.cancelled"
DEADLINE_REMAINING: Final = "rel.deadline.remaining_s"

# rel-retry
RETRY_ATTEMPTS: Final = "rel.retry.attempts"
RETRY_ATTEMPT: Final = "rel.retry.attempt"
RETRY_OUTCOME: Final = "rel.retry.outcome"
RETRY_WAIT: Final = "rel.retry.wait_s"
RETRY_STOP_REASON: Final = "rel.retry.stop_reason"

# rel-io
IO_PATH: Final = "rel.io.path"
IO_OPERATION: Final = "rel.io.operation"
IO_BYTES: Final = "rel.io.bytes"
IO_LOCK_PATH: Final = "rel.io.lock.path"
IO_LOCK_WAIT: Final = "rel.io.lock.wait_s"

# rel-checkpoint
CHECKPOINT_ID: Final = "rel.checkpoint.id"
CHECKPOINT_RUN_ID: Final = "rel.checkpoint.run_id"
CHECKPOINT_BYTES: Final = "rel.checkpoint.bytes"
CHECKPOINT_EVENTS: Final = "rel.checkpoint.events"
CHECKPOINT_PATH: Final = "rel.checkpoint.path"

# rel-proc
PROC_PID: Final = "rel.proc.pid"
PROC_ARGV0: Final = "rel.proc.argv0"
PROC_EXIT_CODE: Final = "rel.proc.exit_code"
PROC_SIGNAL: Final = "rel.proc.signal"
PROC_DURATION: Final = "rel.proc.duration_s"
PROC_TREE_KILLED: Final = "rel.proc.tree_killed"

# rel-guard
GUARD_NAME: Final = "rel.guard.name"
GUARD_BREAKER_STATE: Final = "rel.guard.breaker.state"
GUARD_BREAKER_FROM_STATE: Final = "rel.guard.breaker.from_state"
GUARD_BULKHEAD_ACTIVE: Final = "rel.guard.bulkhead.active"
GUARD_BULKHEAD_WAITING: Final = "rel.guard.bulkhead.waiting"
GUARD_OUTCOME: Final = "rel.guard.outcome"

# rel-health
HEALTH_CHECK: Final = "rel.health.check"
HEALTH_STATUS: Final = "rel.health.status"
HEALTH_RESOURCE: Final = "rel.health.resource"
