"""The decorators' first attempt: a wrapper as cheap as a hand-written ``try``.

A call that succeeds first time pays for the wrapper's frame, one clock read
(the first attempt's start, needed only if it fails: the timeout and the span
count from it) and the check for testing mode or an installed meter provider.
A generic ``(*args, **kwargs)`` wrapper also packs the arguments into a new
tuple and dict on every call; for a plain Python function the wrapper is
instead generated with the function's own parameter list, and given the very
same default objects, so arguments pass straight through. Other callables
(builtins, ``functools.partial``, instances with ``__call__``) get the same
wrapper generated with ``(*args, **kwargs)``. Generated wrappers are cached
per parameter list.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
import types
from collections.abc import Callable
from typing import Any

from rel_retry._config import RetryConfig
from rel_retry._loop import first_success, retry_async, retry_sync
from rel_retry._testing import SWITCH
from rel_telemetry import metrics_enabled

_PREFIX = "_rel_"

_SYNC_BODY = """\
def {name}({params}):
    _rel_started = _rel_monotonic()
    try:
        _rel_result = _rel_fn({call})
    except Exception as _rel_exc:
        _rel_error = _rel_exc
    else:
        if _rel_switch.record is not None or _rel_metrics_enabled():
            _rel_first_success(_rel_name)
        return _rel_result
    return _rel_retry(
        _rel_fn, {args}, {kwargs}, _rel_config, _rel_name, started=_rel_started, error=_rel_error, result=None
    )
"""

_ASYNC_BODY = """\
async def {name}({params}):
    _rel_started = _rel_monotonic()
    try:
        _rel_result = await _rel_fn({call})
    except Exception as _rel_exc:
        _rel_error = _rel_exc
    else:
        if _rel_switch.record is not None or _rel_metrics_enabled():
            _rel_first_success(_rel_name)
        return _rel_result
    return await _rel_retry(
        _rel_fn, {args}, {kwargs}, _rel_config, _rel_name, started=_rel_started, error=_rel_error, result=None
    )
"""

_FACTORY = """\
def _rel_factory(_rel_fn, _rel_config, _rel_name, _rel_retry):
    _rel_monotonic = _rel_globals.time.monotonic
    _rel_switch = _rel_globals.SWITCH
    _rel_metrics_enabled = _rel_globals.metrics_enabled
    _rel_first_success = _rel_globals.first_success
{body}
    return {name}
"""

# What the generated wrappers call, read once per decoration (the clock from the time
# module then, so a clock patched in before decorating is the one the wrapper uses).
_DEPENDENCIES = types.SimpleNamespace(
    time=time, SWITCH=SWITCH, metrics_enabled=metrics_enabled, first_success=first_success
)

# The parameter lists of the generic wrapper, for any other callable.
_GENERIC = ("*args, **kwargs", "*args, **kwargs", "args", "kwargs")

_factories: dict[tuple[bool, str, str, str, str], Callable[..., Any]] = {}
_factories_lock = threading.Lock()


def _parameter_lists(fn: Callable[..., Any]) -> tuple[str, str, str, str] | None:
    """(definition, call, args tuple, kwargs dict) source for ``fn``'s own parameters, or None."""
    if type(fn) is not types.FunctionType:
        return None
    code = fn.__code__
    names = code.co_varnames
    count = code.co_argcount + code.co_kwonlyargcount
    count += bool(code.co_flags & inspect.CO_VARARGS) + bool(code.co_flags & inspect.CO_VARKEYWORDS)
    if any(n.startswith(_PREFIX) for n in names[:count]):
        return None
    positional_only = list(names[: code.co_posonlyargcount])
    positional = list(names[code.co_posonlyargcount : code.co_argcount])
    keyword_only = list(names[code.co_argcount : code.co_argcount + code.co_kwonlyargcount])
    index = code.co_argcount + code.co_kwonlyargcount
    var_positional = var_keyword = None
    if code.co_flags & inspect.CO_VARARGS:
        var_positional = names[index]
        index += 1
    if code.co_flags & inspect.CO_VARKEYWORDS:
        var_keyword = names[index]

    definition = [*positional_only, *(["/"] if positional_only else []), *positional]
    if var_positional is not None:
        definition.append(f"*{var_positional}")
    elif keyword_only:
        definition.append("*")
    definition += keyword_only
    if var_keyword is not None:
        definition.append(f"**{var_keyword}")

    passed = [*positional_only, *positional, *([f"*{var_positional}"] if var_positional else [])]
    call = [*passed, *(f"{k}={k}" for k in keyword_only), *([f"**{var_keyword}"] if var_keyword else [])]
    args = f"({', '.join(passed)},)" if passed else "()"
    kwargs_items = [f"{k!r}: {k}" for k in keyword_only] + ([f"**{var_keyword}"] if var_keyword else [])
    kwargs = "{" + ", ".join(kwargs_items) + "}"
    return ", ".join(definition), ", ".join(call), args, kwargs


def _factory(is_async: bool, definition: str, call: str, args: str, kwargs: str) -> Callable[..., Any]:
    key = (is_async, definition, call, args, kwargs)
    found = _factories.get(key)
    if found is not None:
        return found
    body = (_ASYNC_BODY if is_async else _SYNC_BODY).format(
        name="wrapper", params=definition, call=call, args=args, kwargs=kwargs
    )
    source = _FACTORY.format(body="\n".join("    " + line for line in body.splitlines()), name="wrapper")
    namespace: dict[str, Any] = {"_rel_globals": _DEPENDENCIES}
    exec(compile(source, "<rel_retry wrapper>", "exec"), namespace)
    with _factories_lock:
        return _factories.setdefault(key, namespace["_rel_factory"])


def first_attempt_wrapper(fn: Callable[..., Any], config: RetryConfig, name: str, *, is_async: bool) -> Any:
    """Wrap ``fn``: first attempt inline, the retry loop only after it fails."""
    lists = _parameter_lists(fn)
    make = _factory(is_async, *(_GENERIC if lists is None else lists))
    wrapper = make(fn, config, name, retry_async if is_async else retry_sync)
    if lists is not None:
        # The generated parameter list has no defaults: the function's own objects
        # are attached, so an omitted argument gets exactly what it would unwrapped.
        wrapper.__defaults__ = fn.__defaults__
        wrapper.__kwdefaults__ = fn.__kwdefaults__
    return functools.wraps(fn)(wrapper)
