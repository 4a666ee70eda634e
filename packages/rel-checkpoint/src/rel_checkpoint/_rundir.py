"""Run directories: a live snapshot, an event log and a folder of verified checkpoints.

Layout (names are part of the on-disk format)::

    <run_dir>/snapshot.json                 live state, written by the application
    <run_dir>/events.ndjson                 the run's EventLog
    <run_dir>/checkpoints/<id>.json         checkpoint metadata (a checksummed checkpoint file)
    <run_dir>/checkpoints/<id>.snapshot.json   byte-for-byte copy of snapshot.json

A checkpoint exists once its metadata file does; the copy is written (and
synced) first, so a crash in between leaves an orphan copy and no checkpoint.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rel_checkpoint._errors import (
    CheckpointCorruptError,
    CheckpointError,
    CheckpointNotFoundError,
    InvalidSnapshotError,
)
from rel_checkpoint._integrity import (
    CHECKSUM_KEY,
    decode_checkpoint,
    load_checkpoint_file,
    save_checkpoint,
)
from rel_checkpoint._legacy import scan_log_tail
from rel_checkpoint._telemetry import checkpoint_span, log, report
from rel_io import FileLock, atomic_write_bytes, ensure_dir
from rel_telemetry.attributes import CHECKPOINT_EVENTS, CHECKPOINT_ID, CHECKPOINT_RUN_ID

PathLike = str | os.PathLike[str]

SNAPSHOT_FILE = "snapshot.json"
EVENTS_FILE = "events.ndjson"
CHECKPOINTS_DIR = "checkpoints"
_SNAPSHOT_SUFFIX = ".snapshot.json"
_ID_FORMAT = "%Y%m%d_%H%M%S_%f"
_ID_PATTERN = re.compile(r"^\d{8}_\d{6}_\d{6}$")
_LOCK_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One checkpoint of a run directory.

    ``checkpoint_id`` (``YYYYMMDD_HHMMSS_ffffff``, UTC) sorts by time;
    ``events_count`` is the sequence number of the last event recorded when it
    was taken (replay from ``events_count + 1`` to catch up); ``snapshot_path``
    is the checkpoint's own copy of the snapshot.
    """

    checkpoint_id: str
    run_id: str
    created_at: str
    run_state: str
    completed_workers: list[str] = field(default_factory=list)
    snapshot_path: str = ""
    events_count: int = 0

    def load(self) -> dict[str, Any]:
        """Return the snapshot this checkpoint copied, verified; see :func:`load_checkpoint`."""
        return load_run_checkpoint(Path(self.snapshot_path).parent.parent, self.checkpoint_id)


def checkpoints_dir(run_dir: PathLike) -> Path:
    """The folder holding ``run_dir``'s checkpoints."""
    return Path(run_dir) / CHECKPOINTS_DIR


def _check_id(checkpoint_id: str) -> str:
    if not isinstance(checkpoint_id, str) or not _ID_PATTERN.match(checkpoint_id):
        raise ValueError(f"checkpoint_id must look like 'YYYYMMDD_HHMMSS_ffffff', got {checkpoint_id!r}")
    return checkpoint_id


def _ids(run_dir: PathLike) -> list[str]:
    """Ids of the metadata files present, oldest first."""
    try:
        names = os.listdir(checkpoints_dir(run_dir))
    except FileNotFoundError:
        return []
    found = [n[:-5] for n in names if n.endswith(".json") and not n.endswith(_SNAPSHOT_SUFFIX)]
    return sorted(i for i in found if _ID_PATTERN.match(i))


def _meta_path(run_dir: PathLike, checkpoint_id: str) -> Path:
    return checkpoints_dir(run_dir) / f"{checkpoint_id}.json"


def _copy_path(run_dir: PathLike, checkpoint_id: str) -> Path:
    return checkpoints_dir(run_dir) / f"{checkpoint_id}{_SNAPSHOT_SUFFIX}"


