"""The test helper that queries like Grafana follows Grafana's interval and variable rules."""

from __future__ import annotations

import pytest
from grafana_like import ALL, fill_tags, interpolate, query_time, round_interval_ms, service_value


@pytest.mark.parametrize(
    ("raw_ms", "rounded_ms"),
    [(3600, 5000), (1400, 1000), (14000, 15000), (60_000, 60_000), (100_000, 120_000)],
)
def test_intervals_round_to_grafanas_steps(raw_ms: float, rounded_ms: int) -> None:
    assert round_interval_ms(raw_ms) == rounded_ms


def test_the_scrape_interval_is_the_lowest_step_and_a_quarter_of_the_rate_interval() -> None:
    when = query_time(0, 3600, scrape_interval=15)
    assert when.step == 15  # the datasource's scrape interval is the lowest $__interval
    assert when.rate_interval == 60  # max(15 + 15, 4 * 15)


def test_rate_interval_is_interval_plus_scrape_when_that_is_larger() -> None:
    when = query_time(0, 7 * 86400, scrape_interval=15)
    assert when.rate_interval == when.step + 15


def test_the_range_is_aligned_to_the_step() -> None:
    when = query_time(1003, 4603, scrape_interval=60)
    assert when.start % when.step == 0
    assert when.end % when.step == 0


def test_all_expands_to_the_all_value_and_several_values_to_an_alternation() -> None:
    assert service_value([ALL], ".*") == ".*"
    assert service_value(["a"], ".*") == "a"
    assert service_value(["a.b", "c"], ".*") == r"(a\\.b|c)"


def test_interpolation_fills_intervals_and_variables() -> None:
    when = query_time(0, 3600, scrape_interval=15)
    out = interpolate('rate(x{s=~"$service"}[$__rate_interval])', when, {"service": ".*"})
    assert out == 'rate(x{s=~".*"}[60s])'


def test_tags_are_filled_from_the_span_and_its_process_and_skipped_when_absent() -> None:
    tags = [{"key": "rag.stage", "value": "rag_stage"}, {"key": "missing", "value": "m"}]
    query = fill_tags("x{$__tags}", tags, {"rag.stage": "retrieval"})
    assert query == 'x{rag_stage="retrieval"}'
