from __future__ import annotations

import threading
import types

import pytest
from retry_helpers import Failing, invoke

from rel_retry import RetryBudget, RetryConfig, testing


def test_budget_allows_the_minimum_rate_then_stops() -> None:
    """With no calls deposited, only min_retries_per_second * window retries are allowed."""
    budget = RetryBudget(ratio=0.0, min_retries_per_second=1.0, window_seconds=3.0)
    assert [budget.try_spend() for _ in range(5)] == [True, True, True, False, False]


def test_budget_grows_with_calls() -> None:
    """Each call deposits ratio retries."""
    budget = RetryBudget(ratio=0.5, min_retries_per_second=0.0, window_seconds=60.0)
    for _ in range(10):
        budget.record_call()
    assert budget.available() == pytest.approx(5.0)
    assert sum(budget.try_spend() for _ in range(10)) == 5


def test_budget_window_slides(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spent retries fall out of the window and the budget refills (on a clock the test moves)."""
    import rel_retry._budget

    now = [1000.0]
    monkeypatch.setattr(rel_retry._budget, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    budget = RetryBudget(ratio=0.0, min_retries_per_second=10.0, window_seconds=0.2)
    assert sum(budget.try_spend() for _ in range(5)) == 2
    now[0] += 0.1
    assert not budget.try_spend(), "half a window later the spent retries still count"
    now[0] += 0.25
    assert budget.try_spend()


def test_spent_budget_surfaces_the_failure_at_once(mode: str) -> None:
    """When the budget is spent, the failure propagates without retry, noted as the budget's doing."""
    budget = RetryBudget(ratio=0.0, min_retries_per_second=0.0, window_seconds=10.0)
    fn = Failing(lambda: ConnectionError("down"))
    with pytest.raises(ConnectionError) as info:
        invoke(mode, fn, RetryConfig(budget=budget, base_delay_seconds=0.001, max_delay_seconds=0.01))
    assert fn.calls == 1
    assert "retry budget is spent" in info.value.__notes__[0]


def test_budget_shared_by_eight_threads_bounds_retries() -> None:
    """Eight threads sharing one budget never retry more than ratio * calls + the minimum."""
    budget = RetryBudget(ratio=0.1, min_retries_per_second=0.0, window_seconds=60.0)
    config = RetryConfig(max_retries=3, budget=budget)
    calls_per_thread = 60
    lock = threading.Lock()
    invocations = 0
    budget_stops = 0

    def always_fails() -> None:
        nonlocal invocations
        with lock:
            invocations += 1
        raise ConnectionError("down")

    def worker(barrier: threading.Barrier) -> None:
        nonlocal budget_stops
        barrier.wait()
        for _ in range(calls_per_thread):
            try:
                invoke("call", always_fails, config)
            except ConnectionError as exc:
                if "budget" in exc.__notes__[0]:
                    with lock:
                        budget_stops += 1

    barrier = threading.Barrier(8)
    with testing():
        threads = [threading.Thread(target=worker, args=(barrier,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    calls = 8 * calls_per_thread
    retries = invocations - calls
    assert 0 < retries <= 0.1 * calls
    assert budget_stops > 0
    # Without the budget every call would have made 3 retries.
    assert retries < 3 * calls
