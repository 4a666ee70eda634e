"""save_checkpoint / load_checkpoint / validate_checkpoint_compatibility (seed 000)."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import subprocess
from pathlib import Path

import pytest

from rel_checkpoint import (
    CheckpointCorruptError,
    CheckpointError,
    CheckpointNotFoundError,
    IncompatibleCheckpointError,
    load_checkpoint,
    save_checkpoint,
    validate_checkpoint_compatibility,
)
from rel_io import FileWriteError
from rel_telemetry import get_error_reports
from rel_telemetry.testing import capture_spans


def test_seed_000_example(tmp_path: Path) -> None:
    """The seed's load-then-validate example works with only the import changed."""
    out_path = tmp_path / "checkpoint.json"
    agent_name, seed = "planner", 42
    save_checkpoint(out_path, {"agent": agent_name, "seed": seed, "done": [1, 2]}, schema_version=2)

    cp_data = load_checkpoint(out_path)
    validate_checkpoint_compatibility(cp_data, {"agent": agent_name, "seed": seed, "schema_version": 2})
    assert cp_data["done"] == [1, 2]
    assert "_checksum" in cp_data


def test_fields_and_checksum_definition(tmp_path: Path) -> None:
    """_checksum is the SHA-256 of the canonical JSON of every other field."""
    path = tmp_path / "cp.json"
    save_checkpoint(path, {"b": 1, "a": {"z": [1.5, None, "é"]}})
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["_schema_version"] == 1
    assert data["_created_at"].endswith("Z")
    rest = {k: v for k, v in data.items() if k != "_checksum"}
    canonical = json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert data["_checksum"] == hashlib.sha256(canonical).hexdigest()
    assert load_checkpoint(path) == data


def test_resaving_a_loaded_checkpoint_refreshes_the_metadata(tmp_path: Path) -> None:
    """Reserved keys of the input are replaced, not nested; the schema version carries over."""
    path = tmp_path / "cp.json"
    save_checkpoint(path, {"x": 1}, schema_version=3)
    first = load_checkpoint(path)
    save_checkpoint(path, first)
    second = load_checkpoint(path)
    assert second["_schema_version"] == 3
    assert second["x"] == 1
    assert set(second) == {"x", "_checksum", "_schema_version", "_created_at"}


@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        (lambda raw: raw.replace(b'"seed":42', b'"seed":43'), "edited value"),
        (lambda raw: raw[: len(raw) // 2], "truncated"),
        (lambda raw: raw[:-3] + b"}\n", "cut inside"),
        (lambda raw: b"", "emptied"),
        (lambda raw: raw.replace(b"_checksum", b"_checksun"), "checksum key renamed"),
    ],
)
def test_tampered_files_raise_checkpoint_corrupt_error(tmp_path: Path, tamper, why: str) -> None:
    """A tampered, truncated or hand-edited file raises CheckpointCorruptError naming the path."""
    path = tmp_path / "cp.json"
    save_checkpoint(path, {"agent": "a", "seed": 42})
    path.write_bytes(tamper(path.read_bytes()))
    with pytest.raises(CheckpointCorruptError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value), why
    assert isinstance(info.value, ValueError)
    assert get_error_reports(operation="checkpoint.load")


def test_corrupt_error_names_expected_and_found_checksums(tmp_path: Path) -> None:
    """The checksum mismatch message carries both checksums, also as attributes."""
    path = tmp_path / "cp.json"
    save_checkpoint(path, {"seed": 42})
    expected = json.loads(path.read_bytes())["_checksum"]
    path.write_bytes(path.read_bytes().replace(b'"seed":42', b'"seed":41'))
    with pytest.raises(CheckpointCorruptError) as info:
        load_checkpoint(path)
    assert info.value.expected == expected
    assert info.value.found
    assert info.value.found != expected
    assert expected in str(info.value)
    assert info.value.found in str(info.value)


def test_deeply_nested_garbage_is_a_corrupt_checkpoint(tmp_path: Path) -> None:
    """A file of thousands of "[" is too deep for json, yet gives CheckpointCorruptError, not RecursionError."""
    path = tmp_path / "cp.json"
    path.write_bytes(b"[" * 100_000)
    with pytest.raises(CheckpointCorruptError, match="not valid JSON") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_truncated_file_error_names_both_checksums(tmp_path: Path, keep: float) -> None:
    """A cut-off file is not JSON, yet the error still gives the recorded and the computed checksum."""
    path = tmp_path / "cp.json"
    save_checkpoint(path, {"seed": 42, "pad": "x" * 500})
    raw = path.read_bytes()
    expected = json.loads(raw)["_checksum"]
    path.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(CheckpointCorruptError) as info:
        load_checkpoint(path)
    assert info.value.expected == expected
    assert info.value.found is not None
    assert info.value.found != expected
    assert expected in str(info.value)
    assert info.value.found in str(info.value)
    assert str(path) in str(info.value)


