"""rel-io: atomic writes against the raw durable sequence and peers; FileLock against bare filelock."""

from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable

import filelock
from harness import Group

from rel_io import FileLock, atomic_write_bytes

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _raw_durable(path: str, directory: str, data: bytes) -> None:
    """The durable sequence written inline: temp, write, fsync, replace, fsync dir."""
    tmp = path + ".raw.tmp"
    fd = os.open(tmp, _FLAGS, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _interleaved(group: Group, impls: dict[str, Callable[[], object]], rounds: int, seconds: float) -> None:
    """Time every implementation in alternating rounds, so load changes hit all of them alike.

    A shared, noisy machine (fsync latency varies with other I/O) makes
    back-to-back measurements unfair; medians of interleaved rounds are not.
    """
    numbers: dict[str, int] = {}
    for name, fn in impls.items():  # calibrate: about ``seconds`` per batch
        fn()
        start = time.perf_counter()
        fn()
        once = max(time.perf_counter() - start, 1e-7)
        numbers[name] = max(1, int(seconds / once))
    samples: dict[str, list[float]] = {name: [] for name in impls}
    for _ in range(rounds):
        for name, fn in impls.items():
            n = numbers[name]
            start = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - start) / n)
    for name in impls:
        group.record(name, statistics.median(samples[name]))


def _settle(path: str, directory: str) -> None:
    """Put the last call's data and names on disk, so the next call's fsync does not pay for them."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _round_robin(
    group: Group,
    impls: dict[str, Callable[[], object]],
    rounds: int,
    settle: Callable[[], None],
    paired: tuple[str, str],
) -> None:
    """Time single calls: each round calls every implementation once, in a fresh random order.

    fsync latency on a shared disk swings from one millisecond to the next
    with other processes' I/O, so only calls made side by side meet the same
    conditions. An untimed ``settle`` after each call syncs what a
    non-durable write left dirty, which the next durable write's journal
    commit would otherwise be charged for. Besides the medians, the note gives
    the spread of the per-round ratio of the ``paired`` implementations.
    """
    rng = random.Random(20261123)
    names = list(impls)
    for fn in impls.values():  # warm up
        fn()
        settle()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        rng.shuffle(names)
        for name in names:
            fn = impls[name]
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
            settle()
    for name in impls:
        group.record(name, statistics.median(samples[name]))
    ours, ref = paired
    ratios = sorted(a / b for a, b in zip(samples[ours], samples[ref], strict=True))
    q1, q2, q3 = statistics.quantiles(ratios, n=4)
    group.notes.append(
        f"per-round ratio {ours} / {ref}: median {q2:.2f}x, middle half {q1:.2f}x-{q3:.2f}x "
        f"({rounds} rounds, calls interleaved in random order)"
    )


def _plain(path: str, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)


def _write_group(size_label: str, data: bytes, directory: str, rounds: int) -> Group:
    group = Group(
        f"atomic write of {size_label}",
        reference="raw durable sequence (inline)",
        goal="rel within 1.05x of the raw durable sequence, no slower than atomicwrites at equal "
        "durability; rel durable=False against safer (neither fsyncs). The plain write is for scale.",
    )
    path = os.path.join(directory, f"target-{size_label.replace(' ', '')}")
    impls: dict[str, Callable[[], object]] = {
        "raw durable sequence (inline)": lambda: _raw_durable(path, directory, data),
        "rel atomic_write_bytes": lambda: atomic_write_bytes(path, data),
    }
    try:
        import atomicwrites

        def peer_atomicwrites() -> None:
            with atomicwrites.atomic_write(path, mode="wb", overwrite=True) as fh:
                fh.write(data)

        impls["atomicwrites (fsync file + dir)"] = peer_atomicwrites
    except ImportError:
        group.skip("atomicwrites", "not installed")
    impls["rel atomic_write_bytes(durable=False)"] = lambda: atomic_write_bytes(path, data, durable=False)
    try:
        import safer

        def peer_safer() -> None:
            with safer.open(path, "wb", temp_file=True) as fh:
                fh.write(data)

        impls["safer (temp file, no fsync)"] = peer_safer
    except ImportError:
        group.skip("safer", "not installed")
    impls["plain open/write (not atomic, not durable)"] = lambda: _plain(path, data)
    _round_robin(
        group,
        impls,
        rounds,
        lambda: _settle(path, directory),
        ("rel atomic_write_bytes", "raw durable sequence (inline)"),
    )
    return group


def _overhead_group(directory: str, rounds: int) -> Group:
    """The software's own cost: the same writes on tmpfs, where fsync costs next to nothing."""
    group = Group(
        "atomic write of 1 KiB on tmpfs (no disk: the cost of the code alone)",
        reference="raw durable sequence (inline)",
        goal="shown for the size of rel's own work (an lstat for symlinks and modes, an fstat to "
        "keep mode and owner, the Python around them); on a disk it is a few percent of the fsync.",
        baseline="raw durable sequence (inline)",
    )
    path = os.path.join(directory, "target-tmpfs")
    data = os.urandom(1024)
    impls: dict[str, Callable[[], object]] = {
        "raw durable sequence (inline)": lambda: _raw_durable(path, directory, data),
        "rel atomic_write_bytes": lambda: atomic_write_bytes(path, data),
    }
    _interleaved(group, impls, rounds, 0.02)
    return group


def _lock_group(directory: str, rounds: int) -> Group:
    group = Group(
        "lock acquire + release (uncontended)",
        reference="bare filelock.FileLock",
        goal="rel FileLock within 1.2x of bare filelock.",
    )
    bare = filelock.FileLock(os.path.join(directory, "bare.lock"))
    ours = FileLock(os.path.join(directory, "ours.lock"))
    ours_no_record = FileLock(os.path.join(directory, "ours-norecord.lock"), record_holder=False)

    def use_bare() -> None:
        with bare:
            pass

    def use_ours() -> None:
        with ours:
            pass

    def use_ours_no_record() -> None:
        with ours_no_record:
            pass

    impls: dict[str, Callable[[], object]] = {
        "bare filelock.FileLock": use_bare,
        "rel FileLock": use_ours,
        "rel FileLock(record_holder=False)": use_ours_no_record,
    }
    _round_robin(group, impls, rounds, lambda: None, ("rel FileLock", "bare filelock.FileLock"))
    return group


def run(quick: bool) -> list[Group]:
    rounds = 9 if quick else 41
    write_rounds = 60 if quick else 300
    directory = tempfile.mkdtemp(prefix="bench-io-", dir=os.environ.get("BENCH_IO_DIR"))
    groups: list[Group] = []
    try:
        groups.append(_write_group("1 KiB", os.urandom(1024), directory, write_rounds))
        groups.append(_write_group("1 MiB", os.urandom(1 << 20), directory, write_rounds // 2))
        groups.append(_lock_group(directory, 400 if quick else 2000))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    if os.path.isdir("/dev/shm"):
        shm = tempfile.mkdtemp(prefix="bench-io-", dir="/dev/shm")
        try:
            groups.append(_overhead_group(shm, rounds))
        finally:
            shutil.rmtree(shm, ignore_errors=True)
    return groups
