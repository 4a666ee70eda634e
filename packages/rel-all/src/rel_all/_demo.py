"""``rel demo``: a resumable batch pipeline through the whole rel stack.

Every item is fetched from a flaky local HTTP service (rel-retry, rel-guard),
transformed in a managed worker subprocess per batch (rel-proc), written
atomically (rel-io) and recorded as done in a run directory (rel-checkpoint),
all under one trace (rel-telemetry). A rerun after a crash skips what is done.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rel_all._demo_fetch import Fetcher
from rel_all._demo_tracing import DemoTracing
from rel_all._flaky_service import FlakyConfig, FlakyService
from rel_all._progress import Progress
from rel_checkpoint import STEP_COMPLETED, Run, cleanup_old_checkpoints, get_incomplete_workers
from rel_io import LockTimeoutError, atomic_write_json, cleanup_stale_temps, ensure_dir, file_lock
from rel_proc import run as run_process
from rel_telemetry import traced

RESULTS_DIR = "results"
RUN_DIR = "run"
CHECKPOINT_EVERY = 4


def item_name(item: int) -> str:
    """The step name and result file stem of ``item``."""
    return f"item-{item:05d}"


def result_path(workdir: Path, item: int) -> Path:
    """Where the result of ``item`` is written."""
    return workdir / RESULTS_DIR / f"{item_name(item)}.json"


async def _transform(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    payload = "\n".join(json.dumps(r) for r in records) + "\n"
    done = await run_process(
        sys.executable, "-m", "rel_all._demo_worker", input=payload, timeout=60, grace=1.0, check=True
    )
    return [json.loads(line) for line in done.stdout.decode().splitlines() if line.strip()]


class Pipeline:
    """One invocation of the demo over ``workdir``."""

    def __init__(self, workdir: Path, run: Run, fetcher: Fetcher, progress: Progress | None) -> None:
        self.workdir = workdir
        self.run = run
        self.fetcher = fetcher
        self.progress = progress
        self.batches_done = 0
        self.items_done = 0
        self._batch_slots = asyncio.Semaphore(2)
        self._record_lock = asyncio.Lock()

    async def process_batch(self, items: list[int]) -> None:
        async with self._batch_slots:
            with traced("demo.batch", {"rel.demo.items": len(items)}, scope="rel_all"):
                records = await asyncio.gather(*(self.fetcher.fetch(i) for i in items))
                results = await _transform(records)
                if sorted(r["item"] for r in results) != sorted(items):
                    raise RuntimeError(f"worker returned results for the wrong items: {items}")
                await asyncio.to_thread(self._write_and_record, results)
        self.items_done += len(items)
        if self.progress is not None:
            stats = self.fetcher.stats
            self.progress.advance(
                len(items), retries=stats.attempts - stats.fetched, trips=stats.breaker_trips
            )

    def _write_and_record(self, results: list[dict[str, Any]]) -> None:
        # Results first, then their completion records: a crash in between only
        # rewrites identical results on the next run.
        for result in results:
            atomic_write_json(result_path(self.workdir, int(result["item"])), result, indent=None)
        names = [item_name(int(r["item"])) for r in results]
        self.run.events.append_many({"type": STEP_COMPLETED, "step": name} for name in names)
        self.run.events.flush()
        for name in names:
            self.run.completed[name] = None
        self.batches_done += 1
        if self.batches_done % CHECKPOINT_EVERY == 0:
            self.run.checkpoint()
            cleanup_old_checkpoints(self.run.run_dir, keep_last_n=3)


def _clean_leftovers(workdir: Path) -> int:
    """Remove temp files of a killed earlier run (safe: the workdir lock is held)."""
    removed = 0
    for directory in (workdir / RESULTS_DIR, workdir / RUN_DIR, workdir / RUN_DIR / "checkpoints"):
        if directory.is_dir():
            removed += len(cleanup_stale_temps(directory, older_than=0))
    return removed


async def _main(
    workdir: Path, *, items: int, batch: int, concurrency: int, flaky: FlakyConfig, quiet: bool
) -> dict[str, Any]:
    started = time.monotonic()
    # SIGTERM stops the demo the way Ctrl-C does: the running batches are
    # cancelled, their worker processes ended, and the log stays consistent.
    main_task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if main_task is not None:
        loop.add_signal_handler(signal.SIGTERM, _on_sigterm, main_task)
    with Run(workdir / RUN_DIR, run_id="rel-demo", durability="group") as run:
        all_names = [item_name(i) for i in range(items)]
        pending = [int(n.split("-")[1]) for n in run.pending(all_names)]
        already = items - len(pending)
        summary: dict[str, Any] = {"items": items, "already_done": already}
        progress = None if quiet else Progress(items)
        if progress is not None:
            progress.done = already
        service = FlakyService(flaky).start()
        try:
            fetcher = Fetcher(service.url, concurrency=concurrency)
            pipeline = Pipeline(workdir, run, fetcher, progress)
            with traced("demo.run", {"rel.demo.pending": len(pending)}, scope="rel_all"):
                batches = [pending[i : i + batch] for i in range(0, len(pending), batch)]
                await asyncio.gather(*(pipeline.process_batch(b) for b in batches))
                run.checkpoint(run_state="completed")
        finally:
            service.stop()
        if progress is not None:
            progress.finish()
        stats = fetcher.stats
        summary.update(
            processed_now=pipeline.items_done,
            items_requested=len(service.stats.attempts_by_item),
            fetch_attempts=stats.attempts,
            retries=stats.attempts - stats.fetched,
            breaker_trips=stats.breaker_trips,
            breaker_rejections=stats.breaker_rejections,
            service_failures=service.stats.failures,
            seconds=round(time.monotonic() - started, 2),
        )
        return summary


_TERMINATED: list[int] = []


def _on_sigterm(task: asyncio.Task[Any]) -> None:
    _TERMINATED.append(signal.SIGTERM)
    task.cancel()


def _done_count(workdir: Path, items: int) -> int:
    names = [item_name(i) for i in range(items)]
    return items - len(get_incomplete_workers(workdir / RUN_DIR, names))


def _verify(workdir: Path, items: int) -> list[str]:
    problems = []
    for i in range(items):
        path = result_path(workdir, i)
        if not path.is_file():
            problems.append(f"missing result {path}")
    extra = {p.name for p in (workdir / RESULTS_DIR).iterdir()} - {
        result_path(workdir, i).name for i in range(items)
    }
    problems += [f"unexpected file {workdir / RESULTS_DIR / n}" for n in sorted(extra)]
    return problems


def run_demo(
    *,
    items: int = 300,
    workdir: str | os.PathLike[str] = "rel-demo-run",
    batch: int = 25,
    concurrency: int = 8,
    fail_rate: float = 0.2,
    seed: int = 7,
    fresh: bool = False,
    trace: bool = False,
    quiet: bool = False,
    verbose: bool = False,
) -> int:
    """Run the demo pipeline; returns the process exit code (0 when every item has its result).

    The failures the demo provokes on purpose are counted in its summary; their
    warning logs are shown only with ``verbose``.
    """
    root = Path(workdir)
    _TERMINATED.clear()
    if not verbose:
        for name in ("rel_guard", "rel_retry", "rel_checkpoint", "rel_io"):
            logging.getLogger(name).setLevel(logging.ERROR)
    if fresh and root.exists():
        shutil.rmtree(root)
    tracing = DemoTracing.setup(print_tree=trace)
    try:
        # One root span: everything the demo does is one trace, worker processes included.
        with traced("rel.demo", {"rel.demo.items": items}, scope="rel_all"):
            ensure_dir(root / RESULTS_DIR)
            with file_lock(root / ".demo.lock", timeout=0.5):
                removed = _clean_leftovers(root)
                flaky = FlakyConfig(seed=seed, fail_rate=fail_rate, outage_after_requests=max(10, items // 2))
                summary = asyncio.run(
                    _main(root, items=items, batch=batch, concurrency=concurrency, flaky=flaky, quiet=quiet)
                )
                summary["temp_files_cleaned"] = removed
                problems = _verify(root, items)
    except LockTimeoutError:
        print(f"rel demo: another demo is running in {root} (lock {root / '.demo.lock'})", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        signum = _TERMINATED[0] if _TERMINATED else signal.SIGINT
        print(
            f"\nrel demo: stopped by {signal.Signals(signum).name}; {_done_count(root, items)} of {items} items "
            "are done. Run the same command again to resume.",
            file=sys.stderr,
        )
        return 128 + signum
    finally:
        tracing.shutdown()
    _print_summary(summary, root, problems)
    if tracing.tree is not None:
        print("\ntrace:\n" + tracing.tree)
    return 1 if problems else 0


def _print_summary(summary: dict[str, Any], root: Path, problems: list[str]) -> None:
    print(
        f"rel demo: {summary['items']} items in {root}: {summary['processed_now']} processed now, "
        f"{summary['already_done']} already done before this run"
    )
    print(
        f"  {summary['items_requested']} items fetched with {summary['fetch_attempts']} attempts, "
        f"retries {summary['retries']}, "
        f"breaker trips {summary['breaker_trips']} ({summary['breaker_rejections']} calls refused while open), "
        f"service failures {summary['service_failures']}, time {summary['seconds']} s"
    )
    if problems:
        print(f"  {len(problems)} problems:")
        for problem in problems[:20]:
            print(f"    {problem}")
    else:
        print(f"  every item has exactly one result in {root / RESULTS_DIR}")