def test_reformatted_but_unchanged_file_still_loads(tmp_path: Path) -> None:
    """Pretty-printing a checkpoint by hand changes no data, so it still verifies."""
    path = tmp_path / "cp.json"
    save_checkpoint(path, {"agent": "a", "nested": {"k": [1, 2]}})
    data = json.loads(path.read_bytes())
    path.write_text(json.dumps(data, indent=4), encoding="utf-8")
    assert load_checkpoint(path) == data


def test_missing_file_is_checkpoint_not_found(tmp_path: Path) -> None:
    """A missing checkpoint raises an error that is also a FileNotFoundError."""
    with pytest.raises(FileNotFoundError) as info:
        load_checkpoint(tmp_path / "absent.json")
    assert isinstance(info.value, CheckpointNotFoundError)


@pytest.mark.parametrize("data", [[1, 2], "text", None])
def test_non_mapping_data_is_a_type_error(tmp_path: Path, data: object) -> None:
    """Only a mapping can be a checkpoint; nothing is written otherwise."""
    with pytest.raises(TypeError):
        save_checkpoint(tmp_path / "cp.json", data)  # type: ignore[arg-type]
    assert not (tmp_path / "cp.json").exists()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), object()])
def test_unserialisable_values_fail_before_writing(tmp_path: Path, value: object) -> None:
    """NaN, infinity and arbitrary objects are refused and the old file stays."""
    path = tmp_path / "cp.json"
    save_checkpoint(path, {"v": 1})
    before = path.read_bytes()
    with pytest.raises((TypeError, ValueError)):
        save_checkpoint(path, {"v": value})
    assert path.read_bytes() == before


def test_validate_lists_every_mismatch() -> None:
    """Every mismatched or missing key appears with the expected and found value."""
    cp = {"agent": "a", "seed": 1, "_schema_version": 1}
    with pytest.raises(IncompatibleCheckpointError) as info:
        validate_checkpoint_compatibility(cp, {"agent": "b", "seed": 1, "schema_version": 2, "model": "m"})
    err = info.value
    assert err.mismatches == {"agent": ("b", "a"), "schema_version": (2, 1), "model": ("m", "<missing>")}
    for text in ("agent", "'b'", "'a'", "schema_version", "model", "<missing>"):
        assert text in str(err)


def test_validate_accepts_matching_and_distinguishes_bool_from_int() -> None:
    """Equal values pass; True is not accepted where 1 is expected."""
    validate_checkpoint_compatibility({"seed": 1, "schema_version": 2}, {"seed": 1, "schema_version": 2})
    with pytest.raises(IncompatibleCheckpointError):
        validate_checkpoint_compatibility({"seed": True}, {"seed": 1})


def test_errors_pickle_with_their_attributes() -> None:
    """Errors cross process pools intact."""
    err = CheckpointCorruptError("bad", path="/x", expected="a", found="b")
    copy = pickle.loads(pickle.dumps(err))
    assert (type(copy), copy.path, copy.expected, copy.found, str(copy)) == (
        CheckpointCorruptError,
        "/x",
        "a",
        "b",
        "bad",
    )
    inc = pickle.loads(pickle.dumps(IncompatibleCheckpointError("m", mismatches={"a": (1, 2)})))
    assert inc.mismatches == {"a": (1, 2)}
    assert isinstance(copy, CheckpointError)


def test_save_and_load_spans(tmp_path: Path) -> None:
    """Save and load each produce one span with the size and the path."""
    path = tmp_path / "cp.json"
    with capture_spans() as spans:
        save_checkpoint(path, {"x": "y" * 100})
        load_checkpoint(path)
    save = spans.one("checkpoint.save")
    load = spans.one("checkpoint.load")
    assert save.attributes["rel.checkpoint.bytes"] == path.stat().st_size
    assert load.attributes["rel.checkpoint.path"] == str(path)


def _mount_tiny_fs(mountpoint: Path) -> bool:
    if shutil.which("mount") is None:
        return False
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mountpoint)], capture_output=True, check=False
    )
    return result.returncode == 0


def test_disk_full_during_save_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    """ENOSPC on a real tiny filesystem: the save fails, the old checkpoint still loads."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    if not _mount_tiny_fs(mountpoint):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        path = mountpoint / "cp.json"
        save_checkpoint(path, {"step": 1, "pad": "a" * 1000})
        with pytest.raises(FileWriteError) as info:
            save_checkpoint(path, {"step": 2, "pad": "b" * 200_000})
        assert info.value.errno is not None
        assert load_checkpoint(path)["step"] == 1
        assert [p.name for p in mountpoint.iterdir()] == ["cp.json"]  # no temp left behind
    finally:
        subprocess.run(["umount", str(mountpoint)], check=False)
