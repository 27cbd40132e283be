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

    ``voters``: replicas whose window held at least the per-replica minimum; ``replicas``:
    fresh replicas, this one included; the rates are the voters' mean rates (0.0 with no
    voter).
    """

    tripped: bool
    voters: int
    replicas: int
    failure_rate: float
    slow_call_rate: float


def breaker_verdict(
    own: BreakerWindow,
    others: Iterable[BreakerWindow],
    *,
    minimum_calls: int,
    quorum: int,
    failure_rate_threshold: float,
    slow_call_rate_threshold: float,
) -> BreakerVerdict:
    """Replica-weighted votes with a per-replica minimum and a quorum.

    Every replica whose window holds at least ``minimum_calls`` calls votes with its own
    failure and slow-call rates, each vote weighing the same whatever the replica's
    traffic; the fleet trips when at least ``quorum`` replicas vote and the voters' mean
    failure (or slow-call) rate reaches the threshold. One bad replica among busy healthy
    ones cannot carry the mean, however many calls it makes; a replica alone with traffic
    (the others below their minimum) decides alone unless ``quorum`` asks for more.
    """
    voters = replicas = 0
    fails = slows = 0.0
    for window in (own, *others):
        replicas += 1
        if window.calls > 0 and window.calls >= minimum_calls:
            voters += 1
            fails += window.failures / window.calls
            slows += window.slow / window.calls
    if voters == 0:
        return BreakerVerdict(False, 0, replicas, 0.0, 0.0)
    failure_rate, slow_rate = fails / voters, slows / voters
    tripped = voters >= quorum and (
        failure_rate >= failure_rate_threshold or slow_rate >= slow_call_rate_threshold
    )
    return BreakerVerdict(tripped, voters, replicas, failure_rate, slow_rate)


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
