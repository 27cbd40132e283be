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
import weakref
from collections.abc import Callable
from typing import Final, Protocol

from ragsight import names as n
from ragsight._core import policy as _policy
from ragsight._core.limits import Limit
from ragsight._resilience import clock as _clock


class SharedBudgetLink(Protocol):
    def fleet_others(self) -> tuple[int, int] | None: ...


class SharedBudgetStore(Protocol):
    """What ``shared=`` takes (``ragsight.RedisState``)."""

    def attach_budget(self, budget: RetryBudget) -> SharedBudgetLink: ...


TTL: Final = Limit(float, minimum=0.0, exclusive_min=True, unit="seconds")
BUCKETS: Final = Limit(int, minimum=1)


class RetryBudget:
    """Calls and retries of one dependency over a time-bucketed TTL window.

    ``ratio`` and ``min_per_second`` default to the configured ``retry.budget_ratio`` and
    ``retry.budget_min_per_second`` and follow every later ``configure()``; values given
    here stay fixed. ``ttl`` (seconds) is split into ``buckets``.

    ``shared`` (a :class:`ragsight.RedisState`) makes the budget fleet-wide: retries are
    checked against every replica's calls and retries (one ``min_per_second`` floor for the
    fleet); while the store is unreachable the budget is this replica's alone.

    Raises:
        LimitError (a ValueError): a setting outside the limits of its ``retry.*`` key
            (``ttl`` must be > 0, ``buckets`` >= 1).
    """

    __slots__ = (
        "__weakref__",
        "_bucket_end",
        "_calls",
        "_clock",
        "_cur_calls",
        "_cur_retries",
        "_explicit_min",
        "_explicit_ratio",
        "_generation",
        "_head",
        "_lock",
        "_min_per_second",
        "_n",
        "_n_first",
        "_prev_calls",
        "_prev_retries",
        "_ratio",
        "_retries",
        "_shared",
        "_width",
        "exhausted",
        "name",
        "outcomes",
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
        shared: SharedBudgetStore | None = None,
    ) -> None:
        limits = _policy.RETRY_LIMITS
        self.name = name
        self._explicit_ratio = (
            None if ratio is None else limits["budget_ratio"].check(ratio, "ratio")
        )
        self._explicit_min = (
            None
            if min_per_second is None
            else limits["budget_min_per_second"].check(min_per_second, "min_per_second")
        )
        self._generation = -1  # resolved on first use
        self._ratio = self._min_per_second = 0.0
        ttl = TTL.check(ttl, "ttl")
        buckets = BUCKETS.check(buckets, "buckets")
        self.ttl = ttl
        self._n = buckets
        self._width = ttl / buckets
        self._clock = clock
        self._lock = threading.Lock()
        # Completed buckets live in the rings (summed in _prev_*); the current bucket is
        # scalars, so recording a first-attempt success touches no list.
        self._calls = [0] * buckets
        self._retries = [0] * buckets
        self._head = -1
        self._bucket_end = float("-inf")
        self._cur_calls = self._cur_retries = 0
        self._prev_calls = self._prev_retries = 0
        self._n_first = 0  # success_first_attempt, the hot outcome, kept out of the dict
        self.exhausted = 0
        self.outcomes = dict.fromkeys(n.RETRY_OUTCOMES, 0)
        with _observed_lock:  # observed while alive, registered by name or passed explicitly
            _observed.add(self)
        self._shared = shared.attach_budget(self) if shared is not None else None

    def _now(self) -> float:
        return self._clock.monotonic() if self._clock is not None else _clock.now()

    def _roll(self, now: float) -> None:
        bucket = int(now // self._width)
        head = self._head
        if bucket <= head:
            return
        nb = self._n
        slot = head % nb
        self._calls[slot] = self._cur_calls
        self._retries[slot] = self._cur_retries
        self._prev_calls += self._cur_calls
        self._prev_retries += self._cur_retries
        self._cur_calls = self._cur_retries = 0
        for step in range(1, min(bucket - head, nb) + 1):
            i = (head + step) % nb
            self._prev_calls -= self._calls[i]
            self._prev_retries -= self._retries[i]
            self._calls[i] = self._retries[i] = 0
        self._head = bucket
        self._bucket_end = (bucket + 1) * self._width

    def record(self, now: float, outcome: str) -> None:
        """One finished call and its outcome."""
        with self._lock:
            if now >= self._bucket_end:
                self._roll(now)
            self._cur_calls += 1
            if outcome == "success_first_attempt":
                self._n_first += 1
            else:
                self.outcomes[outcome] += 1

    def rebase(self, offset: float) -> None:
        """The process clock was swapped: move the buckets by ``offset`` seconds."""
        with self._lock:
            if self._bucket_end == float("-inf"):
                return
            rings = (self._calls, self._retries)
            self._head = _clock.rebase_ring(rings, self._head, self._width, offset)
            self._bucket_end = (self._head + 1) * self._width

    def _resolve(self) -> None:
        """Bind ``ratio``/``min_per_second`` to the defaults in force (one integer compare
        when they have not changed since the last call)."""
        generation = _policy.generation
        if generation == self._generation:
            return
        d = _policy.get_resilience_defaults().retry
        explicit_ratio, explicit_min = self._explicit_ratio, self._explicit_min
        self._ratio = d.budget_ratio if explicit_ratio is None else explicit_ratio
        self._min_per_second = d.budget_min_per_second if explicit_min is None else explicit_min
        self._generation = generation

    @property
    def ratio(self) -> float:
        """Retries allowed per call in the window (configured default unless given)."""
        self._resolve()
        return self._ratio

    @property
    def min_per_second(self) -> float:
        """Retries per second always allowed, whatever the traffic (configured default
        unless given)."""
        self._resolve()
        return self._min_per_second

    def _allowance(self, calls: int | None = None) -> float:
        self._resolve()
        if calls is None:
            calls = self._prev_calls + self._cur_calls
        return self._ratio * calls + self._min_per_second * self.ttl

    def try_spend(self, now: float | None = None, cost: float = 1.0) -> bool:
        """Take ``cost`` retries from the budget; False (and counted) when it is exhausted."""
        now = self._now() if now is None else now
        with self._lock:
            if now >= self._bucket_end:
                self._roll(now)
            # The tolerance absorbs float rounding (0.29 * 100 is 28.999999999999996): a
            # budget that earned 29 retries must grant the 29th.
            calls, retries = self._counted()
            if retries + cost > self._allowance(calls) + 1e-9:
                self.exhausted += 1
                return False
            self._cur_retries += max(1, round(cost))
            return True

    def _counted(self) -> tuple[int, int]:
        """Calls and retries the budget is judged on (lock held): this replica's window,
        plus the other replicas' while a shared store has a fresh fleet view (one floor)."""
        calls = self._prev_calls + self._cur_calls
        retries = self._prev_retries + self._cur_retries
        link = self._shared
        others = None if link is None else link.fleet_others()
        if others is not None:
            calls += others[0]
            retries += others[1]
        return calls, retries

    def remaining(self, now: float | None = None) -> float:
        """Retries ``try_spend`` would grant now (the fleet's while shared)."""
        now = self._now() if now is None else now
        with self._lock:
            if now >= self._bucket_end:
                self._roll(now)
            calls, retries = self._counted()
            return max(0.0, self._allowance(calls) - retries)

    def window_totals(self, now: float | None = None) -> tuple[int, int]:
        """Calls and retries in this replica's window (what a shared store publishes)."""
        now = self._now() if now is None else now
        with self._lock:
            if now >= self._bucket_end:
                self._roll(now)
            return self._prev_calls + self._cur_calls, self._prev_retries + self._cur_retries

    def outcome_counts(self) -> dict[str, int]:
        with self._lock:
            counts = dict(self.outcomes)
            counts["success_first_attempt"] += self._n_first
            return counts


_lock = threading.Lock()
_budgets: dict[str, RetryBudget] = {}
# Its own lock: get_budget() constructs budgets while holding _lock.
_observed_lock = threading.Lock()
_observed: weakref.WeakSet[RetryBudget] = weakref.WeakSet()


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
    """Every live budget, including ones passed to ``retry(budget=...)`` explicitly."""
    with _observed_lock:
        return list(_observed)


def _rebase_all(offset: float) -> None:
    """The process clock was swapped: rebase every budget that runs on it."""
    for budget in all_budgets():
        if budget._clock is None:
            budget.rebase(offset)


_clock.rebase_hooks.append(_rebase_all)


def clear_budgets() -> None:
    """Forget every budget (tests)."""
    with _lock:
        _budgets.clear()
    with _observed_lock:
        _observed.clear()
