"""``ragsight report [DIR] -o report.html``: one self-contained HTML file with charts.

The page holds everything it needs: the vendored ECharts build, the page's script and
style, and the data as JSON, all inlined, so it opens from disk with no network access.
Python computes every figure (percentiles per time bin, rates, the breaker's state
timeline, waterfalls); the page only draws them.
"""

from __future__ import annotations

import datetime
import html
import json
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ragsight import names
from ragsight._viewer.reader import Event, Span, all_events, read_directory, unattached_events
from ragsight._viewer.runs import Selection, select
from ragsight._viewer.stats import exact_quantile
from ragsight._viewer.summary import Summary, measured, summarize_selection
from ragsight._viewer.traces import Trace, failing, group, is_failure, slowest
from ragsight._viewer.view import event_details, span_details

TIME_BINS = 40
WATERFALLS = 3  # slowest, and as many failing
SCORE_EDGES = tuple(round(i * 0.05, 2) for i in range(21))  # 0, 0.05, ..., 1.0
BREAKER_STATE_ORDER = (
    names.CB_STATE_CLOSED,
    names.CB_STATE_HALF_OPEN,
    names.CB_STATE_OPEN,
    names.CB_STATE_FORCED_OPEN,
    names.CB_STATE_DISABLED,
    names.CB_STATE_METRICS_ONLY,
)
# The charts the page draws, in order: (element id, title). The browser test checks each.
CHARTS = (
    ("latency", "Latency per stage over time (p50 solid, p95 dashed), ms"),
    ("errors", "Error rate per stage over time"),
    ("cache", "Cache hit rate over time"),
    ("scores", "Retrieval top-score distribution"),
    ("tokens", "Tokens per time bin"),
    ("evaluations", "Evaluation scores"),
    ("breaker", "Circuit breaker state, rejections and retries"),
)


class Bins:
    """``count`` equal time bins over [start, end] (Unix ns); ``at`` is a bin's start, ms."""

    def __init__(self, start: int, end: int, count: int = TIME_BINS) -> None:
        self.start = start
        self.count = count
        self.width = max(1, end - start) / count

    def index(self, t: int) -> int:
        return min(self.count - 1, max(0, int((t - self.start) / self.width)))

    def times(self) -> list[float]:
        """Bin midpoints in Unix milliseconds (what the page's time axis wants)."""
        return [(self.start + (i + 0.5) * self.width) / 1e6 for i in range(self.count)]


def _ms(ns: float) -> float:
    return round(ns / 1e6, 3)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _stage_label(span: Span) -> str:
    return f"{span.stage}/{span.operation or '?'}"


def _latency_and_errors(
    spans: list[Span], bins: Bins
) -> tuple[dict[str, dict[str, list[float | None]]], dict[str, list[float | None]]]:
    durations: dict[str, list[list[float]]] = defaultdict(lambda: [[] for _ in range(bins.count)])
    failures: dict[str, list[int]] = defaultdict(lambda: [0] * bins.count)
    for span in measured(spans):  # a retried call's attempts, as the summary table counts
        if span.stage is None:
            continue
        label = _stage_label(span)
        i = bins.index(span.start)
        durations[label][i].append(span.duration * 1000)
        if is_failure(span):
            failures[label][i] += 1
    latency: dict[str, dict[str, list[float | None]]] = {}
    errors: dict[str, list[float | None]] = {}
    for label in sorted(durations):
        per_bin = [sorted(v) for v in durations[label]]
        latency[label] = {
            q: [round(exact_quantile(v, p), 3) if v else None for v in per_bin]
            for q, p in (("p50", 0.5), ("p95", 0.95))
        }
        errors[label] = [
            round(failures[label][i] / len(v), 4) if v else None for i, v in enumerate(per_bin)
        ]
    return latency, errors


def _cache(spans: list[Span], bins: Bins) -> dict[str, list[float | None]]:
    hits: dict[str, list[int]] = defaultdict(lambda: [0] * bins.count)
    lookups: dict[str, list[int]] = defaultdict(lambda: [0] * bins.count)
    for span in spans:
        result = span.attributes.get(names.RAG_CACHE_RESULT)
        if result not in (names.CACHE_HIT, names.CACHE_MISS):
            continue
        name = str(span.attributes.get(names.RAG_CACHE_NAME, span.operation or "?"))
        i = bins.index(span.start)
        lookups[name][i] += 1
        hits[name][i] += result == names.CACHE_HIT
    # a cumulative hit rate: "the cache warms" reads as a rising line, not noise per bin
    out: dict[str, list[float | None]] = {}
    for name in sorted(lookups):
        seen = hit = 0
        series: list[float | None] = []
        for i in range(bins.count):
            seen += lookups[name][i]
            hit += hits[name][i]
            series.append(round(hit / seen, 4) if seen else None)
        out[name] = series
    return out


