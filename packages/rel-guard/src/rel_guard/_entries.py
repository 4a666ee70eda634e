"""Per-context bookkeeping for ``with`` / ``async with`` on shared policy objects.

One breaker, bulkhead or deadline object is entered by many threads and tasks
at once, so what an entry needs at exit (its permit, start time, timeout
scope) cannot live on the object. It lives in a context variable: each
thread and each asyncio task sees only its own entries.

The variable holds a linked list of entry nodes ``[owner, first, second,
previous, thread]``. Exiting does not set the variable again: it marks its
node dead (``owner = None``), and searches skip dead nodes. Entering reuses
the current node in place, without setting the variable either, when that
node is dead, has nothing below it and was created by the current thread
(the usual case of one block after another); otherwise it pushes a new node.

Why that is safe although a child task or worker thread inherits a copy of
the context, and with it pointers to the same nodes:

* a node is only marked dead by the context that entered it;
* a node is only reused on the thread that created it, so two threads never
  reuse one node at once, and on one thread the check and the reuse run
  without an ``await`` in between, so no other task can interleave;
* a reused node has no node below it, so no context can have one of its own
  live entries beneath an entry that another context reused, and every
  context finds its own entries before any inherited one.
"""

from __future__ import annotations

from contextvars import ContextVar
from threading import get_ident
from typing import Any

#: The innermost entry node of the current context, or None.
ENTRIES: ContextVar[list[Any] | None] = ContextVar("rel_guard_entries", default=None)

__all__ = ["ENTRIES", "find_entry", "get_ident", "pop_entry", "push_entry", "push_node"]


def push_node(owner: object, first: Any, second: Any, head: list[Any] | None) -> None:
    """Record an entry of ``owner`` on top of ``head`` (the current node), reusing it when safe."""
    if head is not None and head[0] is None:
        if head[3] is None and head[4] == get_ident():
            head[1] = first
            head[2] = second
            head[0] = owner
            return
        head = head[3]
        while head is not None and head[0] is None:
            head = head[3]
    ENTRIES.set([owner, first, second, head, get_ident()])


def push_entry(owner: object, first: Any, second: Any = None) -> None:
    """Remember ``first`` and ``second`` for ``owner``'s current entry in this context."""
    push_node(owner, first, second, ENTRIES.get())


def find_entry(owner: object, node: list[Any] | None) -> list[Any]:
    """The innermost live node of ``owner`` from ``node`` on.

    Exits out of LIFO order (an ExitStack, interleaved objects) find theirs
    further down. Raises RuntimeError if ``owner`` was not entered in this
    thread or task.
    """
    while node is not None and node[0] is not owner:
        node = node[3]
    if node is None:
        raise RuntimeError(
            f"{owner!r} was exited in a thread or task that did not enter it; "
            "enter and exit a policy in the same thread or asyncio task"
        )
    return node


def pop_entry(owner: object) -> tuple[Any, Any]:
    """Return and forget ``(first, second)`` of ``owner``'s innermost entry in this context.

    Raises RuntimeError if ``owner`` was not entered in this thread or task.
    """
    node = ENTRIES.get()
    if node is None or node[0] is not owner:
        node = find_entry(owner, node)
    data = (node[1], node[2])
    node[0] = node[1] = node[2] = None
    return data
