"""``ragsight summary [DIR]``: what the embedded file sink recorded, in a terminal table.

Read from the metrics files, not the spans, because metrics stay exact when traces are
sampled. Metric points are cumulative: for each series (resource, metric, attributes,
start time) only the latest point counts, then series are added up, so a process that
exported a hundred times is not counted a hundred times and several processes (or
restarts) writing to one directory add up. Percentiles are interpolated within the
explicit buckets, like Prometheus's ``histogram_quantile``, so they match the dashboards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragsight import names

_DELTA = 1  # AggregationTemporality.DELTA in OTLP


def _value(v: dict[str, Any]) -> Any:
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    if "intValue" in v:
        return int(v["intValue"])
    return None


def _attrs(items: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {kv["key"]: _value(kv.get("value", {})) for kv in items or ()}


@dataclass
class Histogram:
    count: int = 0
    total: float = 0.0
    bounds: tuple[float, ...] = ()
    buckets: list[int] = field(default_factory=list)

    def add(self, point: dict[str, Any]) -> None:
        bounds = tuple(float(b) for b in point.get("explicitBounds", ()))
        counts = [int(c) for c in point.get("bucketCounts", ())]
        self.count += int(point.get("count", 0))
        self.total += float(point.get("sum", 0.0))
        if not self.buckets:
            self.bounds, self.buckets = bounds, counts
        elif bounds == self.bounds and len(counts) == len(self.buckets):
            self.buckets = [a + b for a, b in zip(self.buckets, counts, strict=True)]

    def quantile(self, q: float) -> float | None:
        """Linear interpolation inside the bucket holding the q-th observation."""
        if self.count == 0 or not self.buckets:
            return None
        rank = q * self.count
        seen = 0
        for i, n in enumerate(self.buckets):
            if n and seen + n >= rank:
                lower = 0.0 if i == 0 else self.bounds[i - 1]
                if i >= len(self.bounds):  # the +Inf bucket: report its lower bound
                    return lower
                upper = self.bounds[i]
                return lower + (upper - lower) * (rank - seen) / n
            seen += n
        return self.bounds[-1] if self.bounds else None

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None


@dataclass
class StageRow:
    stage: str
    operation: str
    calls: Histogram = field(default_factory=Histogram)
    errors: int = 0

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls.count if self.calls.count else 0.0


@dataclass
class Summary:
    stages: dict[tuple[str, str], StageRow] = field(default_factory=dict)
    cache: dict[str, dict[str, int]] = field(default_factory=dict)
    evaluations: dict[str, Histogram] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    give_ups: int = 0
    breaker_transitions: dict[str, int] = field(default_factory=dict)  # "name: from->to"
    spans: int = 0
    log_records: int = 0
    files: int = 0

    def cache_hit_rate(self, name: str) -> float | None:
        counts = self.cache.get(name, {})
        lookups = counts.get(names.CACHE_HIT, 0) + counts.get(names.CACHE_MISS, 0)
        return counts.get(names.CACHE_HIT, 0) / lookups if lookups else None


def _latest_points(lines: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], str]]:
    """(metric name, point, kind): latest cumulative point per series, every delta point."""
    latest: dict[tuple[Any, ...], tuple[int, str, dict[str, Any], str]] = {}
    deltas: list[tuple[str, dict[str, Any], str]] = []
    for request in lines:
        for rm in request.get("resourceMetrics", ()):
            resource = json.dumps(rm.get("resource", {}).get("attributes", []), sort_keys=True)
            for sm in rm.get("scopeMetrics", ()):
                for metric in sm.get("metrics", ()):
                    for kind in ("histogram", "sum", "gauge"):
                        if kind in metric:
                            break
                    else:
                        continue
                    data = metric[kind]
                    for point in data.get("dataPoints", ()):
                        if data.get("aggregationTemporality") == _DELTA:
                            deltas.append((metric["name"], point, kind))
                            continue
                        key = (
                            resource,
                            metric["name"],
                            json.dumps(point.get("attributes", []), sort_keys=True),
                            point.get("startTimeUnixNano"),
                        )
                        t = int(point.get("timeUnixNano", 0))
                        if key not in latest or latest[key][0] <= t:
                            latest[key] = (t, metric["name"], point, kind)
    return [(n, p, k) for _t, n, p, k in latest.values()] + deltas


def _read_lines(path: Path) -> list[dict[str, Any]]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a crash or a full disk
    return out


def summarize(directory: str | Path) -> Summary:
    summary = Summary()
    metric_lines: list[dict[str, Any]] = []
    for path in sorted(Path(directory).glob("*.jsonl")):
        summary.files += 1
        for request in _read_lines(path):
            if "resourceMetrics" in request:
                metric_lines.append(request)
            for rs in request.get("resourceSpans", ()):
                for ss in rs.get("scopeSpans", ()):
                    summary.spans += len(ss.get("spans", ()))
            for rl in request.get("resourceLogs", ()):
                for sl in rl.get("scopeLogs", ()):
                    summary.log_records += len(sl.get("logRecords", ()))

    for name, point, _kind in _latest_points(metric_lines):
        attributes = _attrs(point.get("attributes"))
        if name == names.RAG_OPERATION_DURATION.name:
            key = (
                str(attributes.get(names.RAG_STAGE, "?")),
                str(attributes.get(names.RAG_OPERATION_NAME, "?")),
            )
            row = summary.stages.setdefault(key, StageRow(*key))
            row.calls.add(point)
            if attributes.get(names.ERROR_TYPE):
                row.errors += int(point.get("count", 0))
        elif name == names.RAG_CACHE_REQUESTS.name:
            cache = summary.cache.setdefault(str(attributes.get(names.RAG_CACHE_NAME, "?")), {})
            result = str(attributes.get(names.RAG_CACHE_RESULT, "?"))
            cache[result] = cache.get(result, 0) + int(point.get("asInt", 0))
        elif name == names.RAG_EVALUATION_SCORE.name:
            label = str(attributes.get(names.GEN_AI_EVALUATION_NAME, "?"))
            summary.evaluations.setdefault(label, Histogram()).add(point)
        elif name == names.RETRY_ATTEMPTS.name:
            summary.retries += int(point.get("asInt", 0))
        elif name == names.RETRY_GIVE_UPS.name:
            summary.give_ups += int(point.get("asInt", 0))
        elif name == names.CB_TRANSITIONS.name:
            label = (
                f"{attributes.get(names.RESILIENCE_NAME, '?')}: "
                f"{attributes.get(names.CB_FROM_STATE, '?')} -> "
                f"{attributes.get(names.CB_TO_STATE, '?')}"
            )
            count = int(point.get("asInt", 0))
            summary.breaker_transitions[label] = summary.breaker_transitions.get(label, 0) + count
        elif name == names.RAGSIGHT_EXPORT_DROPPED.name:
            signal = str(attributes.get(names.RAGSIGHT_SIGNAL, "?"))
            summary.dropped[signal] = summary.dropped.get(signal, 0) + int(point.get("asInt", 0))
    return summary


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def render(summary: Summary, directory: str | Path) -> str:
    if summary.files == 0:
        return (
            f"no telemetry files in {directory} (run `ragsight demo`, or an app with "
            f"ragsight.configure() and no OTLP endpoint)"
        )
    out = [
        f"ragsight summary of {directory}: {summary.spans} spans, {summary.log_records} log records"
    ]
    out.append("")
    header = (
        f"{'stage':<11} {'operation':<28} {'calls':>7} {'p50 ms':>9} {'p95 ms':>9} {'errors':>7}"
    )
    out.append(header)
    out.append("-" * len(header))
    for (stage, op), row in sorted(summary.stages.items()):
        out.append(
            f"{stage:<11} {op[:28]:<28} {row.calls.count:>7} {_ms(row.calls.quantile(0.5)):>9} "
            f"{_ms(row.calls.quantile(0.95)):>9} {row.error_rate:>6.1%}"
        )
    if not summary.stages:
        out.append("(no stage metrics)")
    if summary.cache:
        out.append("")
        out.append(f"{'cache':<28} {'hits':>7} {'misses':>7} {'errors':>7} {'hit rate':>9}")
        for name, counts in sorted(summary.cache.items()):
            rate = summary.cache_hit_rate(name)
            out.append(
                f"{name[:28]:<28} {counts.get(names.CACHE_HIT, 0):>7} "
                f"{counts.get(names.CACHE_MISS, 0):>7} {counts.get(names.CACHE_ERROR, 0):>7} "
                f"{'-' if rate is None else f'{rate:.1%}':>9}"
            )
    if summary.evaluations:
        out.append("")
        out.append(f"{'evaluation':<28} {'count':>7} {'mean':>7} {'p50':>7}")
        for name, hist in sorted(summary.evaluations.items()):
            mean = hist.mean
            p50 = hist.quantile(0.5)
            out.append(
                f"{name[:28]:<28} {hist.count:>7} {'-' if mean is None else f'{mean:.3f}':>7} "
                f"{'-' if p50 is None else f'{p50:.3f}':>7}"
            )
    if summary.retries or summary.give_ups or summary.breaker_transitions:
        out.append("")
        out.append(f"resilience: {summary.retries} retries, {summary.give_ups} gave up")
        for label, count in sorted(summary.breaker_transitions.items()):
            out.append(f"  breaker {label}: {count}")
    lost = {k: v for k, v in summary.dropped.items() if v}
    if lost:
        out.append("")
        out.append("dropped telemetry: " + ", ".join(f"{k}={v}" for k, v in sorted(lost.items())))
    return "\n".join(out)
