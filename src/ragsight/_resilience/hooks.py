"""Who hears about resilience decisions: one :class:`HookList` per kind of event.

Retries, budgets and breakers call the hooks of a list when they decide something rare
(a retry scheduled, a give-up, a transition); never on a call's success path. The package
installs its OpenTelemetry hooks as each list's defaults by an explicit call
(``ragsight._resilience.telemetry.install``); users and tests replace them through
``ragsight.instrumentation``. A hook that raises is contained: it is reported once as an
internal error and the decision, and the other hooks, go on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ragsight._core import safety as _safety
from ragsight._resilience import breaker as _breaker

if TYPE_CHECKING:
    from ragsight._resilience.breaker import CircuitBreaker, Rejection, StateChange

H = TypeVar("H", bound=Callable[..., None])


class HookList(Generic[H]):
    """The hooks of one event, and the defaults ``set(None)`` restores.

    ``storage`` is the list the emitter iterates (the breaker keeps its own); it is updated
    in place so every emitter sees a replacement at once.
    """

    __slots__ = ("_defaults", "_hooks", "event")

    def __init__(self, event: str, storage: list[H] | None = None) -> None:
        self.event = event
        self._hooks: list[H] = [] if storage is None else storage
        self._defaults: tuple[H, ...] = ()

    def set(self, hooks: Iterable[H] | None) -> None:
        """Replace the hooks; ``None`` restores the defaults, ``()`` silences the event.

        Raises:
            TypeError: an element is not callable (nothing is replaced then).
        """
        chosen = self._defaults if hooks is None else tuple(hooks)
        for hook in chosen:
            if not callable(hook):
                raise TypeError(f"{self.event} hook {hook!r} is not callable")
        self._hooks[:] = chosen

    def get(self) -> tuple[H, ...]:
        """The hooks in force, in call order."""
        return tuple(self._hooks)

    def install_defaults(self, hooks: Iterable[H]) -> None:
        """Make ``hooks`` the defaults and put them in force (the package's own hooks)."""
        self._defaults = tuple(hooks)
        self.set(None)

    def call(self, *args: Any) -> None:
        """Run every hook with ``args``; one that raises is reported, the rest still run."""
        for hook in tuple(self._hooks):
            try:
                hook(*args)
            except Exception as err:  # a hook must never break the call it observes
                _safety.report_internal_error(f"resilience.hooks.{self.event}", err)


# ------------------------------------------------------------------------------ events --
@dataclass(frozen=True, slots=True)
class RetryScheduled:
    """A retry about to sleep: ``attempt`` (1-based) failed and the next starts after
    ``delay`` seconds (``delay_source``: backoff or retry_after)."""

    name: str
    attempt: int
    delay: float
    delay_source: str
    reason: str
    error_type: str | None


@dataclass(frozen=True, slots=True)
class RetryGaveUp:
    """A retried call that stopped without success after ``attempts`` attempts, and why."""

    name: str
    attempts: int
    stop_reason: str
    elapsed: float
    error_type: str | None


@dataclass(frozen=True, slots=True)
class RetrySucceeded:
    """A call that succeeded after ``attempts`` attempts (only reported when > 1)."""

    name: str
    attempts: int


@dataclass(frozen=True, slots=True)
class RetryNested:
    """Policy ``name`` ran inside another retry scope and made a single attempt."""

    name: str


@dataclass(frozen=True, slots=True)
class BudgetExhausted:
    """Dependency ``name``'s retry budget refused the retry after ``attempt``."""

    name: str
    attempt: int


RetryScheduledHook = Callable[[RetryScheduled], None]
RetryGaveUpHook = Callable[[RetryGaveUp], None]
RetrySucceededHook = Callable[[RetrySucceeded], None]
RetryNestedHook = Callable[[RetryNested], None]
BudgetExhaustedHook = Callable[[BudgetExhausted], None]
BreakerTransitionHook = Callable[["CircuitBreaker", "StateChange"], None]
BreakerRejectionHook = Callable[["CircuitBreaker", "Rejection"], None]
BreakerHook = Callable[["CircuitBreaker"], None]

retry_scheduled: HookList[RetryScheduledHook] = HookList("retry_scheduled")
retry_gave_up: HookList[RetryGaveUpHook] = HookList("retry_gave_up")
retry_succeeded: HookList[RetrySucceededHook] = HookList("retry_succeeded")
retry_nested: HookList[RetryNestedHook] = HookList("retry_nested")
budget_exhausted: HookList[BudgetExhaustedHook] = HookList("budget_exhausted")
# The breaker iterates (and contains) its own lists; these manage them.
breaker_transition: HookList[BreakerTransitionHook] = HookList(
    "breaker_transition", _breaker.change_hooks
)
breaker_rejection: HookList[BreakerRejectionHook] = HookList(
    "breaker_rejection", _breaker.reject_hooks
)
breaker_probe: HookList[BreakerHook] = HookList("breaker_probe", _breaker.probe_hooks)
breaker_created: HookList[BreakerHook] = HookList("breaker_created", _breaker.created_hooks)
