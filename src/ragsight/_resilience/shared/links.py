"""What one attached breaker or budget exchanges with the store on each tick.

A link reads its component's window (one short lock, on the publisher thread), gives the
tick its report, and applies the other replicas' reports. Components keep a link; a link
keeps only a weak reference to its component, so it never keeps a breaker or budget alive.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from ragsight._resilience.shared import fleet
from ragsight._resilience.shared.backends import Reply
from ragsight._resilience.shared.config import SharedConfig

if TYPE_CHECKING:
    from ragsight._resilience.breaker.facade import CircuitBreaker
    from ragsight._resilience.budget import RetryBudget

logger = logging.getLogger("ragsight.resilience.shared")
W = TypeVar("W")


def _key(kind: str, name: str, prefix: str) -> str:
    # a hash tag per component: its key maps to one Redis Cluster slot
    return f"{prefix}{{{kind}:{name}}}:reports"


def _windows(link: BreakerLink | BudgetLink, reply: Reply, parse: Callable[[str], W]) -> list[W]:
    """The other replicas' windows. A report this version cannot read (a newer release, a
    foreign writer under the prefix) is left out, logged once per component: one replica
    must not put every other one in local mode."""
    windows = []
    for replica, payload in reply.items():
        try:
            windows.append(parse(payload))
        except ValueError as err:
            if not link.warned:
                link.warned = True
                logger.warning(
                    "ragsight shared state: ignoring the report of replica %r for %r (%s); "
                    "it neither votes nor counts (another ragsight version?)",
                    replica, link.name, err,
                )  # fmt: skip
    return windows


class BreakerLink:
    """One breaker's part in the fleet: publishes its window, opens it on a fleet trip.

    A trip is an edge: the breaker is opened (reason ``fleet``) when the fleet's verdict
    goes from healthy to tripped, once; recovery stays local, so a breaker that closed
    again through its own probes is not re-opened by the same trip.
    """

    __slots__ = ("_ref", "key", "name", "tripped", "verdict", "warned")

    def __init__(self, breaker: CircuitBreaker, prefix: str) -> None:
        self._ref = weakref.ref(breaker)
        self.name = breaker.name
        self.key = _key("cb", self.name, prefix)
        self.tripped = False  # the fleet's verdict last seen
        self.verdict: fleet.BreakerVerdict | None = None  # None: no fleet view (local)
        self.warned = False  # an unreadable report was logged

    @property
    def alive(self) -> bool:
        return self._ref() is not None

    def report(self) -> tuple[str, str] | None:
        """This tick's (key, payload); None when the breaker is gone."""
        breaker = self._ref()
        if breaker is None:
            return None
        snap = breaker.snapshot()
        own = fleet.BreakerWindow(snap.window_calls, snap.window_failures, snap.window_slow_calls)
        return self.key, own.payload()

    def apply(self, reply: Reply, payload: str, cfg: SharedConfig) -> None:
        """Judge the fleet (this replica's report and the others') with this breaker's
        settings; a healthy-to-tripped edge opens a closed breaker."""
        breaker = self._ref()
        if breaker is None:
            return
        bc = breaker.config
        verdict = fleet.breaker_verdict(
            fleet.BreakerWindow.parse(payload),
            _windows(self, reply, fleet.BreakerWindow.parse),
            minimum_calls=cfg.replica_minimum_calls or bc.minimum_calls,
            quorum=cfg.quorum,
            failure_rate_threshold=bc.failure_rate_threshold,
            slow_call_rate_threshold=bc.slow_call_rate_threshold,
        )
        self.verdict = verdict
        edge = verdict.tripped and not self.tripped
        self.tripped = verdict.tripped
        if edge:
            breaker._fleet_open()

    def lose(self) -> None:
        """The exchange failed: no fleet view until the next good one (the last verdict
        seen stays the reference for the next edge)."""
        self.verdict = None


class BudgetLink:
    """One retry budget's part in the fleet: publishes its window, holds the others' sums."""

    __slots__ = ("_clock", "_ref", "key", "name", "others", "stale_after", "view_at", "warned")

    def __init__(
        self, budget: RetryBudget, prefix: str, stale_after: float, clock: Callable[[], float]
    ) -> None:
        self.stale_after = stale_after
        self._clock = clock
        self._ref = weakref.ref(budget)
        self.name = budget.name
        self.key = _key("budget", self.name, prefix)
        self.others: tuple[int, int] | None = None  # calls, retries of the other replicas
        self.view_at = float("-inf")
        self.warned = False  # an unreadable report was logged

    @property
    def alive(self) -> bool:
        return self._ref() is not None

    def report(self) -> tuple[str, str] | None:
        budget = self._ref()
        if budget is None:
            return None
        calls, retries = budget.window_totals()
        return self.key, fleet.BudgetWindow(calls, retries).payload()

    def apply(self, reply: Reply, payload: str, cfg: SharedConfig) -> None:
        self.others = fleet.budget_others(_windows(self, reply, fleet.BudgetWindow.parse))
        self.view_at = self._clock()

    def lose(self) -> None:
        self.others = None

    def fleet_others(self) -> tuple[int, int] | None:
        """The other replicas' (calls, retries), or None in local mode: the last exchange
        failed, or its view is older than ``stale_after`` (Redis hanging), or none yet."""
        others = self.others
        if others is None or self._clock() - self.view_at > self.stale_after:
            return None
        return others


Link = BreakerLink | BudgetLink
