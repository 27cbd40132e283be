"""Every instrument is created as its MetricSpec declares: kind, unit and buckets."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
)

from ragsight import names
from ragsight._core.instruments import create_instrument


@pytest.mark.parametrize("spec", names.METRICS, ids=lambda spec: spec.name)
def test_instrument_reaches_the_sdk_with_the_specs_unit_and_buckets(
    spec: names.MetricSpec,
) -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("spec-check")
    observable = spec.instrument.startswith("observable_")
    instrument = create_instrument(meter, spec, [lambda options: []] if observable else None)
    if spec.instrument == "histogram":
        instrument.record(1.0)
    elif not observable:
        instrument.add(1)
    data = reader.get_metrics_data()
    if observable:  # nothing observed: no point, but creation must have succeeded
        assert instrument is not None
        return
    (metric,) = [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    assert (metric.name, metric.unit) == (spec.name, spec.unit)
    (point,) = metric.data.data_points
    if spec.instrument == "histogram":
        assert isinstance(point, HistogramDataPoint)
        assert tuple(point.explicit_bounds) == spec.buckets
    else:
        assert isinstance(point, NumberDataPoint)


def test_an_observable_spec_without_callbacks_is_refused() -> None:
    meter = MeterProvider().get_meter("spec-check")
    with pytest.raises(ValueError, match="pass its callbacks"):
        create_instrument(meter, names.CB_CALLS)


def test_a_synchronous_spec_with_callbacks_is_refused() -> None:
    meter = MeterProvider().get_meter("spec-check")
    with pytest.raises(ValueError, match="takes no callbacks"):
        create_instrument(meter, names.RETRY_DELAY, [lambda options: []])
