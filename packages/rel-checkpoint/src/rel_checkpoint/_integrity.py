"""Checksummed checkpoint files: written atomically, refused when they do not verify.

A checkpoint file is one JSON object. ``_checksum`` is the SHA-256 (hex) of
the canonical JSON of every other field — keys sorted, no whitespace,
UTF-8, no NaN — including ``_schema_version`` and ``_created_at``, so no byte
of meaning escapes the check. rel writes the file as ``{"_checksum":"<hex>",``
followed by the rest of that canonical text, which lets a load verify the
bytes it read without serialising the data a second time; a file in any other
layout (reformatted by hand, written by another tool) is verified the slow
way, by re-serialising what it parsed.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
from collections.abc import Mapping
from typing import Any

from rel_checkpoint._errors import (
    CheckpointCorruptError,
    CheckpointNotFoundError,
    IncompatibleCheckpointError,
)
from rel_checkpoint._telemetry import checkpoint_span, report
from rel_io import FileReadError, atomic_write_bytes
from rel_telemetry.attributes import CHECKPOINT_BYTES

PathLike = str | os.PathLike[str]

CHECKSUM_KEY = "_checksum"
SCHEMA_VERSION_KEY = "_schema_version"
CREATED_AT_KEY = "_created_at"
RESERVED_KEYS = frozenset({CHECKSUM_KEY, SCHEMA_VERSION_KEY, CREATED_AT_KEY})

_HEAD = b'{"_checksum":"'
_HEAD_LEN = len(_HEAD) + 64 + 2  # '{"_checksum":"' + 64 hex + '",'
_HEX64 = re.compile(rb"[0-9a-f]{64}")
_MISSING = object()


def utc_now_iso() -> str:
    """The current UTC time as ISO 8601 with microseconds and a ``Z`` suffix."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def canonical_json(data: Any) -> bytes:
    """The canonical JSON of ``data``: sorted keys, no whitespace, UTF-8; NaN is refused."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def encode_checkpoint(data: Mapping[str, Any], *, schema_version: int | None = None) -> bytes:
    """Return the bytes of a checkpoint file holding ``data`` (see the module docstring).

    Raises ``TypeError`` when ``data`` is not a mapping with string keys or holds
    values JSON cannot represent, ``ValueError`` for NaN or infinity.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"checkpoint data must be a mapping (a dict), got {type(data).__name__}")
    document = {k: v for k, v in data.items() if k not in RESERVED_KEYS}
    if schema_version is None:
        schema_version = data.get(SCHEMA_VERSION_KEY, 1)
    if isinstance(schema_version, bool) or not isinstance(schema_version, int):
        raise TypeError(f"schema_version must be an int, got {schema_version!r}")
    document[SCHEMA_VERSION_KEY] = schema_version
    document[CREATED_AT_KEY] = utc_now_iso()
    body = canonical_json(document)
    digest = hashlib.sha256(body).hexdigest()
    return b"".join((_HEAD, digest.encode("ascii"), b'",', memoryview(body)[1:], b"\n"))


def save_checkpoint(path: PathLike, data: Mapping[str, Any], *, schema_version: int | None = None) -> None:
    """Write ``data`` to ``path`` atomically and durably, with ``_checksum``, ``_schema_version``, ``_created_at``.

    ``schema_version`` defaults to ``data["_schema_version"]`` when present,
    else 1. A crash at any instant leaves the previous file or the new one.
    Raises ``TypeError``/``ValueError`` for data JSON cannot hold (nothing is
    written) and :class:`rel_io.FileWriteError` when the write fails (the
    previous checkpoint is then intact).
    """
    with checkpoint_span("checkpoint.save", path) as span:
        try:
            content = encode_checkpoint(data, schema_version=schema_version)
        except (TypeError, ValueError) as exc:
            report("checkpoint.save", exc, path)
            raise
        if span.is_recording():
            span.set_attribute(CHECKPOINT_BYTES, len(content))
        atomic_write_bytes(path, content)


def _read_bytes(path: PathLike) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        err: Exception = CheckpointNotFoundError(
            f"checkpoint {os.fspath(path)!r} does not exist; save one first or check the path",
            path=path,
        )
    except IsADirectoryError:
        err = CheckpointNotFoundError(
            f"{os.fspath(path)!r} is a directory: pass load_checkpoint(run_dir, checkpoint_id) "
            "to load a run directory's checkpoint",
            path=path,
        )
    except OSError as exc:
        raise FileReadError(
            f"could not read checkpoint {os.fspath(path)!r}: {exc.strerror or exc}",
            path=path,
            operation="load_checkpoint",
            errno=exc.errno,
        ) from exc
    raise err


