"""Instruments built from their MetricSpec: its instrument type, unit and buckets are the law.

Every module that creates an instrument goes through :func:`create_instrument`: the
names contract declares each instrument's type once, and code cannot create it as
something else (a counter the dashboards read as a histogram, a histogram without its
explicit buckets).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.metrics import CallbackT, Meter

from ragsight.names import MetricSpec


def create_instrument(
    meter: Meter, spec: MetricSpec, callbacks: Sequence[CallbackT] | None = None
) -> Any:
    """Create ``spec`` on ``meter``; an observable one needs ``callbacks``, others refuse them."""
    observable = spec.instrument.startswith("observable_")
    if observable != bool(callbacks):
        raise ValueError(
            f"{spec.name} is {spec.instrument}: "
            + ("pass its callbacks" if observable else "it takes no callbacks")
        )
    common: dict[str, Any] = {"unit": spec.unit, "description": spec.description}
    if spec.instrument == "histogram":
        buckets = list(spec.buckets) if spec.buckets else None
        return meter.create_histogram(
            spec.name, explicit_bucket_boundaries_advisory=buckets, **common
        )
    if spec.instrument == "counter":
        return meter.create_counter(spec.name, **common)
    if spec.instrument == "up_down_counter":
        return meter.create_up_down_counter(spec.name, **common)
    if spec.instrument == "observable_counter":
        return meter.create_observable_counter(spec.name, callbacks=callbacks, **common)
    return meter.create_observable_gauge(spec.name, callbacks=callbacks, **common)
