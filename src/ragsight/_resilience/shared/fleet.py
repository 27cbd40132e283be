"""The fleet's decision, computed by each replica from the other replicas' fresh reports.

Pure functions over plain numbers: the store brings the reports (fresh by the server's
clock), this module decides. Each replica judges the fleet's evidence with its own breaker
settings, so two replicas configured alike reach the same verdict from the same reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BreakerWindow:
    """One replica's breaker window: calls, failures and slow calls in it."""

    calls: int
    failures: int
    slow: int

    def payload(self) -> str:
        return f"{self.calls} {self.failures} {self.slow}"

    @classmethod
    def parse(cls, payload: str) -> BreakerWindow:
        """Raises ValueError on anything but three non-negative integers."""
        calls, failures, slow = _integers(payload, 3)
        return cls(calls, failures, slow)


@dataclass(frozen=True, slots=True)
class BreakerVerdict:
    """The fleet's view of one breaker.

    ``replicas``: fresh replicas, this one included; ``voters``: those whose window held at
    least the per-replica minimum; ``tripping``: voters whose own window crosses a
    threshold.
    """

    tripped: bool
    voters: int
    tripping: int
    replicas: int


def breaker_verdict(
    own: BreakerWindow,
    others: Iterable[BreakerWindow],
    *,
    minimum_calls: int,
    quorum: int,
    failure_rate_threshold: float,
    slow_call_rate_threshold: float,
) -> BreakerVerdict:
    """A strict majority of voting replicas, and at least ``quorum`` of them, must trip.

    Every replica whose window holds at least ``minimum_calls`` calls votes; it votes
    *trip* when its own failure rate (or slow-call rate) reaches the threshold, judged by
    its window alone. The fleet trips when the tripping voters are more than half of the
    voters and at least ``quorum``. A vote weighs the same whatever the replica's traffic,
    so one bad replica cannot open healthy ones however many calls it makes (at two
    voters, one bad and one healthy is a tie: no trip); a replica alone with traffic (the
    others below their minimum) decides for the idle ones unless ``quorum`` asks for more.
    """
    voters = tripping = replicas = 0
    for window in (own, *others):
        replicas += 1
        calls = window.calls
        if calls > 0 and calls >= minimum_calls:
            voters += 1
            # divide, don't multiply (as the local breaker does): 7 / 25 is exactly 0.28
            if (
                window.failures / calls >= failure_rate_threshold
                or window.slow / calls >= slow_call_rate_threshold
            ):
                tripping += 1
    tripped = tripping >= quorum and 2 * tripping > voters
    return BreakerVerdict(tripped, voters, tripping, replicas)


@dataclass(frozen=True, slots=True)
class BudgetWindow:
    """One replica's retry-budget window: calls and retries in it."""

    calls: int
    retries: int

    def payload(self) -> str:
        return f"{self.calls} {self.retries}"

    @classmethod
    def parse(cls, payload: str) -> BudgetWindow:
        """Raises ValueError on anything but two non-negative integers."""
        calls, retries = _integers(payload, 2)
        return cls(calls, retries)


def budget_others(others: Iterable[BudgetWindow]) -> tuple[int, int]:
    """The other replicas' summed (calls, retries): the budget adds its own live counts."""
    calls = retries = 0
    for window in others:
        calls += window.calls
        retries += window.retries
    return calls, retries


def _integers(payload: str, count: int) -> list[int]:
    parts = payload.split()
    if len(parts) != count or not all(p.isdigit() for p in parts):
        raise ValueError(f"expected {count} non-negative integers, got {payload!r}")
    return [int(p) for p in parts]
