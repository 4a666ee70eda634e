"""rel-checkpoint against the stdlib: checkpoint save+load vs json + a raw durable write, event log vs sqlite3.

SQLite runs in WAL mode with one row per event and one commit per event;
``synchronous=FULL`` is compared with fsync-per-append, ``synchronous=NORMAL``
with group commit (NORMAL syncs at WAL checkpoints only, so it is the weaker
of the two). Replay yields ``(seq, ts, dict)`` rows from SQLite and
``Event(seq, timestamp, payload)`` from rel: both parse JSON per event.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from harness import Group

from rel_checkpoint import EventLog, load_checkpoint, replay_events, save_checkpoint


def _state(size: int) -> dict[str, Any]:
    """A checkpoint-like state of roughly ``size`` bytes of JSON."""
    item = {"id": 0, "name": "worker-000000", "score": 0.123456789, "tags": ["a", "b"], "done": False}
    per_item = len(json.dumps(item)) + 2
    return {
        "run_id": "bench",
        "items": [dict(item, id=i, name=f"worker-{i:06d}") for i in range(max(1, size // per_item))],
    }


def _raw_durable_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _interleaved(fns: dict[str, Callable[[], Any]], rounds: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds of each function, run in alternating order round after round.

    Interleaving spreads the load of a shared machine over every contender
    instead of letting it fall on whichever ran during a busy spell; CPU time
    (``time.process_time``) is unaffected by waiting for a core, not by fsync.
    """
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in fns}
    names = list(fns)
    for name in names:
        fns[name]()  # warm the page cache and the allocator
    for i in range(rounds):
        for name in names if i % 2 == 0 else reversed(names):
            wall, cpu = time.perf_counter(), time.process_time()
            fns[name]()
            samples[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {
        name: (statistics.median(w for w, _ in got), statistics.median(c for _, c in got))
        for name, got in samples.items()
    }


def _save_load_groups(root: Path, quick: bool) -> list[Group]:
    groups = []
    for label, size in (("1 KiB", 1 << 10), ("1 MiB", 1 << 20), ("10 MiB", 10 << 20)):
        state = _state(size)
        plain_path, rel_path = root / f"plain-{size}.json", root / f"rel-{size}.json"

        def plain(state: dict[str, Any] = state, path: Path = plain_path) -> Any:
            _raw_durable_write(path, json.dumps(state).encode())
            return json.loads(path.read_bytes())

        def rel(state: dict[str, Any] = state, path: Path = rel_path) -> Any:
            save_checkpoint(path, state)
            return load_checkpoint(path)

        group = Group(
            f"checkpoint save + load, {label} state",
            reference="json + raw durable write",
            goal="rel (SHA-256 checksum, atomic durable write, verified load) within 1.2x.",
        )
        small = size < 1 << 20
        rounds = {(True, True): 60, (True, False): 200, (False, True): 5, (False, False): 11}[small, quick]
        names = {"json + raw durable write": plain, "rel save_checkpoint + load_checkpoint": rel}
        timings = _interleaved(names, rounds)
        for name, (wall, _) in timings.items():
            group.record(name, wall)
        (plain_cpu, rel_cpu) = (cpu for _, cpu in timings.values())
        if not small:  # a sub-millisecond CPU reading after an fsync mostly measures cold caches
            group.notes.append(
                f"CPU time (process_time, median of {rounds} interleaved rounds): json "
                f"{plain_cpu * 1e3:.2f} ms, rel {rel_cpu * 1e3:.2f} ms, ratio {rel_cpu / plain_cpu:.2f}x."
            )
        groups.append(group)
    return groups


def _sqlite(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, ts REAL, payload TEXT)")
    return conn


def _payload(i: int) -> dict[str, Any]:
    return {"type": "step_completed", "step": f"worker-{i}", "attempt": 1, "ok": True}


def _append_groups(root: Path, quick: bool) -> list[Group]:
    counter = iter(range(1_000_000))

    def fresh(name: str) -> Path:
        path = root / f"{name}-{next(counter)}"
        path.mkdir()
        return path

    def sqlite_appends(synchronous: str) -> Callable[[int], None]:
        def run(n: int) -> None:
            conn = _sqlite(fresh("sqlite") / "events.db", synchronous)
            insert = "INSERT INTO events (ts, payload) VALUES (?, ?)"
            for i in range(n):
                conn.execute(insert, (time.time(), json.dumps(_payload(i))))  # autocommit: one txn each
            conn.close()

        return run

    def rel_appends(durability: str, exclusive: bool) -> Callable[[int], None]:
        def run(n: int) -> None:
            with EventLog(fresh("rel") / "events.ndjson", durability=durability, exclusive=exclusive) as log:  # type: ignore[arg-type]
                for i in range(n):
                    log.append(_payload(i))
                log.flush()

        return run

    rounds = 3 if quick else 5
    fsync = Group(
        "event append, durable before each append returns",
        reference="sqlite3 WAL synchronous=FULL",
        goal="rel fsync-per-append at or above SQLite's throughput (time per event at or below).",
    )
    n = 100 if quick else 400
    timings = _interleaved(
        {
            "sqlite3 WAL synchronous=FULL": partial(sqlite_appends("FULL"), n),
            "rel EventLog fsync (lock per append)": partial(rel_appends("fsync", False), n),
            "rel EventLog fsync, exclusive": partial(rel_appends("fsync", True), n),
        },
        rounds,
    )
    for name, (wall, _) in timings.items():
        fsync.record(name, wall / n)

    group = Group(
        "event append, group commit (time per event, final flush included)",
        reference="sqlite3 WAL synchronous=NORMAL",
        goal="rel group commit at or above SQLite's throughput.",
    )
    n = 5_000 if quick else 30_000
    timings = _interleaved(
        {
            "sqlite3 WAL synchronous=NORMAL": partial(sqlite_appends("NORMAL"), n),
            "rel EventLog group (lock per group)": partial(rel_appends("group", False), n),
            "rel EventLog group, exclusive": partial(rel_appends("group", True), n),
        },
        rounds,
    )
    for name, (wall, _) in timings.items():
        group.record(name, wall / n)
    group.notes.append(
        "rel group commit fsyncs every 256 events or 5 ms; SQLite NORMAL does not fsync on commit at all."
    )
    return [fsync, group]


def _replay_group(root: Path, quick: bool) -> Group:
    n = 20_000 if quick else 200_000
    db = root / "replay.db"
    conn = _sqlite(db, "OFF")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO events (ts, payload) VALUES (?, ?)",
        ((time.time(), json.dumps(_payload(i))) for i in range(n)),
    )
    conn.execute("COMMIT")
    log_path = root / "replay.ndjson"
    with EventLog(log_path, durability="none", group_size=10_000) as log:
        for start in range(0, n, 10_000):
            log.append_many(_payload(i) for i in range(start, min(n, start + 10_000)))

    def sqlite_replay() -> None:
        count = 0
        for seq, ts, payload in conn.execute("SELECT seq, ts, payload FROM events ORDER BY seq"):
            row = (seq, ts, json.loads(payload))
            count += row[0] > 0
        assert count == n

    def rel_replay() -> None:
        count = 0
        for event in replay_events(log_path):
            count += event.seq > 0
        assert count == n

    group = Group(
        f"replay of {n:,} events (time per event, dicts out)",
        reference="sqlite3 SELECT + json.loads",
        goal="rel replay at or above SQLite's throughput.",
    )
    rounds = 3 if quick else 7
    timings = _interleaved(
        {"sqlite3 SELECT + json.loads": sqlite_replay, "rel replay_events (CRC verified)": rel_replay}, rounds
    )
    for name, (wall, _) in timings.items():
        group.record(name, wall / n)
    sqlite_cpu, rel_cpu = (cpu / n for _, cpu in timings.values())
    group.notes.append(
        f"CPU time per event (median of {rounds} interleaved rounds): SQLite {sqlite_cpu * 1e6:.2f} µs, "
        f"rel {rel_cpu * 1e6:.2f} µs, ratio {rel_cpu / sqlite_cpu:.2f}x."
    )
    conn.close()
    return group


def run(quick: bool) -> list[Group]:
    root = Path(tempfile.mkdtemp(prefix="bench-checkpoint-"))
    try:
        return [*_save_load_groups(root, quick), *_append_groups(root, quick), _replay_group(root, quick)]
    finally:
        shutil.rmtree(root, ignore_errors=True)
