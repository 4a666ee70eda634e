"""`Run`: a run directory opened for work, whose steps record their completion durably."""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, overload

from rel_checkpoint._eventlog import Durability, EventLog
from rel_checkpoint._resume import STEP_COMPLETED, completed_steps
from rel_checkpoint._rundir import (
    EVENTS_FILE,
    SNAPSHOT_FILE,
    Checkpoint,
    create_checkpoint,
    parse_snapshot,
    snapshot_fields,
)
from rel_checkpoint._telemetry import INSTRUMENTATION, checkpoint_span
from rel_io import atomic_write_json, ensure_dir
from rel_telemetry import traced
from rel_telemetry.attributes import CHECKPOINT_RUN_ID

STEP_ATTRIBUTE = "rel.checkpoint.step"
STEP_DONE_ATTRIBUTE = "rel.checkpoint.step_already_done"

PathLike = str | os.PathLike[str]
P = ParamSpec("P")
T = TypeVar("T")


class Step:
    """One named step of a :class:`Run`, used as ``with run.step(name) as step:``.

    ``step.done`` is True when an earlier attempt of the run already finished
    it. A ``with`` block cannot skip its own body, so the body still runs: test
    ``done``, iterate :meth:`Run.pending`, or call :meth:`Run.run_step`, which
    does skip a finished step.
    Leaving the block without an exception records the completion durably
    before the ``with`` statement returns; an exception records nothing.
    """

    __slots__ = ("_span", "done", "name", "run")

    def __init__(self, run: Run, name: str) -> None:
        self.run = run
        self.name = name
        self.done = name in run.completed
        # One span covers the step's body and its completion record, so the
        # work done inside (retries, writes, subprocesses) nests under it.
        self._span = traced(
            "checkpoint.step",
            {STEP_ATTRIBUTE: name, CHECKPOINT_RUN_ID: run.run_id, STEP_DONE_ATTRIBUTE: self.done},
            scope=INSTRUMENTATION,
        )

    def __enter__(self) -> Step:
        self._span.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None and not self.done:
                self.run.mark_completed(self.name)
        except BaseException as error:
            self._span.__exit__(type(error), error, error.__traceback__)
            raise
        self._span.__exit__(exc_type, exc, tb)

    async def __aenter__(self) -> Step:
        self._span.__enter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None and not self.done:
                await asyncio.to_thread(self.run.mark_completed, self.name)
        except BaseException as error:
            self._span.__exit__(type(error), error, error.__traceback__)
            raise
        self._span.__exit__(exc_type, exc, tb)


class Run:
    """A run directory opened for work: its snapshot, its :class:`EventLog` and its finished steps.

    Opening resumes: the steps finished by earlier attempts (the newest valid
    checkpoint plus the completions logged after it) are in :attr:`completed`.
    Skip them by iterating :meth:`pending` or by calling steps through
    :meth:`run_step`. A missing ``snapshot.json`` is created with ``run_id``
    (default: the directory name), ``run_state`` ``"running"`` and no
    completed workers.
    Completion is at-least-once: a crash after a step's effect and before its
    record runs the step again, so give effects an idempotency key
    (``rel_io.generate_unique_key(run.run_id, step.name)``).
    """

    def __init__(
        self, run_dir: PathLike, *, run_id: str | None = None, durability: Durability = "fsync"
    ) -> None:
        self.run_dir = Path(run_dir)
        ensure_dir(self.run_dir)
        snapshot = self.run_dir / SNAPSHOT_FILE
        if snapshot.exists():
            fields = snapshot_fields(parse_snapshot(snapshot.read_bytes(), snapshot), self.run_dir)
            self.run_id = fields[0]
        else:
            self.run_id = run_id or self.run_dir.name
            atomic_write_json(
                snapshot, {"run_id": self.run_id, "run_state": "running", "completed_workers": []}
            )
        self.events = EventLog(self.run_dir / EVENTS_FILE, durability=durability)
        try:
            with checkpoint_span("checkpoint.resume", self.run_dir):
                self.checkpoint_loaded, done, _ = completed_steps(self.run_dir)
        except BaseException:
            self.events.close()
            raise
        self.completed: dict[str, None] = done
        """Names of the finished steps, in the order they finished."""

    def step(self, name: str) -> Step:
        """A context manager (``with`` or ``async with``) that records step ``name`` finished on success."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"step name must be a non-empty string, got {name!r}")
        return Step(self, name)

    @overload
    def run_step(
        self,
        name: str,
        fn: Callable[P, Coroutine[Any, Any, T]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Coroutine[Any, Any, T | None]: ...

    @overload
    def run_step(self, name: str, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T | None: ...

    def run_step(self, name: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Call ``fn(*args, **kwargs)`` as step ``name``, or skip it when an earlier attempt finished it.

        Returns what ``fn`` returned, or None when the step was skipped (keep a
        result that later steps need somewhere durable, such as the snapshot).
        Completion is recorded durably before this returns; an exception records
        nothing and propagates. For a coroutine function it returns a coroutine
        to await, which runs the step without blocking the event loop. A plain
        callable that returns an awaitable raises ``TypeError`` and records
        nothing (it would otherwise be recorded finished before it ran).
        """
        step = self.step(name)
        if inspect.iscoroutinefunction(fn):
            return self._arun_step(step, fn, args, kwargs)
        with step:
            if step.done:
                return None
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):  # raised inside the block: nothing is recorded
                if inspect.iscoroutine(result):
                    result.close()
                raise TypeError(
                    f"step {name!r}: {fn!r} returned an awaitable without being a coroutine function; "
                    "pass the async def function itself so run_step can await it"
                )
            return result

    async def _arun_step(
        self,
        step: Step,
        fn: Callable[..., Coroutine[Any, Any, Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        async with step:
            if step.done:
                return None
            return await fn(*args, **kwargs)

    def pending(self, names: Iterable[str]) -> list[str]:
        """The names not yet completed, in order, duplicates dropped."""
        return [n for n in dict.fromkeys(names) if n not in self.completed]

    def mark_completed(self, name: str, **details: Any) -> None:
        """Durably record that step ``name`` finished (what a successful :meth:`step` block does)."""
        self.events.append({"type": STEP_COMPLETED, "step": name, **details})
        self.events.flush()
        self.completed[name] = None

    def save_snapshot(self, run_state: str = "running", **extra: Any) -> None:
        """Atomically rewrite ``snapshot.json`` with the run id, ``run_state``, the completed steps and ``extra``."""
        atomic_write_json(
            self.run_dir / SNAPSHOT_FILE,
            {
                "run_id": self.run_id,
                "run_state": run_state,
                "completed_workers": list(self.completed),
                **extra,
            },
        )

    def checkpoint(self, run_state: str = "running", **extra: Any) -> Checkpoint:
        """Save the snapshot (see :meth:`save_snapshot`) and take a checkpoint of it."""
        self.save_snapshot(run_state, **extra)
        return create_checkpoint(self.run_dir)

    def close(self) -> None:
        """Flush and close the event log."""
        self.events.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Run:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.close)

    def __repr__(self) -> str:
        return f"Run({os.fspath(self.run_dir)!r}, run_id={self.run_id!r}, completed={len(self.completed)})"
