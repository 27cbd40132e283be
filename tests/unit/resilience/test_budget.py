"""Retry budget: retries are a bounded share of recent calls, with a floor for low traffic."""

from __future__ import annotations

import pytest

from ragsight import RetryBudget
from ragsight._resilience.budget import get_budget
from ragsight.resilience_testing import FakeClock


def test_the_floor_allows_min_per_second_times_ttl_retries_without_traffic() -> None:
    clock = FakeClock()
    budget = RetryBudget("b", ratio=0.1, min_per_second=0.5, ttl=10.0, clock=clock)
    granted = sum(budget.try_spend() for _ in range(20))
    assert granted == 5
    assert budget.exhausted == 15


def test_calls_earn_retries_at_the_configured_ratio() -> None:
    clock = FakeClock()
    budget = RetryBudget("b", ratio=0.1, min_per_second=0.0, ttl=10.0, clock=clock)
    for _ in range(100):
        budget.record(clock.monotonic(), "success_first_attempt")
    assert budget.remaining() == pytest.approx(10.0)
    assert sum(budget.try_spend() for _ in range(50)) == 10


def test_old_calls_and_retries_expire_after_the_ttl() -> None:
    clock = FakeClock()
    budget = RetryBudget("b", ratio=0.5, min_per_second=0.0, ttl=10.0, clock=clock)
    for _ in range(10):
        budget.record(clock.monotonic(), "success_first_attempt")
    assert sum(budget.try_spend() for _ in range(10)) == 5
    clock.advance(10.5)
    assert budget.remaining() == 0.0  # the calls that earned retries are gone too
    for _ in range(4):
        budget.record(clock.monotonic(), "success_first_attempt")
    assert budget.remaining() == pytest.approx(2.0)


def test_outcomes_are_counted_per_dependency() -> None:
    budget = get_budget("outcome-test")
    budget.record(0.0, "success_first_attempt")
    budget.record(0.0, "failed_after_retry")
    counts = get_budget("outcome-test").outcome_counts()
    assert (counts["success_first_attempt"], counts["failed_after_retry"]) == (1, 1)


def test_invalid_budgets_are_rejected() -> None:
    with pytest.raises(ValueError, match="ratio"):
        RetryBudget("x", ratio=-1)


def test_a_ratio_earns_exactly_its_share_despite_float_rounding() -> None:
    clock = FakeClock()
    budget = RetryBudget("rounding", ratio=0.29, min_per_second=0.0, clock=clock)
    for _ in range(100):
        budget.record(clock.monotonic(), "success_first_attempt")
    granted = sum(budget.try_spend(clock.monotonic()) for _ in range(40))
    assert granted == 29  # 0.29 * 100 is 28.999999999999996 in floating point
