from __future__ import annotations

import time

import pytest
from retry_helpers import Failing, Flaky, invoke

from rel_retry import RetryConfig, TestingRecord, is_testing, set_testing, testing

SLOW = RetryConfig(base_delay_seconds=30.0, max_delay_seconds=30.0, jitter="none")


def test_testing_makes_every_wait_zero(mode: str) -> None:
    """Under testing(), a policy with 30 s waits retries without waiting."""
    fn = Flaky(ConnectionError("a"), ConnectionError("b"), result=1)
    start = time.monotonic()
    with testing():
        assert invoke(mode, fn, SLOW) == 1
    assert time.monotonic() - start < 5.0


def test_testing_records_attempts(mode: str) -> None:
    """Every attempt, failed or not, is recorded with its number and error."""
    errors = [ConnectionError("a"), TimeoutError("b")]
    fn = Flaky(*errors, result=1)
    fn.__qualname__ = "flaky"  # type: ignore[attr-defined]
    with testing() as record:
        invoke(mode, fn, SLOW)
        invoke(mode, Flaky(result=2), SLOW)
    mine = record.for_name("flaky")
    assert [(a.number, a.error) for a in mine] == [(1, errors[0]), (2, errors[1]), (3, None)]
    assert [a.wait for a in mine] == [0.0, 0.0, None]
    assert len(record.attempts) == 4
    assert len(record.failures) == 2


def test_testing_caps_attempts(mode: str) -> None:
    """testing(attempts=2) stops every call after two attempts."""
    fn = Failing(lambda: ConnectionError("down"))
    with testing(attempts=2), pytest.raises(ConnectionError) as info:
        invoke(mode, fn, RetryConfig(max_retries=10))
    assert fn.calls == 2
    assert "testing cap of 2" in info.value.__notes__[0]


def test_set_testing_restores_as_a_context_manager() -> None:
    """set_testing() switches process-wide and, used with `with`, restores the previous mode."""
    assert not is_testing()
    with set_testing(True, attempts=3) as record:
        assert is_testing()
        assert isinstance(record, TestingRecord)
        assert record.attempts_cap == 3
        with set_testing(False):
            assert not is_testing()
        assert is_testing()
    assert not is_testing()


def test_set_testing_without_with_stays_on() -> None:
    """Called plainly, set_testing changes the mode until changed back."""
    set_testing(True)
    assert is_testing()
    set_testing(False)
    assert not is_testing()


def test_bad_attempt_cap_is_rejected() -> None:
    """The attempt cap must be a positive int."""
    with pytest.raises(ValueError, match="attempts"):
        set_testing(True, attempts=0)


def test_fixture_turns_testing_on(rel_retry_testing: TestingRecord) -> None:
    """The rel_retry_testing pytest fixture gives zero waits and the record."""
    fn = Flaky(ConnectionError("a"), result=1)
    assert invoke("call", fn, SLOW) == 1
    assert len(rel_retry_testing.failures) == 1


def test_testing_function_is_not_collected_by_pytest() -> None:
    """Importing `testing` into a test module does not make pytest run it as a test."""
    assert testing.__test__ is False  # type: ignore[attr-defined]
