"""Where a retry runs: the retry-scope flag, the request deadline, the test kit's cap.

* Nested retry scopes don't multiply: while one policy runs its callable (``in_retry``),
  an inner policy makes a single attempt and says so once per name. The scope follows the
  work wherever it runs: tasks and ``asyncio.to_thread`` copy the context, and
  :func:`propagate_into_threads` carries the flag into ``ThreadPoolExecutor.submit``
  work and ``threading.Thread(target=...)`` started inside the scope (a ``Thread``
  subclass that overrides ``run`` is not covered).
* :func:`deadline` bounds every retry inside a block by one absolute time.
* ``ragsight.resilience_testing.no_wait(attempts=...)`` caps every policy's attempts.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import wrapt

from ragsight._core.policy import RETRY_LIMITS
from ragsight._resilience import clock as _clock
from ragsight._resilience import hooks as _hooks

logger = logging.getLogger("ragsight.resilience")

in_retry: contextvars.ContextVar[bool] = contextvars.ContextVar("ragsight_in_retry", default=False)
# An absolute monotonic time set by ``deadline()``: every retry inside gives up before it.
request_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "ragsight_request_deadline", default=None
)

_nested_warned: set[str] = set()
_testing_attempts: int | None = None


@contextmanager
def deadline(seconds: float) -> Iterator[float]:
    """Bound every retry inside the block by one request deadline (a tighter outer one wins).

    Read only when a retry is being decided, so it costs nothing on the success path.
    Yields the absolute monotonic deadline.

    Raises:
        LimitError (a ValueError): ``seconds`` is not a finite number > 0 (the limit of
            ``retry.deadline``).
    """
    seconds = RETRY_LIMITS["deadline"].check(seconds, "deadline")
    at = _clock.now() + seconds
    outer = request_deadline.get()
    if outer is not None:
        at = min(at, outer)
    token = request_deadline.set(at)
    try:
        yield at
    finally:
        request_deadline.reset(token)


def _run_in_scope(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    token = in_retry.set(True)
    try:
        return fn(*args, **kwargs)
    finally:
        in_retry.reset(token)


def _submit(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if not in_retry.get() or not args:
        return wrapped(*args, **kwargs)
    return wrapped(functools.partial(_run_in_scope, args[0]), *args[1:], **kwargs)


def _start(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    target = getattr(instance, "_target", None)
    if target is not None and in_retry.get():
        instance._target = functools.partial(_run_in_scope, target)
    return wrapped(*args, **kwargs)


_propagating = False
_propagating_lock = threading.Lock()


def propagate_into_threads() -> None:
    """Carry the retry scope into threads started and pool work submitted inside it, as
    tasks and ``asyncio.to_thread`` carry it (idempotent; called when a policy is first
    bound). Outside a retry scope the patched calls pay one context-variable read."""
    global _propagating
    if _propagating:
        return
    with _propagating_lock:
        if _propagating:
            return
        _propagating = True
        wrapt.wrap_function_wrapper(ThreadPoolExecutor, "submit", _submit)
        wrapt.wrap_function_wrapper(threading.Thread, "start", _start)


def warn_nested(name: str) -> None:
    """Policy ``name`` runs inside another retry scope: log once per name, tell the hooks."""
    if name not in _nested_warned:
        _nested_warned.add(name)
        logger.warning(
            "ragsight: retry policy %r runs inside another retry scope; it makes a single "
            "attempt so retries don't multiply (pass nested='multiply' to opt out)",
            name,
        )
    _hooks.retry_nested.call(_hooks.RetryNested(name))


def reset_nested_warnings() -> None:
    """Log the next nested run of every policy again (tests)."""
    _nested_warned.clear()


def set_testing_attempts(attempts: int | None) -> int | None:
    """Cap every policy's attempts (``None``: no cap); returns the previous cap."""
    global _testing_attempts
    previous, _testing_attempts = _testing_attempts, attempts
    return previous


def max_attempts(attempts: int) -> int:
    """``attempts`` under the test kit's cap."""
    cap = _testing_attempts
    return attempts if cap is None else min(attempts, cap)
