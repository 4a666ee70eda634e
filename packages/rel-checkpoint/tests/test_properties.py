"""Random damage to checkpoint and log files: only the documented errors, never wrong data."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rel_checkpoint import (
    CheckpointCorruptError,
    EventLog,
    EventLogCorruptError,
    load_checkpoint,
    replay_events,
    save_checkpoint,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
damage = st.one_of(
    st.tuples(st.just("flip"), st.integers(min_value=0), st.integers(min_value=1, max_value=255)),
    st.tuples(st.just("truncate"), st.integers(min_value=0), st.just(0)),
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _damage(raw: bytes, how: tuple[str, int, int]) -> bytes:
    kind, where, mask = how
    if not raw:
        return raw
    where %= len(raw)
    if kind == "flip":
        out = bytearray(raw)
        out[where] ^= mask
        return bytes(out)
    return raw[:where]


@SETTINGS
@given(data=st.dictionaries(st.text(max_size=10), json_values, max_size=6), how=damage)
def test_damaged_checkpoint_loads_identically_or_raises_corrupt(
    data: dict, how: tuple[str, int, int]
) -> None:
    """A damaged checkpoint either still yields exactly the saved data or raises CheckpointCorruptError."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cp.json"
        save_checkpoint(path, data)
        original = load_checkpoint(path)
        path.write_bytes(_damage(path.read_bytes(), how))
        try:
            loaded = load_checkpoint(path)
        except CheckpointCorruptError:
            return
        assert loaded == original


@SETTINGS
@given(payloads=st.lists(json_values, min_size=1, max_size=8), how=damage)
def test_damaged_log_replays_a_prefix_or_raises_corrupt(payloads: list, how: tuple[str, int, int]) -> None:
    """A damaged log replays only records that were written, in order, or raises EventLogCorruptError.

    Reopening for writing either truncates a torn tail and continues the
    sequence, or refuses with EventLogCorruptError.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.ndjson"
        with EventLog(path) as log:
            log.append_many(payloads)
        path.write_bytes(_damage(path.read_bytes(), how))
        written = list(enumerate(payloads, start=1))
        replayed: list | None
        try:
            replayed = [(e.seq, e.payload) for e in replay_events(path)]
        except EventLogCorruptError as err:
            offset = err.offset
            replayed = None
            assert offset is not None
        if replayed is not None:
            assert replayed == written[: len(replayed)]  # a clean prefix: the tail was torn
        skipped = [(e.seq, e.payload) for e in replay_events(path, skip_corrupt=True)]
        assert all(item in written for item in skipped)
        try:
            log = EventLog(path)
        except EventLogCorruptError:
            return
        with log:
            last = log.last_seq
            assert log.append("next") == last + 1
        assert os.path.getsize(path) > 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from(["meta", "copy"]), how=damage)
def test_damaged_run_checkpoint_falls_back_or_loads_identically(
    which: str, how: tuple[str, int, int]
) -> None:
    """Damage to the newest run checkpoint never yields wrong data: it verifies, or the older one is used."""
    from rel_checkpoint import create_checkpoint, get_latest_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        (run_dir / "snapshot.json").write_text(
            '{"run_id": "r", "run_state": "OLD", "completed_workers": ["a"]}'
        )
        older = create_checkpoint(run_dir)
        (run_dir / "snapshot.json").write_text(
            '{"run_id": "r", "run_state": "NEW", "completed_workers": ["a", "b"]}'
        )
        newer = create_checkpoint(run_dir)
        target = Path(newer.snapshot_path)
        if which == "meta":
            target = target.with_name(f"{newer.checkpoint_id}.json")
        target.write_bytes(_damage(target.read_bytes(), how))
        latest = get_latest_checkpoint(run_dir)
        assert latest in (older, newer)
        expected_state = "NEW" if latest == newer else "OLD"
        assert load_checkpoint(run_dir, latest.checkpoint_id)["run_state"] == expected_state
