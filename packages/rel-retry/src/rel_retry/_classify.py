"""`classify_failure`: is an error worth retrying? Registrable rules, then built-in ones."""

from __future__ import annotations

import errno
import re
import sys
import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Literal

SuggestedAction = Literal["retry", "fail", "manual_intervention"]


@dataclass(frozen=True, slots=True)
class FailureClassification:
    """The verdict on one error: transient (retry) or permanent (fail fast), and why."""

    error: BaseException
    is_transient: bool
    reason: str
    suggested_action: SuggestedAction


@dataclass(frozen=True, slots=True)
class FailureRule:
    """A registrable classification rule; it matches when every criterion given matches.

    ``exception_types``: isinstance check; ``errnos``: ``exc.errno``;
    ``status_codes``: the HTTP status on ``.status_code``, ``.status`` or
    ``.response.status_code``; ``message_patterns``: regular expressions
    searched case-insensitively in ``str(exc)``. A rule with no criteria is
    rejected with ValueError.
    """

    transient: bool
    reason: str
    exception_types: tuple[type[BaseException], ...] = ()
    errnos: Collection[int] = ()
    status_codes: Collection[int] = ()
    message_patterns: tuple[str, ...] = ()
    suggested_action: SuggestedAction | None = None
    _compiled: tuple[re.Pattern[str], ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (self.exception_types or self.errnos or self.status_codes or self.message_patterns):
            raise ValueError(
                "FailureRule needs at least one of exception_types, errnos, status_codes, message_patterns"
            )
        for cls in self.exception_types:
            if not (isinstance(cls, type) and issubclass(cls, BaseException)):
                raise ValueError(f"exception_types must hold exception classes, got {cls!r}")
        if self.suggested_action not in (None, "retry", "fail", "manual_intervention"):
            raise ValueError(
                "suggested_action must be 'retry', 'fail', 'manual_intervention' or None, "
                f"got {self.suggested_action!r}"
            )
        object.__setattr__(self, "errnos", frozenset(self.errnos))
        object.__setattr__(self, "status_codes", frozenset(self.status_codes))
        object.__setattr__(
            self, "_compiled", tuple(re.compile(p, re.IGNORECASE) for p in self.message_patterns)
        )

    def matches(self, exc: BaseException) -> bool:
        """True when ``exc`` meets every criterion of this rule."""
        if self.exception_types and not isinstance(exc, self.exception_types):
            return False
        if self.errnos and getattr(exc, "errno", None) not in self.errnos:
            return False
        if self.status_codes and http_status(exc) not in self.status_codes:
            return False
        if self._compiled:
            text = _message(exc)
            if not any(p.search(text) for p in self._compiled):
                return False
        return True

    def classify(self, exc: BaseException) -> FailureClassification:
        """The classification this rule gives ``exc`` (assumes it matches)."""
        action = self.suggested_action or ("retry" if self.transient else "fail")
        return FailureClassification(exc, self.transient, self.reason, action)


_lock = threading.Lock()
_registered: tuple[FailureRule, ...] = ()


def register_failure_rule(rule: FailureRule) -> FailureRule:
    """Add ``rule`` ahead of the built-in ones (and of earlier registrations); returns it."""
    global _registered
    if not isinstance(rule, FailureRule):
        raise TypeError(f"expected a FailureRule, got {rule!r}")
    with _lock:
        _registered = (rule, *_registered)
    return rule


def unregister_failure_rule(rule: FailureRule) -> None:
    """Remove a rule added by :func:`register_failure_rule`; unknown rules are ignored."""
    global _registered
    with _lock:
        _registered = tuple(r for r in _registered if r is not rule)


def registered_failure_rules() -> tuple[FailureRule, ...]:
    """The registered rules, in the order they are consulted."""
    return _registered


def retryable_marker(exc: BaseException) -> bool | None:
    """The exception's own verdict: its ``rel_retryable`` attribute if it is a bool, else None.

    A library marks its errors without depending on rel-retry: a class
    attribute (``rel_retryable = False``), an instance attribute or a property
    deciding per instance. Any other value, or an attribute that raises, is
    ignored.
    """
    try:
        value = getattr(exc, "rel_retryable", None)
    except Exception:
        return None
    return value if isinstance(value, bool) else None


def http_status(exc: BaseException) -> int | None:
    """The HTTP status carried by ``exc`` (``.status_code``, ``.status``, ``.response``), or None."""
    candidates: list[object] = [getattr(exc, "status_code", None), getattr(exc, "status", None)]
    response = getattr(exc, "response", None)
    if response is not None:
        candidates += [getattr(response, "status_code", None), getattr(response, "status", None)]
    for value in candidates:
        if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
            return value
    return None


def _message(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return ""


_TRANSIENT_ERRNOS = {
    code: reason
    for name, reason in [
        ("EAGAIN", "lock contention (EAGAIN)"),
        ("EWOULDBLOCK", "lock contention (EWOULDBLOCK)"),
        ("EBUSY", "resource busy (EBUSY)"),
        ("EINTR", "interrupted system call (EINTR)"),
        ("ETIMEDOUT", "network timeout (ETIMEDOUT)"),
        ("ECONNRESET", "network error (ECONNRESET)"),
        ("ECONNREFUSED", "network error (ECONNREFUSED)"),
        ("ECONNABORTED", "network error (ECONNABORTED)"),
        ("EPIPE", "network error (EPIPE)"),
        ("ENETUNREACH", "network unreachable (ENETUNREACH)"),
        ("ENETDOWN", "network down (ENETDOWN)"),
        ("EHOSTUNREACH", "host unreachable (EHOSTUNREACH)"),
    ]
    if (code := getattr(errno, name, None)) is not None
}

_TRANSIENT_STATUS = {
    408: "request timeout (HTTP 408)",
    429: "rate limited (HTTP 429)",
    502: "bad gateway (HTTP 502)",
    503: "service unavailable (HTTP 503)",
    504: "gateway timeout (HTTP 504)",
}

_PERMANENT_TYPES: tuple[tuple[type[BaseException], str], ...] = (
    (FileNotFoundError, "missing resource (FileNotFoundError)"),
    (NotADirectoryError, "missing resource (NotADirectoryError)"),
    (IsADirectoryError, "wrong resource type (IsADirectoryError)"),
    (ValueError, "invalid input (ValueError)"),
    (TypeError, "invalid input (TypeError)"),
    (KeyError, "invalid input (KeyError)"),
    (IndexError, "invalid input (IndexError)"),
    (AttributeError, "logic error (AttributeError)"),
    (AssertionError, "logic error (AssertionError)"),
    (NotImplementedError, "logic error (NotImplementedError)"),
)

_TRANSIENT_NAMES = (
    ("ratelimit", "rate limited"),
    ("toomanyrequests", "rate limited"),
    ("throttl", "rate limited"),
    ("timeout", "timeout"),
    ("connection", "network error"),
    ("connecterror", "network error"),
    ("urlerror", "network error"),
    ("serviceunavailable", "service unavailable"),
)
_PERMANENT_NAMES = (("validation", "validation error"), ("schema", "schema error"))

_TRANSIENT_MESSAGES = tuple(
    (re.compile(p, re.IGNORECASE), reason)
    for p, reason in [
        (r"rate[ _-]?limit|too many requests|throttl", "rate limited"),
        (r"(?:http|status|error|code)\D{0,3}429\b", "rate limited (HTTP 429)"),
        (r"service unavailable|(?:http|status|error|code)\D{0,3}503\b", "service unavailable"),
        (r"gateway time-?out|(?:http|status|error|code)\D{0,3}504\b", "gateway timeout"),
        (r"\beagain\b|\bewouldblock\b|resource temporarily unavailable", "lock contention"),
        (r"temporarily unavailable|try again", "temporarily unavailable"),
        (r"\block(?:ed)?\b|resource busy", "lock contention"),
        (r"connection (?:reset|refused|aborted)|broken pipe", "network error"),
        (r"timed? ?out", "timeout"),
    ]
)
_PERMANENT_MESSAGES = tuple(
    (re.compile(p, re.IGNORECASE), reason)
    for p, reason in [(r"validation", "validation error"), (r"\bschema\b", "schema error")]
)


def classify_failure(exc: BaseException) -> FailureClassification:
    """Classify ``exc`` as transient (worth retrying) or permanent (fail fast). Never raises.

    Order: interrupts and cancellation (never retried); registered rules;
    the exception's own ``rel_retryable`` attribute when it is a bool (True:
    transient, False: permanent); HTTP status (408/429/502/503/504 transient,
    other 4xx permanent); errno (EAGAIN, EWOULDBLOCK, EBUSY, connection
    errors transient); network errors and ``TimeoutError`` transient;
    ``PermissionError`` transient on Windows (a file held open elsewhere),
    permanent elsewhere; missing files and
    logic errors (``ValueError``, ``TypeError``, ``KeyError``,
    ``AttributeError``, ``AssertionError``) permanent; then class names and
    messages (rate limit, timeout, validation, schema). Anything else is
    transient with ``suggested_action="manual_intervention"``.
    """
    if not isinstance(exc, Exception):
        return FailureClassification(
            exc, False, f"{type(exc).__name__} is an interrupt or cancellation, never retried", "fail"
        )
    for rule in _registered:
        if rule.matches(exc):
            return rule.classify(exc)
    marked = retryable_marker(exc)
    if marked is not None:
        verdict = "retryable" if marked else "not retryable"
        return FailureClassification(
            exc,
            marked,
            f"{type(exc).__name__} is marked {verdict} (rel_retryable={marked})",
            "retry" if marked else "fail",
        )

    status = http_status(exc)
    if status is not None:
        if status in _TRANSIENT_STATUS:
            return FailureClassification(exc, True, _TRANSIENT_STATUS[status], "retry")
        if 400 <= status < 500:
            return FailureClassification(exc, False, f"client error (HTTP {status})", "fail")

    code = getattr(exc, "errno", None)
    if isinstance(code, int) and code in _TRANSIENT_ERRNOS:
        return FailureClassification(exc, True, _TRANSIENT_ERRNOS[code], "retry")

    if isinstance(exc, TimeoutError):
        return FailureClassification(exc, True, "timeout (TimeoutError)", "retry")
    if isinstance(exc, ConnectionError):
        return FailureClassification(exc, True, f"network error ({type(exc).__name__})", "retry")
    if isinstance(exc, BlockingIOError | InterruptedError):
        return FailureClassification(exc, True, f"lock contention ({type(exc).__name__})", "retry")
    if isinstance(exc, PermissionError):
        if sys.platform == "win32":
            return FailureClassification(
                exc, True, "lock contention (PermissionError: file in use on Windows)", "retry"
            )
        return FailureClassification(exc, False, "permission denied (PermissionError)", "fail")
    for cls, reason in _PERMANENT_TYPES:
        if isinstance(exc, cls):
            return FailureClassification(exc, False, reason, "fail")

    names = _class_names(type(exc).__mro__)
    for needle, reason in _TRANSIENT_NAMES:
        if needle in names:
            return FailureClassification(exc, True, f"{reason} ({type(exc).__name__})", "retry")
    for needle, reason in _PERMANENT_NAMES:
        if needle in names:
            return FailureClassification(exc, False, f"{reason} ({type(exc).__name__})", "fail")

    text = _message(exc)
    for pattern, reason in _TRANSIENT_MESSAGES:
        if pattern.search(text):
            return FailureClassification(exc, True, f"{reason} (message)", "retry")
    for pattern, reason in _PERMANENT_MESSAGES:
        if pattern.search(text):
            return FailureClassification(exc, False, f"{reason} (message)", "fail")

    return FailureClassification(
        exc, True, f"unknown error ({type(exc).__name__}), retried with caution", "manual_intervention"
    )


def _class_names(mro: Iterable[type]) -> str:
    return " ".join(c.__name__.lower() for c in mro if c not in (Exception, BaseException, object))