def parse_snapshot(raw: bytes, path: PathLike) -> dict[str, Any]:
    """Parse snapshot bytes into a dict (verifying ``_checksum`` when the snapshot has one)."""
    if raw.startswith(b'{"_checksum"'):
        return decode_checkpoint(raw, path)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: garbage such as "[[[[..."
        raise InvalidSnapshotError(
            f"snapshot {os.fspath(path)!r} is not valid JSON: {exc}", path=path
        ) from None
    if not isinstance(data, dict):
        raise InvalidSnapshotError(
            f"snapshot {os.fspath(path)!r} must hold a JSON object, found {type(data).__name__}", path=path
        )
    if CHECKSUM_KEY in data:
        return decode_checkpoint(raw, path)
    return data


def snapshot_fields(snapshot: dict[str, Any], run_dir: PathLike) -> tuple[str, str, list[str]]:
    """``(run_id, run_state, completed_workers)`` of a snapshot, with the documented defaults."""
    run_id = snapshot.get("run_id", Path(run_dir).name)
    run_state = snapshot.get("run_state", "")
    workers = snapshot.get("completed_workers", [])
    if not isinstance(run_id, str) or not isinstance(run_state, str):
        raise InvalidSnapshotError(
            f"snapshot of {os.fspath(run_dir)!r}: run_id and run_state must be strings, "
            f"got {run_id!r} and {run_state!r}",
            path=run_dir,
        )
    if not isinstance(workers, list) or not all(isinstance(w, str) for w in workers):
        raise InvalidSnapshotError(
            f"snapshot of {os.fspath(run_dir)!r}: completed_workers must be a list of strings, got {workers!r}",
            path=run_dir,
        )
    return run_id, run_state, list(workers)


def events_count(run_dir: PathLike) -> int:
    """The sequence number of the last valid event in ``run_dir``'s log (0 if none)."""
    try:
        fd = os.open(Path(run_dir) / EVENTS_FILE, os.O_RDONLY)
    except FileNotFoundError:
        return 0
    try:
        return scan_log_tail(fd, os.fstat(fd).st_size).last_seq
    finally:
        os.close(fd)


def _next_id(run_dir: PathLike) -> str:
    """A new id, later than every existing one even if the clock stepped back (lock held)."""
    now = _dt.datetime.now(_dt.UTC).replace(tzinfo=None)
    existing = _ids(run_dir)
    if existing:
        latest = _dt.datetime.strptime(existing[-1], _ID_FORMAT)
        if now <= latest:
            now = latest + _dt.timedelta(microseconds=1)
    return now.strftime(_ID_FORMAT)


def _lock(run_dir: PathLike) -> FileLock:
    return FileLock(checkpoints_dir(run_dir) / ".lock", timeout=_LOCK_TIMEOUT)


def create_checkpoint(run_dir: PathLike) -> Checkpoint:
    """Copy ``run_dir``'s snapshot into a new checkpoint and return it.

    The snapshot is copied, never moved; the copy and the metadata are
    durable when this returns. ``events_count`` is read before the snapshot,
    so a resume replays every event the snapshot might not reflect. Ids are
    unique and increase across processes. Raises
    :class:`CheckpointNotFoundError` when the run directory or its
    ``snapshot.json`` is missing and :class:`InvalidSnapshotError` when the
    snapshot is not a JSON object.
    """
    with checkpoint_span("checkpoint.create", run_dir) as span:
        try:
            source = Path(run_dir) / SNAPSHOT_FILE
            count = events_count(run_dir)
            try:
                raw = source.read_bytes()
            except FileNotFoundError:
                raise CheckpointNotFoundError(
                    f"cannot checkpoint {os.fspath(run_dir)!r}: it has no {SNAPSHOT_FILE}; write the "
                    "run's snapshot first",
                    path=source,
                ) from None
            run_id, run_state, workers = snapshot_fields(parse_snapshot(raw, source), run_dir)
            ensure_dir(checkpoints_dir(run_dir))
            with _lock(run_dir):
                checkpoint_id = _next_id(run_dir)
                copy = _copy_path(run_dir, checkpoint_id)
                atomic_write_bytes(copy, raw)
                created_at = _dt.datetime.strptime(checkpoint_id, _ID_FORMAT).replace(tzinfo=_dt.UTC)
                meta = {
                    "checkpoint_id": checkpoint_id,
                    "run_id": run_id,
                    "created_at": created_at.isoformat(timespec="microseconds").replace("+00:00", "Z"),
                    "run_state": run_state,
                    "completed_workers": workers,
                    "events_count": count,
                    "snapshot_file": copy.name,
                    "snapshot_sha256": hashlib.sha256(raw).hexdigest(),
                    "snapshot_bytes": len(raw),
                }
                save_checkpoint(_meta_path(run_dir, checkpoint_id), meta)
            if span.is_recording():
                span.set_attributes(
                    {CHECKPOINT_ID: checkpoint_id, CHECKPOINT_RUN_ID: run_id, CHECKPOINT_EVENTS: count}
                )
            return _from_meta(run_dir, meta)
        except Exception as exc:
            report("checkpoint.create", exc, run_dir)
            raise


