from __future__ import annotations

import asyncio
import errno
import json
import socket
import sys
import urllib.error
from email.message import Message

import pytest

from rel_retry import FailureClassification, FailureRule, classify_failure, register_failure_rule


class RateLimitError(Exception):
    pass


class ValidationError(Exception):
    pass


class HTTPStatusError(Exception):
    def __init__(self, status_code: int) -> None:
        super().__init__(f"server said {status_code}")
        self.status_code = status_code


class Response:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.headers: dict[str, str] = {}


class ClientError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__("request failed")
        self.response = Response(status)


def _http_error(code: int) -> urllib.error.HTTPError:
    return urllib.error.HTTPError("http://127.0.0.1/x", code, "reason", Message(), None)


TABLE = [
    # transient: network, timeouts, rate limits, unavailability, lock contention
    (ConnectionError("reset"), True, "retry"),
    (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), True, "retry"),
    (TimeoutError("slow"), True, "retry"),
    (TimeoutError("slow"), True, "retry"),
    (TimeoutError(), True, "retry"),
    (urllib.error.URLError("no route"), True, "retry"),
    (RateLimitError("slow down"), True, "retry"),
    (RuntimeError("Rate limit exceeded, retry later"), True, "retry"),
    (RuntimeError("HTTP 429 Too Many Requests"), True, "retry"),
    (RuntimeError("503 Service Unavailable"), True, "retry"),
    (RuntimeError("upstream returned status 504"), True, "retry"),
    (HTTPStatusError(429), True, "retry"),
    (HTTPStatusError(503), True, "retry"),
    (ClientError(504), True, "retry"),
    (_http_error(503), True, "retry"),
    (BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable"), True, "retry"),
    (OSError(errno.EWOULDBLOCK, "would block"), True, "retry"),
    (OSError(errno.EBUSY, "busy"), True, "retry"),
    (RuntimeError("EAGAIN while taking the lock"), True, "retry"),
    (RuntimeError("database is locked"), True, "retry"),
    # permanent: validation, invalid input, logic errors, missing resources
    (ValidationError("field x"), False, "fail"),
    (RuntimeError("schema mismatch in payload"), False, "fail"),
    (RuntimeError("validation failed for field x"), False, "fail"),
    (ValueError("bad"), False, "fail"),
    (json.JSONDecodeError("bad", "x", 0), False, "fail"),
    (TypeError("bad"), False, "fail"),
    (KeyError("k"), False, "fail"),
    (AttributeError("a"), False, "fail"),
    (AssertionError("x"), False, "fail"),
    (FileNotFoundError(errno.ENOENT, "missing"), False, "fail"),
    (HTTPStatusError(404), False, "fail"),
    (_http_error(400), False, "fail"),
    # never retried
    (KeyboardInterrupt(), False, "fail"),
    (SystemExit(1), False, "fail"),
    (GeneratorExit(), False, "fail"),
    (asyncio.CancelledError(), False, "fail"),
    # unknown: retried, but flagged for a human
    (RuntimeError("something odd"), True, "manual_intervention"),
    (OSError(errno.EIO, "I/O error"), True, "manual_intervention"),
]


@pytest.mark.parametrize(("error", "transient", "action"), TABLE, ids=[repr(e)[:50] for e, _, _ in TABLE])
def test_classification_table(error: BaseException, transient: bool, action: str) -> None:
    """classify_failure follows the seed's transient / permanent / unknown rules."""
    verdict = classify_failure(error)
    assert isinstance(verdict, FailureClassification)
    assert verdict.error is error
    assert (verdict.is_transient, verdict.suggested_action) == (transient, action)
    assert verdict.reason


@pytest.mark.skipif(sys.platform == "win32", reason="PermissionError means lock contention on Windows")
def test_permission_error_is_permanent_on_posix() -> None:
    """On POSIX a PermissionError is a real permission problem: fail fast."""
    assert not classify_failure(PermissionError(errno.EACCES, "denied")).is_transient


@pytest.mark.skipif(sys.platform != "win32", reason="Windows reports a file in use as PermissionError")
def test_permission_error_is_transient_on_windows() -> None:
    """On Windows a PermissionError usually means another process holds the file."""
    assert classify_failure(PermissionError(13, "in use")).is_transient


