from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from retry_helpers import MODES

from rel_retry import registered_failure_rules, set_testing, unregister_failure_rule
from rel_retry._testing import SWITCH
from rel_telemetry._propagation import _reset_process_parent


@pytest.fixture(autouse=True)
def _clean_state() -> Iterator[None]:
    """Every test starts with testing mode off, no registered rules and no inherited trace."""
    set_testing(False)
    _reset_process_parent()
    yield
    SWITCH.record = None
    for rule in registered_failure_rules():
        unregister_failure_rule(rule)
    _reset_process_parent()


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """Each of: direct call, decorator, async direct call, async decorator."""
    return str(request.param)


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt even when the test run inherited it ignored (a background job)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
