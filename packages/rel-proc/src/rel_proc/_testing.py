"""A testing switch: shorten the default grace period so test suites do not wait on it."""

from __future__ import annotations

DEFAULT_GRACE = 2.0

_testing_grace: float | None = None


def default_grace() -> float:
    """The grace period used when a call passes none: 2 s, or the testing value."""
    return DEFAULT_GRACE if _testing_grace is None else _testing_grace


class set_testing:
    """Turn testing mode on (default grace ``grace`` seconds) or off; also a context manager.

    ``set_testing(True)`` makes every call that passes no ``grace=`` SIGKILL a
    tree that ignores SIGTERM at once; ``with set_testing(True): ...`` restores
    the previous mode afterwards. ``grace`` must be a finite number >= 0.
    """

    def __init__(self, on: bool, *, grace: float = 0.0) -> None:
        global _testing_grace
        if isinstance(grace, bool) or not isinstance(grace, int | float) or not 0 <= grace < float("inf"):
            raise ValueError(f"grace must be a finite number of seconds >= 0, got {grace!r}")
        self._previous = _testing_grace
        _testing_grace = float(grace) if on else None

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        global _testing_grace
        _testing_grace = self._previous


def is_testing() -> bool:
    """True while testing mode is on."""
    return _testing_grace is not None
