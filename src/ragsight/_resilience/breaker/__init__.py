"""The circuit breaker, in units with one job each: settings (:mod:`.config`), the sliding
window (:mod:`.window`), the state machine (:mod:`.states`), outcome classification
(:mod:`.judge`), the call path and permits (:mod:`.guard`), records (:mod:`.records`), the
registry and telemetry hooks (:mod:`.registry`), and the :class:`CircuitBreaker` facade."""

from ragsight._core.policy import BreakerConfig
from ragsight._resilience.breaker.config import PROFILES, LateBoundConfig
from ragsight._resilience.breaker.facade import CircuitBreaker, clear_registry, get_breaker
from ragsight._resilience.breaker.guard import Permit
from ragsight._resilience.breaker.records import BreakerSnapshot, Rejection, StateChange
from ragsight._resilience.breaker.registry import (
    change_hooks,
    created_hooks,
    forget_retired,
    live_breakers,
    probe_hooks,
    reject_hooks,
    retired_counts,
)

__all__ = [
    "PROFILES",
    "BreakerConfig",
    "BreakerSnapshot",
    "CircuitBreaker",
    "LateBoundConfig",
    "Permit",
    "Rejection",
    "StateChange",
    "change_hooks",
    "clear_registry",
    "created_hooks",
    "forget_retired",
    "get_breaker",
    "live_breakers",
    "probe_hooks",
    "reject_hooks",
    "retired_counts",
]
