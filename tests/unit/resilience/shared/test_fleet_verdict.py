"""The fleet's verdict against poisoning: one vote per replica judged by its own window, a
per-replica minimum of calls before a replica votes, a strict majority of voters and a
quorum of tripping voters."""

from __future__ import annotations

import pytest

from ragsight._resilience.shared.fleet import (
    BreakerWindow,
    BudgetWindow,
    breaker_verdict,
    budget_others,
)

HEALTHY = BreakerWindow(calls=100, failures=0, slow=0)
FAILING = BreakerWindow(calls=1000, failures=1000, slow=0)
IDLE = BreakerWindow(calls=0, failures=0, slow=0)
RULES = {
    "minimum_calls": 10,
    "quorum": 1,
    "failure_rate_threshold": 0.5,
    "slow_call_rate_threshold": 1.0,
}


def test_one_busy_failing_replica_among_healthy_voters_does_not_trip_the_fleet() -> None:
    verdict = breaker_verdict(HEALTHY, [FAILING, HEALTHY], **RULES)
    assert not verdict.tripped
    assert (verdict.voters, verdict.tripping) == (3, 1)


def test_one_failing_and_one_healthy_voter_are_a_tie_that_does_not_trip() -> None:
    assert not breaker_verdict(HEALTHY, [FAILING], **RULES).tripped


def test_a_majority_of_failing_voters_trips_the_fleet() -> None:
    assert breaker_verdict(HEALTHY, [FAILING, FAILING], **RULES).tripped


def test_a_replica_alone_with_traffic_trips_the_fleet_when_the_others_are_idle() -> None:
    verdict = breaker_verdict(IDLE, [FAILING, IDLE], **RULES)
    assert verdict.tripped
    assert (verdict.voters, verdict.replicas) == (1, 3)


def test_a_replica_below_the_per_replica_minimum_does_not_vote() -> None:
    few = BreakerWindow(calls=9, failures=9, slow=0)
    verdict = breaker_verdict(IDLE, [few], **RULES)
    assert not verdict.tripped
    assert verdict.voters == 0


def test_with_a_quorum_of_two_one_voting_replica_never_trips_the_fleet() -> None:
    rules = {**RULES, "quorum": 2}
    assert not breaker_verdict(IDLE, [FAILING], **rules).tripped
    assert breaker_verdict(FAILING, [FAILING], **rules).tripped


def test_each_voter_is_judged_by_its_own_window_reaching_the_threshold() -> None:
    at = BreakerWindow(calls=10, failures=5, slow=0)  # 0.5: reached
    below = BreakerWindow(calls=10_000, failures=4_999, slow=0)  # busy, just below
    assert breaker_verdict(at, [IDLE], **RULES).tripped
    assert not breaker_verdict(below, [IDLE], **RULES).tripped


def test_a_mean_rate_above_the_threshold_does_not_trip_without_a_majority() -> None:
    nearly = BreakerWindow(calls=20, failures=9, slow=0)  # 0.45 each, below the threshold
    verdict = breaker_verdict(nearly, [nearly, FAILING], **RULES)  # mean 0.63
    assert not verdict.tripped
    assert verdict.tripping == 1


def test_the_slow_call_rate_trips_the_fleet_on_its_own_threshold() -> None:
    slow = BreakerWindow(calls=20, failures=0, slow=20)
    rules = {**RULES, "slow_call_rate_threshold": 0.8}
    assert breaker_verdict(slow, [IDLE], **rules).tripped


def test_the_budget_adds_up_every_other_replicas_calls_and_retries() -> None:
    assert budget_others([BudgetWindow(100, 3), BudgetWindow(50, 2)]) == (150, 5)
    assert budget_others([]) == (0, 0)


@pytest.mark.parametrize("payload", ["", "1 2", "1 2 x", "-1 0 0", "1 2 3 4"])
def test_a_report_that_is_not_three_counts_is_refused(payload: str) -> None:
    with pytest.raises(ValueError, match="non-negative integers"):
        BreakerWindow.parse(payload)