def _scores(spans: list[Span]) -> dict[str, list[int]]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * (len(SCORE_EDGES) - 1))
    for span in spans:
        score = span.attributes.get(names.RAG_RETRIEVAL_TOP_SCORE)
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            continue
        if not 0.0 <= score <= 1.0:
            continue  # unbounded scores (BM25, inner product) have no place on a 0..1 axis
        i = min(len(SCORE_EDGES) - 2, int(score / 0.05))
        counts[_stage_label(span)][i] += 1
    return dict(sorted(counts.items()))


def _tokens(spans: list[Span], bins: Bins) -> dict[str, list[int]]:
    out = {"input": [0] * bins.count, "output": [0] * bins.count}
    for span in spans:
        for kind, key in (
            ("input", names.GEN_AI_USAGE_INPUT_TOKENS),
            ("output", names.GEN_AI_USAGE_OUTPUT_TOKENS),
        ):
            value = span.attributes.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                out[kind][bins.index(span.start)] += value
    return out


def _evaluations(events: list[Event]) -> dict[str, list[list[float]]]:
    out: dict[str, list[list[float]]] = defaultdict(list)
    for event in events:
        # a failed evaluation (error.type) is no score, as in rag.evaluation.score
        if (
            event.name != names.EVENT_GEN_AI_EVALUATION_RESULT
            or names.ERROR_TYPE in event.attributes
        ):
            continue
        score = event.attributes.get(names.GEN_AI_EVALUATION_SCORE_VALUE)
        if isinstance(score, (int, float)) and not isinstance(score, bool):
            name = str(event.attributes.get(names.GEN_AI_EVALUATION_NAME, "?"))
            out[name].append([_ms(event.time), round(float(score), 4)])
    return {k: sorted(v) for k, v in sorted(out.items())}


def _breakers(events: list[Event], bins: Bins, end: int) -> dict[str, Any]:
    """Per breaker: its state as steps over time, rejections and retries per bin (from
    span events and the Logs-API events of breakers used outside any span)."""
    changes: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    rejected: dict[str, list[int]] = defaultdict(lambda: [0] * bins.count)
    retries: dict[str, list[int]] = defaultdict(lambda: [0] * bins.count)
    for event in events:
        a = event.attributes
        name = str(a.get(names.RESILIENCE_NAME, "?"))
        if event.name == names.EVENT_CB_STATE_CHANGED:
            changes[name].append(
                (event.time, str(a.get(names.CB_FROM_STATE)), str(a.get(names.CB_TO_STATE)))
            )
        elif event.name == names.EVENT_CB_CALL_REJECTED:
            rejected[name][bins.index(event.time)] += 1
        elif event.name == names.EVENT_RETRY_SCHEDULED:
            source = str(a.get(names.RETRY_DELAY_SOURCE, "backoff"))
            retries[f"{name} ({source})"][bins.index(event.time)] += 1
    states: dict[str, list[list[Any]]] = {}
    for name, moves in sorted(changes.items()):
        moves.sort()
        # explicit corners (the old state, then the new one, at each transition's time)
        steps: list[list[Any]] = [[_ms(bins.start), moves[0][1]]]
        for t, old, new in moves:
            steps.extend(([_ms(t), old], [_ms(t), new]))
        steps.append([_ms(end), moves[-1][2]])
        states[name] = steps
    seen = {s for steps in states.values() for _t, s in steps}
    order = [s for s in BREAKER_STATE_ORDER if s in seen] + sorted(seen - set(BREAKER_STATE_ORDER))
    return {
        "states": states,
        "order": order or [names.CB_STATE_CLOSED],
        "rejected": dict(sorted(rejected.items())),
        "retries": dict(sorted(retries.items())),
    }


def waterfall(trace: Trace, kind: str) -> dict[str, Any]:
    """One trace as rows (indented span labels) with offsets and durations in ms."""
    origin = trace.start
    rows = []
    for depth, node in trace.walk():
        span = node.span
        rows.append(
            {
                "label": "\u2003" * depth + f"{span.stage or '-'} · {span.name}",
                "offset": _ms(span.start - origin),
                "duration": _ms(max(0, span.end - span.start)),
                "failed": is_failure(span),
                "details": span_details(span),
                "events": [
                    {"at": _ms(max(0, e.time - origin)), "text": event_details(e)}
                    for e in sorted(span.events, key=lambda e: e.time)
                ],
            }
        )
    return {
        "kind": kind,
        "trace_id": trace.trace_id,
        "duration": _ms(trace.end - origin),
        "failed": trace.failed,
        "rows": rows,
    }


def _waterfalls(traces: list[Trace]) -> list[dict[str, Any]]:
    slow = slowest(traces, WATERFALLS)
    bad = [t for t in failing(traces, WATERFALLS) if all(t is not s for s in slow)]
    return [waterfall(t, "slowest") for t in slow] + [waterfall(t, "failing") for t in bad]