def _from_meta(run_dir: PathLike, meta: dict[str, Any]) -> Checkpoint:
    try:
        return Checkpoint(
            checkpoint_id=str(meta["checkpoint_id"]),
            run_id=str(meta["run_id"]),
            created_at=str(meta["created_at"]),
            run_state=str(meta["run_state"]),
            completed_workers=[str(w) for w in meta["completed_workers"]],
            snapshot_path=str(_copy_path(run_dir, str(meta["checkpoint_id"]))),
            events_count=int(meta["events_count"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointCorruptError(
            f"checkpoint metadata in {os.fspath(run_dir)!r} lacks a valid field ({exc!r})", path=run_dir
        ) from None


def _read_meta(run_dir: PathLike, checkpoint_id: str) -> dict[str, Any]:
    meta = load_checkpoint_file(_meta_path(run_dir, checkpoint_id))
    if meta.get("checkpoint_id") != checkpoint_id:
        raise CheckpointCorruptError(
            f"checkpoint {checkpoint_id!r} of {os.fspath(run_dir)!r} names itself "
            f"{meta.get('checkpoint_id')!r}: the file was renamed or copied",
            path=_meta_path(run_dir, checkpoint_id),
        )
    return meta


def _verified_copy(run_dir: PathLike, meta: dict[str, Any]) -> bytes:
    copy = _copy_path(run_dir, str(meta["checkpoint_id"]))
    try:
        raw = copy.read_bytes()
    except FileNotFoundError:
        raise CheckpointCorruptError(
            f"checkpoint {meta['checkpoint_id']!r} of {os.fspath(run_dir)!r} has lost its snapshot copy "
            f"{copy.name!r}",
            path=copy,
        ) from None
    found = hashlib.sha256(raw).hexdigest()
    if found != meta.get("snapshot_sha256"):
        raise CheckpointCorruptError(
            f"snapshot copy {os.fspath(copy)!r} fails its checksum: expected "
            f"{meta.get('snapshot_sha256')}, found {found}",
            path=copy,
            expected=meta.get("snapshot_sha256"),
            found=found,
        )
    return raw


def list_checkpoints(run_dir: PathLike) -> list[Checkpoint]:
    """The checkpoints of ``run_dir`` whose metadata verifies, oldest first ([] if none).

    A checkpoint whose metadata fails its checksum is left out with a warning
    and an error report; :func:`get_latest_checkpoint` also verifies the copy.
    """
    found: list[Checkpoint] = []
    for checkpoint_id in _ids(run_dir):
        try:
            found.append(_from_meta(run_dir, _read_meta(run_dir, checkpoint_id)))
        except CheckpointNotFoundError:
            continue  # deleted meanwhile
        except CheckpointError as exc:
            log.warning("skipping checkpoint %s of %s: %s", checkpoint_id, os.fspath(run_dir), exc)
            report("checkpoint.list", exc, run_dir, checkpoint_id=checkpoint_id)
    return found


def get_latest_checkpoint(run_dir: PathLike) -> Checkpoint | None:
    """The newest checkpoint of ``run_dir`` that fully verifies (metadata and copy), or None.

    A corrupt newer checkpoint is skipped with a warning and an error report,
    falling back to the newest valid one.
    """
    for checkpoint_id in reversed(_ids(run_dir)):
        try:
            meta = _read_meta(run_dir, checkpoint_id)
            _verified_copy(run_dir, meta)
            return _from_meta(run_dir, meta)
        except CheckpointNotFoundError:
            continue
        except CheckpointError as exc:
            log.warning(
                "checkpoint %s of %s is unusable, trying an older one: %s", checkpoint_id, run_dir, exc
            )
            report("checkpoint.latest", exc, run_dir, checkpoint_id=checkpoint_id)
    return None


def _is_valid(run_dir: PathLike, checkpoint_id: str) -> bool:
    try:
        _verified_copy(run_dir, _read_meta(run_dir, checkpoint_id))
    except (CheckpointError, OSError):
        return False
    return True


def cleanup_old_checkpoints(run_dir: PathLike, keep_last_n: int = 5) -> int:
    """Delete all but the newest ``keep_last_n`` checkpoints; return how many were deleted.

    Never deletes the newest valid checkpoint, even when every kept one is
    corrupt; tolerates files vanishing meanwhile; removes orphan snapshot
    copies left by a crash. Raises ``ValueError`` unless ``keep_last_n >= 1``.
    """
    if isinstance(keep_last_n, bool) or not isinstance(keep_last_n, int) or keep_last_n < 1:
        raise ValueError(f"keep_last_n must be an int >= 1, got {keep_last_n!r}")
    folder = checkpoints_dir(run_dir)
    if not folder.is_dir():
        return 0
    deleted = 0
    with checkpoint_span("checkpoint.cleanup", run_dir), _lock(run_dir):
        ids = _ids(run_dir)
        keep = set(ids[-keep_last_n:])
        if not any(_is_valid(run_dir, i) for i in keep):
            older_valid = next((i for i in reversed(ids[:-keep_last_n]) if _is_valid(run_dir, i)), None)
            if older_valid is not None:
                keep.add(older_valid)
        for checkpoint_id in ids:
            if checkpoint_id in keep:
                continue
            try:
                _meta_path(run_dir, checkpoint_id).unlink()
                deleted += 1
            except FileNotFoundError:
                pass
            _copy_path(run_dir, checkpoint_id).unlink(missing_ok=True)
        oldest_kept = min(keep) if keep else None
        for name in os.listdir(folder):
            orphan = name[: -len(_SNAPSHOT_SUFFIX)]
            if (
                name.endswith(_SNAPSHOT_SUFFIX)
                and orphan not in keep
                and (oldest_kept is None or orphan < oldest_kept)
            ):
                (folder / name).unlink(missing_ok=True)
    return deleted


def load_run_checkpoint(run_dir: PathLike, checkpoint_id: str) -> dict[str, Any]:
    """The snapshot saved by checkpoint ``checkpoint_id`` of ``run_dir``, verified."""
    _check_id(checkpoint_id)
    with checkpoint_span("checkpoint.load", run_dir) as span:
        if span.is_recording():
            span.set_attribute(CHECKPOINT_ID, checkpoint_id)
        if not _meta_path(run_dir, checkpoint_id).exists():
            raise CheckpointNotFoundError(
                f"run directory {os.fspath(run_dir)!r} has no checkpoint {checkpoint_id!r}; "
                "list_checkpoints() shows the ones it has",
                path=_meta_path(run_dir, checkpoint_id),
            )
        meta = _read_meta(run_dir, checkpoint_id)
        copy = _copy_path(run_dir, checkpoint_id)
        return parse_snapshot(_verified_copy(run_dir, meta), copy)


def load_checkpoint(path: PathLike, checkpoint_id: str | None = None) -> dict[str, Any]:
    """Load a checkpoint file, or with ``checkpoint_id`` the snapshot of a run directory's checkpoint.

    ``load_checkpoint(path)`` returns the data of a file written by
    :func:`save_checkpoint` (with its ``_checksum``, ``_schema_version`` and
    ``_created_at``). ``load_checkpoint(run_dir, checkpoint_id)`` returns the
    snapshot that :func:`create_checkpoint` copied. Both verify checksums and
    raise :class:`CheckpointCorruptError` (naming the path and the expected and
    found checksums) or :class:`CheckpointNotFoundError`.
    """
    if checkpoint_id is None:
        return load_checkpoint_file(path)
    return load_run_checkpoint(path, checkpoint_id)
