"""Percentile rules, for any observations: never outside what was observed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from otlp_files import histogram_point

from ragsight import names
from ragsight._viewer.reader import MetricPoint, Resource
from ragsight._viewer.stats import Distribution, exact_quantile, from_values

BOUNDS = names.STAGE_DURATION_BUCKETS
values = st.lists(
    st.floats(min_value=0.0, max_value=1000.0, allow_nan=False), min_size=1, max_size=200
)
quantiles = st.floats(min_value=0.0, max_value=1.0)


def _distribution(observed: list[float], *, min_max: bool = True) -> Distribution:
    raw = histogram_point(observed, BOUNDS, min_max=min_max)
    point = MetricPoint(
        name="h",
        kind="histogram",
        cumulative=True,
        attributes={},
        start=0,
        time=1,
        value=raw["sum"],
        count=len(observed),
        bounds=tuple(raw["explicitBounds"]),
        bucket_counts=tuple(int(c) for c in raw["bucketCounts"]),
        minimum=raw.get("min"),
        maximum=raw.get("max"),
        resource=Resource("r", "s", {}),
    )
    dist = Distribution()
    dist.add(point)
    return dist


@given(values, quantiles)
def test_a_histogram_estimate_stays_inside_the_observed_range(
    observed: list[float], q: float
) -> None:
    figure = _distribution(observed).quantile(q)
    assert figure is not None
    assert min(observed) <= figure.value <= max(observed)


@given(st.floats(min_value=0.0, max_value=1e4, allow_nan=False), st.integers(1, 50), quantiles)
def test_identical_observations_give_exactly_their_value(value: float, n: int, q: float) -> None:
    figure = _distribution([value] * n).quantile(q)
    assert figure is not None
    assert figure.value == value
    assert exact_quantile([value] * n, q) == value


@given(values, quantiles, quantiles)
def test_exact_quantiles_are_ordered_and_inside_the_range(
    observed: list[float], q1: float, q2: float
) -> None:
    ordered = sorted(observed)
    low, high = sorted((q1, q2))
    assert ordered[0] <= exact_quantile(ordered, low) <= exact_quantile(ordered, high)
    assert exact_quantile(ordered, high) <= ordered[-1]


@given(values)
def test_statistics_from_observations_are_exact(observed: list[float]) -> None:
    stats = from_values(observed)
    assert stats.exact
    assert stats.minimum is not None
    assert stats.minimum.value == min(observed)
    assert stats.maximum is not None
    assert stats.maximum.value == max(observed)
