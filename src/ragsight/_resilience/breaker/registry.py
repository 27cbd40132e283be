"""The registry of breakers by name, the live set read by the observable instruments, the totals of
collected breakers, and the hooks the telemetry layer installs."""

from __future__ import annotations

import collections
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ragsight import names as n
from ragsight._resilience import clock as _clock
from ragsight._resilience.breaker.records import Rejection, StateChange

if TYPE_CHECKING:
    from ragsight._resilience.breaker.facade import CircuitBreaker

registry_lock = threading.Lock()
registry: dict[str, tuple[CircuitBreaker, dict[str, Any]]] = {}  # name: (breaker, config)
live: weakref.WeakSet[CircuitBreaker] = weakref.WeakSet()

# Hooks the telemetry layer installs; called after the breaker lock is released.
change_hooks: list[Callable[[CircuitBreaker, StateChange], None]] = []
reject_hooks: list[Callable[[CircuitBreaker, Rejection], None]] = []
probe_hooks: list[Callable[[CircuitBreaker], None]] = []
created_hooks: list[Callable[[CircuitBreaker], None]] = []

# Outcome counts of collected breakers, per name: the exported counters are sums over
# breakers of one name and must never go down when one of them is garbage-collected.
_retired_lock = threading.Lock()
_retired: dict[str, dict[str, int]] = {}
# __del__ may run inside any allocation, even one made while _retired_lock is held by the
# same thread: it only appends here (atomic, lock-free); readers fold it under the lock.
retired_pending: collections.deque[tuple[str, dict[str, int]]] = collections.deque()


def live_breakers() -> list[CircuitBreaker]:
    """Every breaker still referenced somewhere (read by the observable instruments)."""
    return list(live)


def _rebase_live(offset: float) -> None:
    """The process clock was swapped: rebase every breaker that runs on it."""
    for breaker in live_breakers():
        if breaker._clock is None:
            breaker._machine.rebase(offset)


_clock.rebase_hooks.append(_rebase_live)


def forget_retired() -> None:
    """Start a new cumulative stream (new meter provider): earlier breakers' totals go."""
    with _retired_lock:
        _retired.clear()
        retired_pending.clear()


def retired_counts() -> dict[str, dict[str, int]]:
    """Outcome totals left behind by collected breakers, by name (observable counters)."""
    with _retired_lock:
        while retired_pending:
            name, counts = retired_pending.popleft()
            acc = _retired.setdefault(name, dict.fromkeys(n.CB_OUTCOMES, 0))
            for outcome, count in counts.items():
                acc[outcome] += count
        return {name: dict(counts) for name, counts in _retired.items()}