def _summary_rows(summary: Summary) -> list[dict[str, Any]]:
    def ms(figure: Any) -> float | None:
        return None if figure is None else round(figure.value * 1000, 3)

    return [
        {
            "stage": row.stage,
            "operation": row.operation,
            "calls": row.calls,
            "errors": row.errors,
            "p50": ms(row.latency.p50),
            "p95": ms(row.latency.p95),
            "max": ms(row.latency.maximum),
            "exact": row.latency.exact,
        }
        for row in summary.stages
    ]


def _bounds(selection: Selection) -> tuple[int, int]:
    """The time axis: from the first span's start (or event outside any span) to the last
    span's end (or such event), the run's bounds when it has neither, so the charts' bins
    cover where the data is."""
    spans = selection.recording.spans
    loose = [e.time for e in unattached_events(selection.recording)]
    if spans or loose:
        start = min([*(s.start for s in spans), *loose])
        return start, max([*(s.end for s in spans), *loose, start + 1])
    run = selection.run
    if run is not None and run.start:
        return run.start, max(run.end, run.start + 1)
    return 0, 1


def report_data(selection: Selection) -> dict[str, Any]:
    """Every figure the page draws, as JSON-ready values."""
    recording = selection.recording
    spans = recording.spans
    start, end = _bounds(selection)
    bins = Bins(start, end)
    latency, errors = _latency_and_errors(spans, bins)
    events = all_events(recording)
    summary = summarize_selection(selection)
    services = sorted({s.resource.service for s in spans}) or sorted(
        {p.resource.service for p in recording.points}
    )
    return {
        "directory": str(recording.directory),
        "scope": selection.describe(),
        "runs": [
            {"id": r.id, "start": _ms(r.start), "end": _ms(r.end), "spans": r.spans}
            for r in selection.runs
        ],
        "services": services,
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "start": _ms(start),
        "end": _ms(end),
        "spans": len(spans),
        "traces": len({s.trace_id for s in spans}),
        "skipped": recording.skipped.describe(),
        "charts": [{"id": cid, "title": title} for cid, title in CHARTS],
        "bins": [round(t, 3) for t in bins.times()],
        "latency": latency,
        "errors": errors,
        "cache": _cache(spans, bins),
        "scoreEdges": list(SCORE_EDGES),
        "scores": _scores(spans),
        "tokens": _tokens(spans, bins),
        "evaluations": _evaluations(events),
        "breaker": _breakers(events, bins, end),
        "waterfalls": _waterfalls(group(spans)),
        "summary": _summary_rows(summary),
        "outcomes": _outcomes(summary),
    }


def _outcomes(summary: Summary) -> dict[str, Any]:
    return {
        "breakers": [
            {"name": b.name, "state": b.state, "rejected": b.rejected, "transitions": b.transitions}
            for b in summary.breakers
        ],
        "retries": [
            {
                "name": r.name,
                "retries": r.retries,
                "waits": r.delay_sources,
                "gaveUp": r.give_ups,
            }
            for r in summary.retries
        ],
        "cache": [{"name": c.name, "hits": c.hits, "misses": c.misses} for c in summary.cache],
        "tokens": [
            {"model": t.model, "calls": t.calls, "input": t.input, "output": t.output}
            for t in summary.tokens
        ],
    }


def _clean(node: Any) -> Any:
    """JSON has no NaN or Infinity: they become null."""
    if isinstance(node, float):
        return _finite(node)
    if isinstance(node, Mapping):
        return {str(k): _clean(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_clean(v) for v in node]
    return node


def script_json(data: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&``."""
    text = json.dumps(_clean(data), separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _asset(name: str) -> str:
    return resources.files("ragsight._viewer").joinpath("assets", name).read_text("utf-8")


def render_html(data: Mapping[str, Any]) -> str:
    """The page: the template with style, ECharts, the data and the page script inlined."""
    title = f"ragsight report: {data.get('scope', '')}"
    pieces = {
        "{{TITLE}}": html.escape(title),
        "{{STYLE}}": _asset("report.css"),
        "{{ECHARTS}}": _asset("echarts.min.js"),
        "{{DATA}}": script_json(data),
        "{{APP}}": _asset("report.js"),
    }
    page = _asset("report.html")
    for marker, text in pieces.items():
        page = page.replace(marker, text.replace("</script", "<\\/script"), 1)
    return page


@dataclass(frozen=True)
class Written:
    path: Path
    bytes: int
    spans: int
    scope: str
    skipped: str


def write_report(
    directory: str | Path,
    output: str | Path,
    run: str | None = None,
    *,
    all_runs: bool = False,
) -> Written:
    """Read ``directory``, write the report of its latest run (or ``run``, or all) to
    ``output``. Raises RunError for a bad ``run`` and OSError when ``output`` cannot be
    written."""
    selection = select(read_directory(directory), run, all_runs=all_runs)
    data = report_data(selection)
    page = render_html(data)
    path = Path(output)
    path.write_text(page, encoding="utf-8")
    return Written(
        path, len(page.encode("utf-8")), len(selection.recording.spans), data["scope"],
        data["skipped"],
    )  # fmt: skip
