"""Hooks on ragsight's resilience decisions (the shape of ``stamina.instrumentation``).

Each kind of event has a ``set_on_*_hooks``/``get_on_*_hooks`` pair. By default every
event has ragsight's OpenTelemetry hook (metrics, span events, log records), which the
package installs when it is imported. ``set_on_*_hooks(hooks)`` replaces the hooks of that
event (include the current ones, from ``get_on_*_hooks()``, to add rather than replace),
``set_on_*_hooks(())`` silences it, ``set_on_*_hooks(None)`` restores ragsight's defaults.

Hooks run synchronously on the thread that took the decision, never on a call's success
path and outside any breaker lock; keep them quick. A hook that raises is contained: it is
reported as an internal error (``ragsight.internal``) and the call, and the other hooks,
go on.
"""

from __future__ import annotations

from collections.abc import Iterable

from ragsight import _claim_public
from ragsight._resilience import hooks as _hooks
from ragsight._resilience import telemetry as _telemetry
from ragsight._resilience.breaker import Rejection, StateChange
from ragsight._resilience.hooks import (
    BreakerRejectionHook,
    BreakerTransitionHook,
    BudgetExhausted,
    BudgetExhaustedHook,
    RetryGaveUp,
    RetryGaveUpHook,
    RetryScheduled,
    RetryScheduledHook,
    RetrySucceeded,
    RetrySucceededHook,
)

# ragsight's own hooks are the defaults before any set_on_* call replaces them.
_telemetry.install()

__all__ = [
    "BreakerRejectionHook",
    "BreakerTransitionHook",
    "BudgetExhausted",
    "BudgetExhaustedHook",
    "Rejection",
    "RetryGaveUp",
    "RetryGaveUpHook",
    "RetryScheduled",
    "RetryScheduledHook",
    "RetrySucceeded",
    "RetrySucceededHook",
    "StateChange",
    "get_on_breaker_rejection_hooks",
    "get_on_breaker_transition_hooks",
    "get_on_budget_exhausted_hooks",
    "get_on_retry_gave_up_hooks",
    "get_on_retry_scheduled_hooks",
    "get_on_retry_succeeded_hooks",
    "set_on_breaker_rejection_hooks",
    "set_on_breaker_transition_hooks",
    "set_on_budget_exhausted_hooks",
    "set_on_retry_gave_up_hooks",
    "set_on_retry_scheduled_hooks",
    "set_on_retry_succeeded_hooks",
]


def set_on_retry_scheduled_hooks(hooks: Iterable[RetryScheduledHook] | None) -> None:
    """Replace the hooks called with a :class:`RetryScheduled` before each backoff sleep.

    ``None`` restores ragsight's defaults, ``()`` silences the event.

    Raises:
        TypeError: an element of ``hooks`` is not callable (nothing is replaced).
    """
    _hooks.retry_scheduled.set(hooks)


def get_on_retry_scheduled_hooks() -> tuple[RetryScheduledHook, ...]:
    """The hooks called with a :class:`RetryScheduled` before each backoff sleep."""
    return _hooks.retry_scheduled.get()


def set_on_retry_gave_up_hooks(hooks: Iterable[RetryGaveUpHook] | None) -> None:
    """Replace the hooks called with a :class:`RetryGaveUp` when a retried call gives up.

    ``None`` restores ragsight's defaults, ``()`` silences the event.

    Raises:
        TypeError: an element of ``hooks`` is not callable (nothing is replaced).
    """
    _hooks.retry_gave_up.set(hooks)


def get_on_retry_gave_up_hooks() -> tuple[RetryGaveUpHook, ...]:
    """The hooks called with a :class:`RetryGaveUp` when a retried call stops failing."""
    return _hooks.retry_gave_up.get()


def set_on_retry_succeeded_hooks(hooks: Iterable[RetrySucceededHook] | None) -> None:
    """Replace the hooks called with a :class:`RetrySucceeded` after a success that took retries.

    ``None`` restores ragsight's defaults, ``()`` silences the event.

    Raises:
        TypeError: an element of ``hooks`` is not callable (nothing is replaced).
    """
    _hooks.retry_succeeded.set(hooks)


def get_on_retry_succeeded_hooks() -> tuple[RetrySucceededHook, ...]:
    """The hooks called with a :class:`RetrySucceeded` when a call succeeds after retries."""
    return _hooks.retry_succeeded.get()


def set_on_budget_exhausted_hooks(hooks: Iterable[BudgetExhaustedHook] | None) -> None:
    """Replace the hooks called with a :class:`BudgetExhausted` when a budget refuses a retry.

    ``None`` restores ragsight's defaults, ``()`` silences the event.

    Raises:
        TypeError: an element of ``hooks`` is not callable (nothing is replaced).
    """
    _hooks.budget_exhausted.set(hooks)


def get_on_budget_exhausted_hooks() -> tuple[BudgetExhaustedHook, ...]:
    """The hooks called with a :class:`BudgetExhausted` when a budget refuses a retry."""
    return _hooks.budget_exhausted.get()


def set_on_breaker_transition_hooks(hooks: Iterable[BreakerTransitionHook] | None) -> None:
    """Replace the hooks called with ``(breaker, StateChange)`` on each transition.

    ``None`` restores ragsight's defaults, ``()`` silences the event.

    Raises:
        TypeError: an element of ``hooks`` is not callable (nothing is replaced).
    """
    _hooks.breaker_transition.set(hooks)


def get_on_breaker_transition_hooks() -> tuple[BreakerTransitionHook, ...]:
    """The hooks called with ``(breaker, StateChange)`` on every state transition."""
    return _hooks.breaker_transition.get()


def set_on_breaker_rejection_hooks(hooks: Iterable[BreakerRejectionHook] | None) -> None:
    """Replace the hooks called with ``(breaker, Rejection)`` when a call is rejected.

    ``None`` restores ragsight's defaults, ``()`` silences the event.

    Raises:
        TypeError: an element of ``hooks`` is not callable (nothing is replaced).
    """
    _hooks.breaker_rejection.set(hooks)


def get_on_breaker_rejection_hooks() -> tuple[BreakerRejectionHook, ...]:
    """The hooks called with ``(breaker, Rejection)`` when an open breaker rejects a call."""
    return _hooks.breaker_rejection.get()


# The event records are defined with the resilience code; they report this module (or
# ragsight, for ragsight.StateChange), where users import them from.
for _name in __all__:
    _claim_public(globals()[_name], _name, __name__)
