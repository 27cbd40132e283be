"""Metric points as totals: cumulative series counted once, then added up.

Cumulative points repeat the whole history at every export, so for each series
(resource, metric, attributes, start time) only the latest point counts; delta points
each count. Series are then added up by whatever attributes a table groups by.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar

from ragsight._viewer.reader import MetricPoint
from ragsight._viewer.stats import Distribution

K = TypeVar("K", bound=Hashable)


def _series(point: MetricPoint) -> tuple[Any, ...]:
    return (
        json.dumps(sorted(point.resource.attributes.items()), default=str),
        point.name,
        json.dumps(sorted(point.attributes.items()), default=str),
        point.start,
    )


def current_points(points: Iterable[MetricPoint]) -> list[MetricPoint]:
    """The latest point of every cumulative series, and every delta point."""
    latest: dict[tuple[Any, ...], MetricPoint] = {}
    deltas: list[MetricPoint] = []
    for point in points:
        if not point.cumulative:
            deltas.append(point)
            continue
        key = _series(point)
        seen = latest.get(key)
        if seen is None or seen.time <= point.time:
            latest[key] = point
    return [*latest.values(), *deltas]


class MetricTotals:
    """Current points indexed by metric name, with group-by helpers."""

    def __init__(self, points: Iterable[MetricPoint]) -> None:
        self.by_name: dict[str, list[MetricPoint]] = {}
        for point in current_points(points):
            self.by_name.setdefault(point.name, []).append(point)

    def points(self, name: str) -> list[MetricPoint]:
        return self.by_name.get(name, [])

    def sums(self, name: str, key: Callable[[Mapping[str, Any]], K]) -> dict[K, float]:
        """Counter values added up per ``key(attributes)``."""
        out: dict[K, float] = {}
        for point in self.points(name):
            k = key(point.attributes)
            out[k] = out.get(k, 0.0) + point.value
        return out

    def distributions(
        self, name: str, key: Callable[[Mapping[str, Any]], K]
    ) -> dict[K, Distribution]:
        """Histogram points added up per ``key(attributes)``."""
        out: dict[K, Distribution] = {}
        for point in self.points(name):
            out.setdefault(key(point.attributes), Distribution()).add(point)
        return out

    def latest_gauges(self, name: str) -> list[MetricPoint]:
        """Gauge points, latest first."""
        return sorted(self.points(name), key=lambda p: -p.time)
