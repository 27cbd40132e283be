"""Resilience metrics are visible through ragsight.testing.capture_telemetry()."""

from __future__ import annotations

import gc

from ragsight import CircuitBreaker, RetryBudget, names, retry
from ragsight.testing import capture_telemetry


def test_breaker_created_before_capture_reports_success_counts_inside_it() -> None:
    breaker = CircuitBreaker("made-at-import-time")  # created before any provider exists

    @breaker
    def ok() -> int:
        return 1

    with capture_telemetry() as telemetry:
        for _ in range(3):
            ok()
        points = [
            p
            for p in telemetry.metric_points(names.CB_CALLS.name)
            if p.attributes.get(names.RESILIENCE_NAME) == "made-at-import-time"
            and p.attributes.get(names.CB_OUTCOME) == "success"
        ]
    assert [p.value for p in points] == [3]


def test_explicit_retry_budget_reports_its_call_outcomes() -> None:
    budget = RetryBudget("explicit-dependency")

    @retry(attempts=2, budget=budget)
    def ok() -> int:
        return 1

    with capture_telemetry() as telemetry:
        ok()
        ok()
        points = [
            p
            for p in telemetry.metric_points(names.RETRY_CALLS.name)
            if p.attributes.get(names.RESILIENCE_NAME) == "explicit-dependency"
            and p.attributes.get(names.RETRY_OUTCOME) == "success_first_attempt"
        ]
    assert [p.value for p in points] == [2]


def test_a_collected_breaker_from_before_the_capture_does_not_leak_into_it() -> None:
    earlier = CircuitBreaker("reused-name")  # e.g. made by a previous test
    earlier.call(lambda: None)
    del earlier
    gc.collect()
    with capture_telemetry() as telemetry:
        CircuitBreaker("reused-name").call(lambda: None)
        points = [
            p
            for p in telemetry.metric_points(names.CB_CALLS.name)
            if p.attributes.get(names.RESILIENCE_NAME) == "reused-name"
            and p.attributes.get(names.CB_OUTCOME) == "success"
        ]
    assert [p.value for p in points] == [1]
