from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest


def rel_threads() -> list[threading.Thread]:
    """Threads started by rel-health that are still alive."""
    return [t for t in threading.enumerate() if t.name.startswith("rel-health") and t.is_alive()]


@pytest.fixture
def no_thread_left() -> Iterator[None]:
    """Fail the test if a rel-health thread outlives it (after a short grace)."""
    yield
    for thread in rel_threads():
        thread.join(10.0)
    assert rel_threads() == []
