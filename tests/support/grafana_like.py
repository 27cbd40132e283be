"""Run dashboard and link queries against Prometheus the way Grafana sends them.

Grafana does not send a panel's text as written. It picks ``$__interval`` from the time
range and the panel's width (rounded to a "nice" step, never below the datasource's scrape
interval), derives ``$__rate_interval`` from it, expands ``$service`` (``All`` becomes the
variable's ``allValue``, several values a regex alternation), aligns the range to the step
and runs a range query. The trace -> metrics link fills ``$__tags`` from the span's tags.
This module reproduces those rules (Grafana's rangeutil.roundInterval, the Prometheus
datasource's rate-interval and step rules, createSpanLink's buildMetricsQuery) so the stack
tests see what a user's browser would.
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stackprocs import get_json

# rangeutil.roundInterval: (upper bound ms, rounded interval ms), checked in order.
_ROUNDING_MS = (
    (10, 1), (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500),
    (1500, 1000), (3500, 2000), (7500, 5000), (12500, 10000), (17500, 15000),
    (25000, 20000), (45000, 30000), (90000, 60000), (210000, 120000), (450000, 300000),
    (750000, 600000), (1050000, 900000), (1500000, 1200000), (2700000, 1800000),
    (5400000, 3600000), (9000000, 7200000), (16200000, 10800000), (32400000, 21600000),
    (86400000, 43200000), (604800000, 86400000), (1814400000, 604800000),
    (3628800000, 2592000000),
)  # fmt: skip
_YEAR_MS = 31536000000
PROMETHEUS_MAX_POINTS = 11000  # the datasource keeps a query under Prometheus's limit
ALL = "$__all"


def round_interval_ms(interval_ms: float) -> int:
    """Grafana's rangeutil.roundInterval."""
    for bound, rounded in _ROUNDING_MS:
        if interval_ms < bound:
            return rounded
    return _YEAR_MS


@dataclass(frozen=True)
class QueryTime:
    """What Grafana derives from a dashboard's time range for one panel."""

    start: float  # unix seconds, aligned to the step
    end: float
    step: float  # $__interval, seconds
    rate_interval: float  # $__rate_interval, seconds
    range_seconds: float  # $__range


def query_time(
    start: float, end: float, scrape_interval: float, max_data_points: int = 1000
) -> QueryTime:
    """Interval, rate interval and aligned range for a panel ``max_data_points`` wide.

    ``scrape_interval`` is the datasource's ``timeInterval``: it is both the lowest
    ``$__interval`` and the base of ``$__rate_interval``."""
    range_ms = (end - start) * 1000
    interval_ms = max(round_interval_ms(range_ms / max_data_points), scrape_interval * 1000)
    step = max(interval_ms / 1000, math.ceil((end - start) / PROMETHEUS_MAX_POINTS))
    rate_interval = max(step + scrape_interval, 4 * scrape_interval)
    return QueryTime(
        start=math.floor(start / step) * step,
        end=math.floor(end / step) * step,
        step=step,
        rate_interval=rate_interval,
        range_seconds=end - start,
    )


def _duration(seconds: float) -> str:
    return f"{int(seconds * 1000)}ms" if seconds != int(seconds) else f"{int(seconds)}s"


def service_value(selected: Sequence[str], all_value: str) -> str:
    """How ``$service`` is written into PromQL: All -> allValue, values -> (a|b), escaped."""
    if list(selected) == [ALL]:
        return all_value
    escaped = [re.sub(r"([\\^$*+?.()|\[\]{}/])", r"\\\\\1", v) for v in selected]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def interpolate(expr: str, when: QueryTime, variables: Mapping[str, str]) -> str:
    """``expr`` with Grafana's built-in and dashboard variables replaced."""
    out = expr.replace("$__rate_interval", _duration(when.rate_interval))
    out = out.replace("$__interval", _duration(when.step))
    out = out.replace("$__range", _duration(when.range_seconds))
    for name, value in sorted(variables.items(), key=lambda kv: -len(kv[0])):
        out = out.replace(f"${{{name}}}", value).replace(f"${name}", value)
    return out


def range_query(base_url: str, expr: str, when: QueryTime) -> list[dict[str, Any]]:
    """POST-free equivalent of the datasource's /api/v1/query_range call: the result matrix."""
    params = {"query": expr, "start": when.start, "end": when.end, "step": when.step}
    body = get_json(f"{base_url}/api/v1/query_range?" + urllib.parse.urlencode(params))
    if body.get("status") != "success":
        raise ValueError(f"query failed: {body}")
    return list(body["data"]["result"])


def peak(matrix: Sequence[Mapping[str, Any]]) -> float:
    """The largest finite value of a range-query result (0.0 when it has none)."""
    values = [
        float(v)
        for series in matrix
        for _, v in series["values"]
        if not math.isnan(float(v)) and not math.isinf(float(v))
    ]
    return max(values, default=0.0)


def fill_tags(
    query: str, tag_map: Sequence[Mapping[str, str]], span_tags: Mapping[str, Any]
) -> str:
    """A trace -> metrics query with ``$__tags`` filled as Grafana's buildMetricsQuery does:
    ``label="value"`` for each configured tag the span (or its process) has, joined by ", "."""
    labels = [
        f'{tag.get("value") or tag["key"]}="{span_tags[tag["key"]]}"'
        for tag in tag_map
        if span_tags.get(tag["key"])
    ]
    return query.replace("$__tags", ", ".join(labels))
