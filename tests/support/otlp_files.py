"""Build OTLP/JSON lines like the embedded file sink writes, for the viewer's tests.

Histogram points are computed from the observed values (bucket counts, sum, min, max),
the way the SDK aggregates them, so a test states values, not bucket arithmetic.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ragsight import names

CUMULATIVE = 2
DELTA = 1
T0 = 1_800_000_000_000_000_000  # a fixed Unix time in ns


def any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def attributes(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in values.items()]


def resource(run: str | None, service: str = "svc") -> dict[str, Any]:
    attrs: dict[str, Any] = {names.SERVICE_NAME: service}
    if run is not None:
        attrs[names.SERVICE_INSTANCE_ID] = run
    return {"attributes": attributes(attrs)}


def event(name: str, at: int, **attrs: Any) -> dict[str, Any]:
    return {"timeUnixNano": str(at), "name": name, "attributes": attributes(attrs)}


def span(
    trace: str,
    span_id: str,
    name: str,
    start: int,
    end: int,
    *,
    parent: str | None = None,
    attrs: Mapping[str, Any] | None = None,
    events: Sequence[dict[str, Any]] = (),
    error: bool = False,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": trace.ljust(32, "0"),
        "spanId": span_id.ljust(16, "0"),
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(end),
        "attributes": attributes(attrs or {}),
        "events": list(events),
        "status": {"code": 2, "message": "boom"} if error else {},
    }
    if parent is not None:
        out["parentSpanId"] = parent.ljust(16, "0")
    return out


def stage_span(
    trace: str,
    span_id: str,
    stage: str,
    operation: str,
    start: int,
    seconds: float,
    **kwargs: Any,
) -> dict[str, Any]:
    attrs = {names.RAG_STAGE: stage, names.RAG_OPERATION_NAME: operation}
    attrs.update(kwargs.pop("attrs", {}))
    return span(
        trace, span_id, f"{stage} {operation}", start, start + round(seconds * 1e9),
        attrs=attrs, **kwargs,
    )  # fmt: skip


def spans_line(run: str | None, spans: Iterable[dict[str, Any]], service: str = "svc") -> str:
    return json.dumps(
        {
            "resourceSpans": [
                {
                    "resource": resource(run, service),
                    "scopeSpans": [{"scope": {"name": "ragsight"}, "spans": list(spans)}],
                }
            ]
        }
    )


def histogram_point(
    values: Sequence[float],
    bounds: Sequence[float],
    attrs: Mapping[str, Any] | None = None,
    *,
    start: int = T0,
    time: int = T0 + 10**9,
    min_max: bool = True,
) -> dict[str, Any]:
    counts = [0] * (len(bounds) + 1)
    for v in values:
        counts[bisect.bisect_left(list(bounds), v)] += 1  # buckets are (lower, upper]
    point: dict[str, Any] = {
        "attributes": attributes(attrs or {}),
        "startTimeUnixNano": str(start),
        "timeUnixNano": str(time),
        "count": str(len(values)),
        "sum": float(sum(values)),
        "bucketCounts": [str(c) for c in counts],
        "explicitBounds": list(bounds),
    }
    if min_max and values:
        point["min"] = float(min(values))
        point["max"] = float(max(values))
    return point


def sum_point(
    value: int, attrs: Mapping[str, Any] | None = None, *, start: int = T0, time: int = T0 + 1
) -> dict[str, Any]:
    return {
        "attributes": attributes(attrs or {}),
        "startTimeUnixNano": str(start),
        "timeUnixNano": str(time),
        "asInt": str(value),
    }


def histogram(name: str, *points: dict[str, Any], temporality: int = CUMULATIVE) -> dict[str, Any]:
    return {
        "name": name,
        "histogram": {"dataPoints": list(points), "aggregationTemporality": temporality},
    }


def counter(name: str, *points: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "sum": {
            "dataPoints": list(points),
            "aggregationTemporality": CUMULATIVE,
            "isMonotonic": True,
        },
    }


def gauge(name: str, *points: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "gauge": {"dataPoints": list(points)}}


def metrics_line(run: str | None, metrics: Iterable[dict[str, Any]], service: str = "svc") -> str:
    return json.dumps(
        {
            "resourceMetrics": [
                {
                    "resource": resource(run, service),
                    "scopeMetrics": [{"scope": {"name": "ragsight"}, "metrics": list(metrics)}],
                }
            ]
        }
    )


def write_lines(path: Path, *lines: str) -> Path:
    """Append lines (each gets its newline) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        for line in lines:
            fh.write(line + "\n")
    return path


def stage_durations(
    stage: str, operation: str, values: Sequence[float], bounds: Sequence[float] | None = None
) -> dict[str, Any]:
    """``rag.operation.duration`` for one stage, from the durations it observed."""
    spec = names.RAG_OPERATION_DURATION
    return histogram(
        spec.name,
        histogram_point(
            values,
            bounds or spec.buckets or (),
            {names.RAG_STAGE: stage, names.RAG_OPERATION_NAME: operation},
        ),
    )
