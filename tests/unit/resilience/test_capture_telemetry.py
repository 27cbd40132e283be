"""Resilience metrics are visible through ragsight.testing.capture_telemetry()."""

from __future__ import annotations

from ragsight import CircuitBreaker, names
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
