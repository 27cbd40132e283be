"""Where a retry runs: the retry-scope flag, the request deadline, the test kit's cap.

* Nested retry scopes don't multiply: while one policy runs its callable (``in_retry``),
  an inner policy makes a single attempt and says so once per name.
* :func:`deadline` bounds every retry inside a block by one absolute time.
* ``ragsight.resilience_testing.no_wait(attempts=...)`` caps every policy's attempts.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager

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
