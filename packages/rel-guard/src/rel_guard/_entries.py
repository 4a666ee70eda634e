"""Per-context bookkeeping for ``with`` / ``async with`` on shared policy objects.

One breaker, bulkhead or deadline object is entered by many threads and tasks
at once, so what an entry needs at exit (its permit, start time, timeout
scope) cannot live on the object. It lives in a context variable: each
thread and each asyncio task sees only its own entries.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

_Node = tuple[object, Any, "_Node | None"]

_entries: ContextVar[_Node | None] = ContextVar("rel_guard_entries", default=None)


def push_entry(owner: object, data: Any) -> None:
    """Remember ``data`` for ``owner``'s current entry in this context."""
    _entries.set((owner, data, _entries.get()))


def pop_entry(owner: object) -> Any:
    """Return and forget the data of ``owner``'s innermost entry in this context.

    Raises RuntimeError if ``owner`` was not entered in this thread or task.
    """
    node = _entries.get()
    if node is not None and node[0] is owner:
        _entries.set(node[2])
        return node[1]
    # Exits out of LIFO order (an ExitStack, interleaved objects): unlink the node.
    skipped: list[tuple[object, Any]] = []
    while node is not None and node[0] is not owner:
        skipped.append((node[0], node[1]))
        node = node[2]
    if node is None:
        raise RuntimeError(
            f"{owner!r} was exited in a thread or task that did not enter it; "
            "enter and exit a policy in the same thread or asyncio task"
        )
    rebuilt = node[2]
    for skipped_owner, skipped_data in reversed(skipped):
        rebuilt = (skipped_owner, skipped_data, rebuilt)
    _entries.set(rebuilt)
    return node[1]