def decode_checkpoint(raw: bytes, path: PathLike) -> dict[str, Any]:
    """Verify and parse checkpoint bytes; raise :class:`CheckpointCorruptError` unless they verify."""
    header: tuple[str, str] | None = None
    if (
        raw.startswith(_HEAD)
        and len(raw) > _HEAD_LEN
        and _HEX64.fullmatch(raw, len(_HEAD), _HEAD_LEN - 2)
        and raw[_HEAD_LEN - 2 : _HEAD_LEN] == b'",'
    ):
        end = len(raw) - 1 if raw.endswith(b"\n") else len(raw)
        hasher = hashlib.sha256(b"{")
        hasher.update(memoryview(raw)[_HEAD_LEN:end])
        found = hasher.hexdigest()
        expected = raw[len(_HEAD) : _HEAD_LEN - 2].decode("ascii")
        if found == expected:
            try:
                data = json.loads(raw)
            except ValueError:
                data = None  # the checksum matched bytes that are not JSON: not ours
            if isinstance(data, dict) and data.get(CHECKSUM_KEY) == expected:
                return data
        header = expected, found
    return _decode_slow(raw, path, header)


def _decode_slow(raw: bytes, path: PathLike, header: tuple[str, str] | None) -> dict[str, Any]:
    """Verify a file in any layout; ``header`` is (recorded, computed) when rel's layout was found."""
    name = os.fspath(path)
    recorded, computed = header or (None, None)
    sums = "" if header is None else f"expected checksum {recorded}, found {computed}; "
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: garbage such as "[[[[..."
        raise CheckpointCorruptError(
            f"checkpoint {name!r} is not valid JSON ({exc}); {sums}it was truncated or overwritten: "
            "restore it from an older checkpoint",
            path=path,
            expected=recorded,
            found=computed,
        ) from None
    if not isinstance(data, dict):
        raise CheckpointCorruptError(
            f"checkpoint {name!r} holds a JSON {type(data).__name__}, not an object",
            path=path,
            expected=recorded,
            found=computed,
        )
    expected = data.get(CHECKSUM_KEY)
    if not isinstance(expected, str):
        raise CheckpointCorruptError(
            f"checkpoint {name!r} has no {CHECKSUM_KEY!r} field; {sums}write it with save_checkpoint",
            path=path,
            expected=recorded,
            found=computed,
        )
    rest = {k: v for k, v in data.items() if k != CHECKSUM_KEY}
    try:
        found = hashlib.sha256(canonical_json(rest)).hexdigest()
    except (TypeError, ValueError):
        found = None
    if found != expected:
        raise CheckpointCorruptError(
            f"checkpoint {name!r} fails its checksum: expected {expected}, found {found}; "
            "the file was truncated, edited or damaged: restore it from an older checkpoint",
            path=path,
            expected=expected,
            found=found,
        )
    return data


def load_checkpoint_file(path: PathLike) -> dict[str, Any]:
    """Read the checkpoint at ``path`` and return its data once the checksum verifies.

    The returned dict includes ``_checksum``, ``_schema_version`` and
    ``_created_at``. Raises :class:`CheckpointNotFoundError` (a
    ``FileNotFoundError``) when it is missing, :class:`CheckpointCorruptError`
    (naming the expected and found checksums) when it does not verify and
    :class:`rel_io.FileReadError` when it cannot be read.
    """
    with checkpoint_span("checkpoint.load", path) as span:
        try:
            raw = _read_bytes(path)
            if span.is_recording():
                span.set_attribute(CHECKPOINT_BYTES, len(raw))
            return decode_checkpoint(raw, path)
        except Exception as exc:
            report("checkpoint.load", exc, path)
            raise


def validate_checkpoint_compatibility(checkpoint: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    """Raise :class:`IncompatibleCheckpointError` unless ``checkpoint`` matches every key of ``expected``.

    A key is looked up as given, then with a leading underscore (so
    ``{"schema_version": 2}`` also matches the ``_schema_version`` that
    :func:`save_checkpoint` records). The error lists every mismatched key with
    the expected and the found value (``<missing>`` when absent).
    """
    mismatches: dict[str, tuple[Any, Any]] = {}
    for key, want in expected.items():
        found = checkpoint.get(key, _MISSING)
        if found is _MISSING and not key.startswith("_"):
            found = checkpoint.get("_" + key, _MISSING)
        if found is _MISSING or found != want or isinstance(found, bool) != isinstance(want, bool):
            mismatches[key] = (want, "<missing>" if found is _MISSING else found)
    if mismatches:
        details = "; ".join(f"{k}: expected {e!r}, found {f!r}" for k, (e, f) in mismatches.items())
        raise IncompatibleCheckpointError(
            f"checkpoint is incompatible with this run ({details}); resume with the settings it was "
            "written with, or start a fresh run",
            mismatches=mismatches,
        )
