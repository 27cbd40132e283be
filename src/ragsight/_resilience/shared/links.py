"""What one attached breaker or budget exchanges with the store on each tick.

A link reads its component's window aggregates (one short lock, on the publisher thread),
queues one script call in the tick's pipeline, and applies the reply. Components keep a
weak reference out of it: a link never keeps a breaker or budget alive.
"""

from __future__ import annotations

import time
import weakref
from typing import TYPE_CHECKING, Any

from ragsight._resilience.shared.config import SharedConfig

if TYPE_CHECKING:
    from ragsight._resilience.breaker.facade import CircuitBreaker
    from ragsight._resilience.budget import RetryBudget


def _key(kind: str, name: str, part: str, prefix: str) -> str:
    # one hash tag per component: both keys of a breaker map to one Cluster slot
    return f"{prefix}{{{kind}:{name}}}:{part}"


class BreakerLink:
    """One breaker's part in the fleet: publishes its window, opens it on a fleet trip."""

    __slots__ = ("_ref", "keys", "name", "seen_trip", "view_at", "voters")

    def __init__(self, breaker: CircuitBreaker, prefix: str) -> None:
        self._ref = weakref.ref(breaker)
        self.name = breaker.name
        self.keys = [
            _key("cb", self.name, "reports", prefix),
            _key("cb", self.name, "trip", prefix),
        ]
        self.seen_trip: str | None = None  # the trip id this replica has acted on
        self.view_at = 0.0  # monotonic time of the last fleet view
        self.voters = 0

    @property
    def alive(self) -> bool:
        return self._ref() is not None

    def queue(self, pipe: Any, sha: str, replica: str, cfg: SharedConfig) -> bool:
        """Queue this tick's script call; False when the breaker is gone."""
        breaker = self._ref()
        if breaker is None:
            return False
        snap = breaker.snapshot()
        bc = breaker.config
        minimum = cfg.replica_minimum_calls or bc.minimum_calls
        pipe.evalsha(
            sha, 2, *self.keys, replica, snap.window_calls, snap.window_failures,
            snap.window_slow_calls, repr(bc.failure_rate_threshold),
            repr(bc.slow_call_rate_threshold), minimum, cfg.quorum,
            int(cfg.stale_after * 1000),
        )  # fmt: skip
        return True

    def apply(self, reply: Any) -> None:
        """Act on the fleet's view: a trip id not seen before opens a closed breaker."""
        tripped, trip_id = int(reply[0]), _text(reply[1])
        self.voters = int(reply[2])
        self.view_at = time.monotonic()
        if tripped and trip_id != self.seen_trip:
            self.seen_trip = trip_id
            breaker = self._ref()
            if breaker is not None:
                breaker._fleet_open()
        elif not tripped and self.seen_trip is None:
            self.seen_trip = trip_id


class BudgetLink:
    """One retry budget's part in the fleet: publishes its window, holds the others' sums."""

    __slots__ = ("_ref", "keys", "name", "others", "stale_after", "view_at")

    def __init__(self, budget: RetryBudget, prefix: str, stale_after: float) -> None:
        self.stale_after = stale_after
        self._ref = weakref.ref(budget)
        self.name = budget.name
        self.keys = [_key("budget", self.name, "reports", prefix)]
        self.others: tuple[int, int] = (0, 0)  # calls, retries of every other fresh replica
        self.view_at = float("-inf")

    @property
    def alive(self) -> bool:
        return self._ref() is not None

    def queue(self, pipe: Any, sha: str, replica: str, cfg: SharedConfig) -> bool:
        budget = self._ref()
        if budget is None:
            return False
        calls, retries = budget.window_totals()
        pipe.evalsha(sha, 1, *self.keys, replica, calls, retries, int(cfg.stale_after * 1000))
        return True

    def apply(self, reply: Any) -> None:
        self.others = (int(reply[0]), int(reply[1]))
        self.view_at = time.monotonic()

    def fleet_others(self) -> tuple[int, int] | None:
        """The other replicas' (calls, retries), or None when the view is too old (local
        mode: Redis down or slow, or not reached yet)."""
        if time.monotonic() - self.view_at > self.stale_after:
            return None
        return self.others


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
