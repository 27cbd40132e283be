"""``ragsight summary [DIR]``: the figures a RAG engineer looks for first, for one run.

Counts (calls, errors, tokens, cache lookups, retries, transitions) come from the metric
files, because metrics stay exact when traces are sampled; percentiles come from the span
durations and attributes when every call has its span, and from the histogram buckets
otherwise, inside the recorded minimum and maximum (:mod:`ragsight._viewer.stats`).
One run at a time: the latest unless asked (:mod:`ragsight._viewer.runs`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ragsight import names
from ragsight._viewer.console import figure, number
from ragsight._viewer.metrics import MetricTotals
from ragsight._viewer.reader import Event, Recording, Span, all_events, read_directory
from ragsight._viewer.runs import Selection, select
from ragsight._viewer.stats import Distribution, Stats, describe

Pair = tuple[str, str]
K = TypeVar("K")


@dataclass
class StageRow:
    stage: str
    operation: str
    calls: int
    errors: int
    latency: Stats  # seconds

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0


@dataclass
class TokenRow:
    model: str
    calls: int
    input: int
    output: int


@dataclass
class CacheRow:
    name: str
    hits: int
    misses: int
    errors: int

    @property
    def hit_rate(self) -> float | None:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else None


@dataclass
class BreakerRow:
    name: str
    state: str | None  # at the end of the run
    transitions: dict[str, int] = field(default_factory=dict)  # "closed -> open": n
    calls: dict[str, int] = field(default_factory=dict)  # outcome: n

    @property
    def rejected(self) -> int:
        return self.calls.get("rejected", 0)


@dataclass
class RetryRow:
    name: str
    retries: int = 0  # retries scheduled
    delay_sources: dict[str, int] = field(default_factory=dict)  # backoff / retry_after: n
    outcomes: dict[str, int] = field(default_factory=dict)
    give_ups: dict[str, int] = field(default_factory=dict)  # stop reason: n


@dataclass
class Summary:
    directory: Path
    scope: str  # which run(s): Selection.describe()
    stages: list[StageRow] = field(default_factory=list)
    tokens: list[TokenRow] = field(default_factory=list)
    scores: dict[str, Stats] = field(default_factory=dict)  # "stage/operation": top 0..1 scores
    distances: dict[str, Stats] = field(default_factory=dict)  # smallest distance per result set
    unbounded: dict[str, Stats] = field(default_factory=dict)  # top open-scale (BM25) scores
    time_to_first_chunk: dict[str, Stats] = field(default_factory=dict)  # model: seconds
    cache: list[CacheRow] = field(default_factory=list)
    evaluations: dict[str, Stats] = field(default_factory=dict)
    breakers: list[BreakerRow] = field(default_factory=list)
    retries: list[RetryRow] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    spans: int = 0
    log_records: int = 0
    files: int = 0
    skipped: str = ""

    def stage(self, stage: str, operation: str) -> StageRow | None:
        return next((r for r in self.stages if (r.stage, r.operation) == (stage, operation)), None)


def _text(value: Any, default: str = "?") -> str:
    return value if isinstance(value, str) else default


def _number(value: Any) -> float | None:
    """A finite number, else None: a NaN or infinite score or token count is no figure
    (one NaN made an evaluation's mean, min and percentiles all nan)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _stage_key(attributes: Mapping[str, Any]) -> Pair:
    return (_text(attributes.get(names.RAG_STAGE)), _text(attributes.get(names.RAG_OPERATION_NAME)))


def _spans_by_stage(spans: list[Span]) -> dict[tuple[str, str], list[Span]]:
    out: dict[tuple[str, str], list[Span]] = defaultdict(list)
    for span in spans:
        if span.stage is not None:
            out[(span.stage, span.operation or "?")].append(span)
    return out


def measured(spans: list[Span]) -> list[Span]:
    """The spans the duration metric counts: a retried call's attempts, not the call around them.

    A retried stage has one span for the call and, under it, one span per attempt carrying
    ``resilience.retry.attempt``; ``rag.operation.duration`` records each attempt, so the
    summary counts the same way whether it reads the metric or falls back to the spans.
    """
    stage_of = {s.span_id: (s.stage, s.operation) for s in spans}
    wrappers = {
        s.parent_id
        for s in spans
        if s.parent_id is not None
        and names.RETRY_ATTEMPT in s.attributes
        and stage_of.get(s.parent_id) == (s.stage, s.operation)
    }
    return [s for s in spans if s.span_id not in wrappers]


def _stages(totals: MetricTotals, by_stage: dict[tuple[str, str], list[Span]]) -> list[StageRow]:
    spec = names.RAG_OPERATION_DURATION.name
    dists = totals.distributions(spec, _stage_key)
    errors: dict[Pair, int] = defaultdict(int)
    for point in totals.points(spec):
        if point.attributes.get(names.ERROR_TYPE):
            errors[_stage_key(point.attributes)] += point.count
    rows = []
    for key in sorted({*dists, *by_stage}):
        stage, operation = key
        spans = by_stage.get(key, [])
        dist = dists.get(key)
        if dist is not None and dist.count:
            calls, failed = dist.count, errors.get(key, 0)
        else:  # no metrics (export failed, or not collected yet): the spans are all we have
            calls = len(spans)
            failed = sum(1 for s in spans if s.failed or s.attributes.get(names.ERROR_TYPE))
        latency = describe([s.duration for s in spans], dist)
        rows.append(StageRow(stage, operation, calls, failed, latency))
    return rows


# Token usage as each conventions mode records it (a process emits one mode; a directory of
# runs may hold both): v1.41.0's one histogram split by gen_ai.token.type, and the latest
# mode's per-operation histograms, one per direction (its usage counters also count calls
# that reported no usage, so the histograms give the calls that did).
_TOKENS_LATEST: tuple[tuple[tuple[str, str], ...], ...] = (
    (
        (names.GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS.name, names.TOKEN_TYPE_INPUT),
        (names.GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS.name, names.TOKEN_TYPE_OUTPUT),
    ),
    ((names.GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS.name, names.TOKEN_TYPE_INPUT),),
)
_TTFC = (
    names.GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK.name,
    names.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK.name,
)


def _model(a: Mapping[str, Any]) -> str:
    """The model asked for, else the one that answered (a call whose arguments the stage
    did not see, e.g. ``client.chat.completions.create`` inside the decorated function)."""
    return _text(a.get(names.GEN_AI_REQUEST_MODEL) or a.get(names.GEN_AI_RESPONSE_MODEL))


def _distributions(
    totals: MetricTotals, metric_names: tuple[str, ...], key: Callable[[Mapping[str, Any]], K]
) -> dict[K, Distribution]:
    """Histogram points of several names (one per conventions mode) added up per key."""
    out: dict[K, Distribution] = {}
    for name in metric_names:
        for point in totals.points(name):
            out.setdefault(key(point.attributes), Distribution()).add(point)
    return out


def _token_metrics(totals: MetricTotals) -> dict[str, TokenRow]:
    """Per model; each source's calls are its busiest direction's, sources add up."""
    per_model: dict[str, TokenRow] = {}
    sources: list[list[tuple[str, str, Distribution]]] = []

    def model_type(a: Mapping[str, Any]) -> Pair:
        return (_model(a), _text(a.get(names.GEN_AI_TOKEN_TYPE)))

    old = totals.distributions(names.GEN_AI_CLIENT_TOKEN_USAGE.name, model_type)
    sources.append([(model, kind, dist) for (model, kind), dist in old.items()])
    for metrics in _TOKENS_LATEST:  # one source: the same calls, one histogram per direction
        source = []
        for name, kind in metrics:
            dists = totals.distributions(name, _model)
            source += [(model, kind, dist) for model, dist in dists.items()]
        sources.append(source)
    for source in sources:
        calls: dict[str, int] = {}
        for model, kind, dist in source:
            row = per_model.setdefault(model, TokenRow(model, 0, 0, 0))
            calls[model] = max(calls.get(model, 0), dist.count)
            if kind == names.TOKEN_TYPE_INPUT:
                row.input += round(dist.total)
            elif kind == names.TOKEN_TYPE_OUTPUT:
                row.output += round(dist.total)
        for model, n in calls.items():
            per_model[model].calls += n
    return per_model


def _tokens(totals: MetricTotals, spans: list[Span]) -> list[TokenRow]:
    per_model = _token_metrics(totals)
    if per_model:
        return [per_model[m] for m in sorted(per_model)]
    for span in spans:  # no token metric: read the spans
        tokens_in = _number(span.attributes.get(names.GEN_AI_USAGE_INPUT_TOKENS))
        tokens_out = _number(span.attributes.get(names.GEN_AI_USAGE_OUTPUT_TOKENS))
        if tokens_in is None and tokens_out is None:
            continue
        model = _model(span.attributes)
        row = per_model.setdefault(model, TokenRow(model, 0, 0, 0))
        row.calls += 1
        row.input += round(tokens_in or 0)
        row.output += round(tokens_out or 0)
    return [per_model[m] for m in sorted(per_model)]


def _span_values(spans: list[Span], attribute: str) -> list[float]:
    out = []
    for span in spans:
        value = _number(span.attributes.get(attribute))
        if value is not None:
            out.append(value)
    return out


def _per_result_set(
    totals: MetricTotals,
    by_stage: dict[tuple[str, str], list[Span]],
    metric: str,
    attribute: str,
) -> dict[str, Stats]:
    """One figure per result set (its histogram ``metric``, its span ``attribute``), per stage."""
    dists = totals.distributions(metric, _stage_key)
    out = {}
    keys = {*dists, *(k for k, v in by_stage.items() if _span_values(v, attribute))}
    for key in sorted(keys):
        stage, operation = key
        values = _span_values(by_stage.get(key, []), attribute)
        out[f"{stage}/{operation}"] = describe(values, dists.get(key))
    return out


def _scores(totals: MetricTotals, by_stage: dict[tuple[str, str], list[Span]]) -> dict[str, Stats]:
    return _per_result_set(
        totals, by_stage, names.RAG_RETRIEVAL_SCORE.name, names.RAG_RETRIEVAL_TOP_SCORE
    )


def _distances(
    totals: MetricTotals, by_stage: dict[tuple[str, str], list[Span]]
) -> dict[str, Stats]:
    return _per_result_set(
        totals, by_stage, names.RAG_RETRIEVAL_DISTANCE.name, names.RAG_RETRIEVAL_DISTANCE_BEST
    )


def _unbounded(
    totals: MetricTotals, by_stage: dict[tuple[str, str], list[Span]]
) -> dict[str, Stats]:
    return _per_result_set(
        totals,
        by_stage,
        names.RAG_RETRIEVAL_SCORE_UNBOUNDED.name,
        names.RAG_RETRIEVAL_UNBOUNDED_TOP,
    )


def _time_to_first_chunk(totals: MetricTotals, spans: list[Span]) -> dict[str, Stats]:
    dists = _distributions(totals, _TTFC, _model)
    values: dict[str, list[float]] = defaultdict(list)
    for span in spans:
        ttfc = _number(span.attributes.get(names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK))
        if ttfc is not None:
            values[_model(span.attributes)].append(ttfc)
    return {k: describe(values.get(k, []), dists.get(k)) for k in sorted({*dists, *values})}


def _cache(totals: MetricTotals) -> list[CacheRow]:
    def key(a: Mapping[str, Any]) -> Pair:
        return (_text(a.get(names.RAG_CACHE_NAME)), _text(a.get(names.RAG_CACHE_RESULT)))

    counts = totals.sums(names.RAG_CACHE_REQUESTS.name, key)
    rows: dict[str, CacheRow] = {}
    for (name, result), n in counts.items():
        row = rows.setdefault(name, CacheRow(name, 0, 0, 0))
        if result == names.CACHE_HIT:
            row.hits += round(n)
        elif result == names.CACHE_MISS:
            row.misses += round(n)
        elif result == names.CACHE_ERROR:
            row.errors += round(n)
    return [rows[k] for k in sorted(rows)]


def _evaluations(totals: MetricTotals, events: list[Event]) -> dict[str, Stats]:
    def name(a: Mapping[str, Any]) -> str:
        return _text(a.get(names.GEN_AI_EVALUATION_NAME))

    dists = totals.distributions(names.RAG_EVALUATION_SCORE.name, name)
    values: dict[str, list[float]] = defaultdict(list)
    for event in events:
        # a failed evaluation (error.type) is no score, as in rag.evaluation.score
        if (
            event.name == names.EVENT_GEN_AI_EVALUATION_RESULT
            and names.ERROR_TYPE not in event.attributes
        ):
            score = _number(event.attributes.get(names.GEN_AI_EVALUATION_SCORE_VALUE))
            if score is not None:
                values[name(event.attributes)].append(score)
    return {k: describe(values.get(k, []), dists.get(k)) for k in sorted({*dists, *values})}


def _last_states(events: list[Event]) -> dict[str, str]:
    """Each breaker's state after its last ``state_changed`` event (on a span, or a
    Logs-API event no span in the files carries)."""
    last: dict[str, tuple[int, str]] = {}
    for event in events:
        if event.name != names.EVENT_CB_STATE_CHANGED:
            continue
        name = _text(event.attributes.get(names.RESILIENCE_NAME))
        if event.time >= last.get(name, (-1, ""))[0]:
            last[name] = (event.time, _text(event.attributes.get(names.CB_TO_STATE)))
    return {name: state for name, (_t, state) in last.items()}


def _breakers(totals: MetricTotals, events: list[Event]) -> list[BreakerRow]:
    """Per breaker: its state at the end (state gauge, else its last transition event),
    transitions and calls by outcome."""
    rows: dict[str, BreakerRow] = {}

    def row(name: str) -> BreakerRow:
        return rows.setdefault(name, BreakerRow(name, None))

    latest: dict[str, int] = {}
    for point in totals.points(names.CB_STATE_METRIC.name):
        name = _text(point.attributes.get(names.RESILIENCE_NAME))
        r = row(name)
        if point.value == 1 and point.time >= latest.get(name, -1):
            latest[name] = point.time
            r.state = _text(point.attributes.get(names.CB_STATE))

    def transition(a: Mapping[str, Any]) -> Pair:
        return (
            _text(a.get(names.RESILIENCE_NAME)),
            f"{_text(a.get(names.CB_FROM_STATE))} -> {_text(a.get(names.CB_TO_STATE))}",
        )

    for (name, label), n in totals.sums(names.CB_TRANSITIONS.name, transition).items():
        transitions = row(name).transitions
        transitions[label] = transitions.get(label, 0) + round(n)

    def outcome(a: Mapping[str, Any]) -> Pair:
        return (_text(a.get(names.RESILIENCE_NAME)), _text(a.get(names.CB_OUTCOME)))

    for (name, result), n in totals.sums(names.CB_CALLS.name, outcome).items():
        if n:
            calls = row(name).calls
            calls[result] = calls.get(result, 0) + round(n)
    for name, state in _last_states(events).items():
        if name in rows and rows[name].state is None:
            rows[name].state = state
    return [rows[k] for k in sorted(rows)]


def _retries(totals: MetricTotals) -> list[RetryRow]:
    rows: dict[str, RetryRow] = {}

    def row(name: str) -> RetryRow:
        return rows.setdefault(name, RetryRow(name))

    def by(attribute: str) -> Callable[[Mapping[str, Any]], Pair]:
        def key(a: Mapping[str, Any]) -> Pair:
            return (_text(a.get(names.RESILIENCE_NAME)), _text(a.get(attribute)))

        return key

    def by_name(a: Mapping[str, Any]) -> str:
        return _text(a.get(names.RESILIENCE_NAME))

    for name, n in totals.sums(names.RETRY_ATTEMPTS.name, by_name).items():
        row(name).retries += round(n)
    for (name, source), dist in totals.distributions(
        names.RETRY_DELAY.name, by(names.RETRY_DELAY_SOURCE)
    ).items():
        row(name).delay_sources[source] = dist.count
    for (name, result), n in totals.sums(names.RETRY_CALLS.name, by(names.RETRY_OUTCOME)).items():
        if n:
            row(name).outcomes[result] = round(n)
    for (name, stop), n in totals.sums(
        names.RETRY_GIVE_UPS.name, by(names.RETRY_STOP_REASON)
    ).items():
        give_ups = row(name).give_ups
        give_ups[stop] = give_ups.get(stop, 0) + round(n)
    return [rows[k] for k in sorted(rows)]


def summarize_selection(selection: Selection) -> Summary:
    """The summary of the run (or runs) ``selection`` holds."""
    recording: Recording = selection.recording
    totals = MetricTotals(recording.points)
    spans = recording.spans
    by_stage = _spans_by_stage(spans)
    events = all_events(recording)

    def signal(a: Mapping[str, Any]) -> str:
        return _text(a.get(names.RAGSIGHT_SIGNAL))

    dropped = totals.sums(names.RAGSIGHT_EXPORT_DROPPED.name, signal)
    return Summary(
        directory=recording.directory,
        scope=selection.describe(),
        stages=_stages(totals, _spans_by_stage(measured(spans))),
        tokens=_tokens(totals, spans),
        scores=_scores(totals, by_stage),
        distances=_distances(totals, by_stage),
        unbounded=_unbounded(totals, by_stage),
        time_to_first_chunk=_time_to_first_chunk(totals, spans),
        cache=_cache(totals),
        evaluations=_evaluations(totals, events),
        breakers=_breakers(totals, events),
        retries=_retries(totals),
        dropped={k: round(v) for k, v in dropped.items() if v},
        spans=len(spans),
        log_records=len(recording.logs),
        files=len(recording.files),
        skipped=recording.skipped.describe(),
    )


def summarize(directory: str | Path, run: str | None = None, *, all_runs: bool = False) -> Summary:
    """Read ``directory`` and summarise its latest run (or ``run``, or every run).

    Raises RunError when ``run`` names no run or several.
    """
    return summarize_selection(select(read_directory(directory), run, all_runs=all_runs))


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------
TEXT_COLUMNS = frozenset({"state now", "transitions", "waits", "outcomes", "gave up"})


def _table(title: str, *columns: str) -> Table:
    """Names on the left, numbers on the right."""
    table = Table(title=title, title_justify="left", title_style="bold", show_edge=False)
    for i, column in enumerate(columns):
        left = i == 0 or column in TEXT_COLUMNS
        table.add_column(column, justify="left" if left else "right", no_wrap=i == 0)
    return table


def _stats_cells(stats: Stats, scale: float = 1.0, digits: int = 1) -> list[str]:
    mean = None if stats.mean is None else stats.mean * scale
    return [
        str(stats.count),
        number(mean, digits),
        figure(stats.minimum, scale, digits),
        figure(stats.p50, scale, digits),
        figure(stats.p95, scale, digits),
        figure(stats.maximum, scale, digits),
    ]


STATS_COLUMNS = ("count", "mean", "min", "p50", "p95", "max")


def render(summary: Summary) -> RenderableType:
    """The summary as rich tables (stages first, then what a RAG engineer checks next)."""
    if summary.files == 0:
        return Text(
            f"no telemetry files in {summary.directory} (run `ragsight demo`, or an app with "
            f"ragsight.configure() and no OTLP endpoint)"
        )
    parts: list[RenderableType] = [
        Text(
            f"ragsight summary of {summary.directory}, {summary.scope}: "
            f"{summary.spans} spans, {summary.log_records} log records",
            style="bold",
        )
    ]
    stages = _table("stages (ms)", "stage / operation", "calls", "errors", "p50", "p95", "max")
    for row in summary.stages:
        stages.add_row(
            f"{row.stage} / {row.operation}",
            str(row.calls),
            f"{row.errors} ({row.error_rate:.1%})" if row.errors else "0",
            figure(row.latency.p50, 1000),
            figure(row.latency.p95, 1000),
            figure(row.latency.maximum, 1000),
        )
    parts.append(stages if summary.stages else Text("(no stage telemetry)"))
    if any(not row.latency.exact for row in summary.stages):
        parts.append(Text("~ estimated from histogram buckets (not every call has its span)"))
    if summary.tokens:
        tokens = _table("tokens", "model", "calls", "in", "out", "in/call", "out/call")
        for t in summary.tokens:
            per = max(t.calls, 1)
            tokens.add_row(
                t.model, str(t.calls), str(t.input), str(t.output),
                f"{t.input / per:.1f}", f"{t.output / per:.1f}",
            )  # fmt: skip
        parts.append(tokens)
    for title, figures in (
        ("retrieval top score (similarity, 0..1)", summary.scores),
        ("retrieval best distance (lower is better)", summary.distances),
        ("retrieval top score (unbounded: BM25, inner product)", summary.unbounded),
    ):
        if figures:
            table = _table(title, "stage / operation", *STATS_COLUMNS)
            for key, stats in figures.items():
                table.add_row(key.replace("/", " / ", 1), *_stats_cells(stats, digits=3))
            parts.append(table)
    if summary.time_to_first_chunk:
        ttfc = _table("time to first chunk (ms)", "model", *STATS_COLUMNS)
        for model, stats in summary.time_to_first_chunk.items():
            ttfc.add_row(model, *_stats_cells(stats, 1000))
        parts.append(ttfc)
    if summary.cache:
        cache = _table("cache", "cache", "hits", "misses", "errors", "hit rate")
        for c in summary.cache:
            rate = c.hit_rate
            cache.add_row(
                c.name, str(c.hits), str(c.misses), str(c.errors),
                "-" if rate is None else f"{rate:.1%}",
            )  # fmt: skip
        parts.append(cache)
    if summary.evaluations:
        evaluations = _table("evaluations", "evaluation", *STATS_COLUMNS)
        for name, stats in summary.evaluations.items():
            evaluations.add_row(name, *_stats_cells(stats, digits=3))
        parts.append(evaluations)
    if summary.breakers:
        breakers = _table("circuit breakers", "breaker", "state now", "rejected", "transitions")
        for b in summary.breakers:
            moves = ", ".join(f"{k}: {v}" for k, v in sorted(b.transitions.items())) or "-"
            breakers.add_row(b.name, b.state or "?", str(b.rejected), moves)
        parts.append(breakers)
    if summary.retries:
        retries = _table("retries", "policy", "retries", "waits", "outcomes", "gave up")
        for r in summary.retries:
            retries.add_row(
                r.name,
                str(r.retries),
                ", ".join(f"{k}: {v}" for k, v in sorted(r.delay_sources.items())) or "-",
                ", ".join(f"{k}: {v}" for k, v in sorted(r.outcomes.items())) or "-",
                ", ".join(f"{k}: {v}" for k, v in sorted(r.give_ups.items())) or "0",
            )
        parts.append(retries)
    if summary.dropped:
        lost = ", ".join(f"{k}={v}" for k, v in sorted(summary.dropped.items()))
        parts.append(Text(f"dropped telemetry: {lost}", style="yellow"))
    if summary.skipped:
        parts.append(Text(summary.skipped, style="yellow"))
    return Group(*_spaced(parts))


def _spaced(parts: list[RenderableType]) -> list[RenderableType]:
    out: list[RenderableType] = []
    for part in parts:
        if out:
            out.append(Text(""))
        out.append(part)
    return out