def test_real_lock_contention_is_transient(tmp_path: object) -> None:
    """A non-blocking flock on a file locked elsewhere fails with a transient error."""
    fcntl = pytest.importorskip("fcntl")
    path = f"{tmp_path}/lock"
    with open(path, "w") as holder, open(path, "w") as contender:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(BlockingIOError) as info:
            fcntl.flock(contender, fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert classify_failure(info.value).is_transient


def test_real_connection_refused_is_transient() -> None:
    """Connecting to a closed loopback port is a transient network error."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionRefusedError) as info:
        socket.create_connection(("127.0.0.1", port), timeout=5)
    assert classify_failure(info.value).is_transient


def test_registered_rule_wins_over_builtins() -> None:
    """A registered rule is consulted before the built-in table."""
    assert not classify_failure(ValueError("temporary glitch")).is_transient
    register_failure_rule(
        FailureRule(True, "flaky parser", exception_types=(ValueError,), message_patterns=("glitch",))
    )
    verdict = classify_failure(ValueError("temporary glitch"))
    assert (verdict.is_transient, verdict.reason, verdict.suggested_action) == (True, "flaky parser", "retry")
    assert not classify_failure(ValueError("bad input")).is_transient


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        (FailureRule(False, "disk full", errnos=[errno.ENOSPC]), OSError(errno.ENOSPC, "full")),
        (FailureRule(False, "conflict", status_codes=[409]), HTTPStatusError(409)),
        (FailureRule(True, "teapot", status_codes=[418]), ClientError(418)),
        (
            FailureRule(False, "quota", message_patterns=(r"quota \w+ exceeded",)),
            RuntimeError("Quota day exceeded"),
        ),
    ],
)
def test_rules_match_errno_status_and_message(rule: FailureRule, error: Exception) -> None:
    """Rules match on errno, HTTP status (any of its homes) and message regex."""
    register_failure_rule(rule)
    verdict = classify_failure(error)
    assert (verdict.is_transient, verdict.reason) == (rule.transient, rule.reason)


def test_rule_without_criteria_is_rejected() -> None:
    """A rule that matches everything is a mistake."""
    with pytest.raises(ValueError, match="at least one"):
        FailureRule(True, "everything")


def test_classify_never_raises_on_a_broken_exception() -> None:
    """An exception whose __str__ raises is still classified."""

    class Broken(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert classify_failure(Broken()).suggested_action == "manual_intervention"


class _Refused(Exception):
    """A library error marked not retryable, the way rel-guard can mark its refusals."""

    rel_retryable = False


class _Busy(ValueError):
    """A ValueError subclass its library says is worth retrying."""

    rel_retryable = True


class _Hinted(Exception):
    """Retryable only while it carries a hint: the marker is a property."""

    def __init__(self, retry_after: float | None) -> None:
        super().__init__("refused")
        self.retry_after = retry_after

    @property
    def rel_retryable(self) -> bool:
        return self.retry_after is not None


def test_rel_retryable_marker_decides() -> None:
    """An exception's bool rel_retryable attribute (class, instance or property) overrides the built-in rules."""
    refused = classify_failure(_Refused("breaker open"))
    assert (refused.is_transient, refused.suggested_action) == (False, "fail")
    assert "rel_retryable=False" in refused.reason
    busy = classify_failure(_Busy("busy"))
    assert (busy.is_transient, busy.suggested_action) == (True, "retry")
    assert classify_failure(_Hinted(1.5)).is_transient
    assert not classify_failure(_Hinted(None)).is_transient
    marked = ConnectionError("reset")
    marked.rel_retryable = False  # type: ignore[attr-defined]
    assert not classify_failure(marked).is_transient


@pytest.mark.parametrize("value", [None, 0, 1, "no", object()])
def test_non_bool_marker_is_ignored(value: object) -> None:
    """Only True or False count; any other value leaves the built-in rules in charge."""
    error = ConnectionError("reset")
    error.rel_retryable = value  # type: ignore[attr-defined]
    assert classify_failure(error).is_transient
    assert classify_failure(error).suggested_action == "retry"


def test_marker_that_raises_is_ignored() -> None:
    """A marker property that raises does not break classification."""

    class Broken(TimeoutError):
        @property
        def rel_retryable(self) -> bool:
            raise RuntimeError("no")

    assert classify_failure(Broken()).is_transient


def test_registered_rule_wins_over_the_marker() -> None:
    """The application's own rules still come first."""
    register_failure_rule(FailureRule(True, "we retry refusals", exception_types=(_Refused,)))
    assert classify_failure(_Refused("x")).is_transient
