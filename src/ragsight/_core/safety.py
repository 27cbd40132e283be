"""Containment for ragsight's own failures: telemetry must never break the application.

Every place where ragsight runs code of its own around a user's call (extract hooks,
attribute serialisation, metric bookkeeping, listeners) catches its errors and reports
them here. A failure is logged once per (component, error type) so a broken hook on a hot
path cannot flood the logs, and counted so it is visible as a metric.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

logger = logging.getLogger("ragsight")

_P = ParamSpec("_P")
_R = TypeVar("_R")

_lock = threading.Lock()
_counts: dict[str, int] = {}
_logged: set[tuple[str, str]] = set()


def report_internal_error(component: str, exc: BaseException) -> None:
    """Count ``exc`` against ``component`` and log it the first time this kind is seen."""
    key = (component, type(exc).__qualname__)
    with _lock:
        _counts[component] = _counts.get(component, 0) + 1
        first = key not in _logged
        if first:
            _logged.add(key)
    if first:
        logger.warning(
            "ragsight: internal error in %s ignored (the application is unaffected; "
            "further %s errors here are counted, not logged): %r",
            component,
            type(exc).__name__,
            exc,
            exc_info=exc,
        )


def internal_error_counts() -> dict[str, int]:
    """A snapshot of internal error counts per component (read by an observable counter)."""
    with _lock:
        return dict(_counts)


def reset_internal_errors() -> None:
    """Forget counts and the once-only log memory (for tests)."""
    with _lock:
        _counts.clear()
        _logged.clear()


def guarded(component: str, default: _R) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Decorate a ragsight-internal helper so its exceptions become ``default`` plus a report."""

    def decorate(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # containment is the point
                report_internal_error(component, exc)
                return default

        run.__name__ = getattr(fn, "__name__", "guarded")
        run.__doc__ = fn.__doc__
        return run

    return decorate
