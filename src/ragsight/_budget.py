"""Retry budget per dependency: retries may be at most a share of recent calls.

Without one, every client of a struggling dependency multiplies its load by the attempt
count exactly when it can least afford it. Finagle's and Google SRE's answer is a budget:
over a sliding TTL (10 s), retries <= ``ratio`` x calls + ``min_per_second`` x TTL. The
minimum keeps low-traffic dependencies (a few LLM calls a minute) retryable at all.

The same per-dependency object also holds the retry outcome counters, so the success path
of a retried call pays for one short lock and a few integer increments, all read by
observable instruments at collection time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ragsight import _clock, _policy
from ragsight import names as n


class RetryBudget:
    """Calls and retries of one dependency over a time-bucketed TTL window."""

    __slots__ = (
        "__weakref__",
        "_calls",
        "_clock",
        "_head",
        "_lock",
        "_n",
        "_retries",
        "_slot",
        "_wcalls",
        "_width",
        "_wretries",
        "exhausted",
        "min_per_second",
        "name",
        "outcomes",
        "ratio",
        "ttl",
    )

    def __init__(
        self,
        name: str,
        *,
        ratio: float | None = None,
        min_per_second: float | None = None,
        ttl: float = 10.0,
        buckets: int = 10,
        clock: _clock.Clock | None = None,
    ) -> None:
        d = _policy.get_resilience_defaults().retry
        self.name = name
        self.ratio = float(d.budget_ratio if ratio is None else ratio)
        self.min_per_second = float(
            d.budget_min_per_second if min_per_second is None else min_per_second
        )
        if self.ratio < 0 or self.min_per_second < 0 or ttl <= 0 or buckets < 1:
            raise ValueError("budget ratio/min_per_second must be >= 0 and ttl/buckets > 0")
        self.ttl = ttl
        self._n = buckets
        self._width = ttl / buckets
        self._clock = clock
        self._lock = threading.Lock()
        self._calls = [0] * buckets
        self._retries = [0] * buckets
        self._head = 0
        self._slot = 0
        self._wcalls = 0
        self._wretries = 0
        self.exhausted = 0
        self.outcomes = dict.fromkeys(n.RETRY_OUTCOMES, 0)

    def _now(self) -> float:
        return self._clock.monotonic() if self._clock is not None else _clock.now()

    def _roll(self, bucket: int) -> None:
        gap = bucket - self._head
        if gap <= 0:
            return
        if gap >= self._n:
            for i in range(self._n):
                self._calls[i] = self._retries[i] = 0
            self._wcalls = self._wretries = 0
        else:
            for step in range(1, gap + 1):
                i = (self._head + step) % self._n
                self._wcalls -= self._calls[i]
                self._wretries -= self._retries[i]
                self._calls[i] = self._retries[i] = 0
        self._head = bucket
        self._slot = bucket % self._n

    def record(self, now: float, outcome: str) -> None:
        """One finished call (the hot path: one lock, a few increments)."""
        with self._lock:
            bucket = int(now // self._width)
            if bucket != self._head:
                self._roll(bucket)
            self._calls[self._slot] += 1
            self._wcalls += 1
            self.outcomes[outcome] += 1

    def _allowance(self) -> float:
        return self.ratio * self._wcalls + self.min_per_second * self.ttl

    def try_spend(self, now: float | None = None, cost: float = 1.0) -> bool:
        """Take ``cost`` retries from the budget; False (and counted) when it is exhausted."""
        now = self._now() if now is None else now
        with self._lock:
            bucket = int(now // self._width)
            if bucket != self._head:
                self._roll(bucket)
            if self._wretries + cost > self._allowance():
                self.exhausted += 1
                return False
            whole = max(1, round(cost))
            self._retries[self._slot] += whole
            self._wretries += whole
            return True

    def remaining(self, now: float | None = None) -> float:
        now = self._now() if now is None else now
        with self._lock:
            bucket = int(now // self._width)
            if bucket != self._head:
                self._roll(bucket)
            return max(0.0, self._allowance() - self._wretries)

    def outcome_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.outcomes)


_lock = threading.Lock()
_budgets: dict[str, RetryBudget] = {}


def get_budget(name: str, factory: Callable[[str], RetryBudget] | None = None) -> RetryBudget:
    """The process-wide budget (and outcome counters) for dependency ``name``."""
    budget = _budgets.get(name)
    if budget is not None:
        return budget
    with _lock:
        budget = _budgets.get(name)
        if budget is None:
            budget = (factory or RetryBudget)(name)
            _budgets[name] = budget
        return budget


def all_budgets() -> list[RetryBudget]:
    with _lock:
        return list(_budgets.values())


def clear_budgets() -> None:
    """Forget every budget (tests)."""
    with _lock:
        _budgets.clear()
