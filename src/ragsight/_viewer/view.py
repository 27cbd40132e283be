"""``ragsight view [DIR]``: traces as trees in the terminal.

Per span: its stage and name, a duration bar on the trace's shared time axis, the
duration, the status and the attributes a RAG engineer reads first (documents, scores,
tokens, model); span events (a retry and its delay, a breaker rejection or transition,
an evaluation, an exception) are rows of their own, with a mark at their time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.bar import Bar
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ragsight import names
from ragsight._viewer.console import milliseconds
from ragsight._viewer.reader import Event, Span, read_directory
from ragsight._viewer.runs import Selection, select
from ragsight._viewer.traces import Trace, group, is_failure, pick

BAR_WIDTH = 24
DEFAULT_LIMIT = 3


@dataclass
class ViewOptions:
    run: str | None = None
    all_runs: bool = False
    trace_id: str | None = None
    stage: str | None = None
    errors_only: bool = False
    limit: int = DEFAULT_LIMIT


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value == value else "nan"
    if isinstance(value, list):
        return ",".join(_short(v) for v in value)
    return str(value)


def span_details(span: Span) -> str:
    """The attributes worth a glance, as ``key value`` pairs."""
    a = span.attributes
    out: list[str] = []

    def add(label: str, key: str, fmt: Callable[[Any], str] = _short) -> None:
        value = a.get(key)
        if value is not None and value != "":
            out.append(f"{label} {fmt(value)}")

    add("model", names.GEN_AI_REQUEST_MODEL)
    if a.get(names.RAG_RERANK_CANDIDATE_COUNT) is not None:
        out.append(
            f"docs {_short(a.get(names.RAG_RERANK_CANDIDATE_COUNT))}"
            f"→{_short(a.get(names.RAG_RETRIEVAL_DOCUMENTS_COUNT, '?'))}"
        )
    else:
        add("docs", names.RAG_RETRIEVAL_DOCUMENTS_COUNT)
    add("top", names.RAG_RETRIEVAL_TOP_SCORE)
    add("mean", names.RAG_RETRIEVAL_MEAN_SCORE)
    if a.get(names.GEN_AI_USAGE_INPUT_TOKENS) is not None or a.get(
        names.GEN_AI_USAGE_OUTPUT_TOKENS
    ):
        out.append(
            f"tokens {_short(a.get(names.GEN_AI_USAGE_INPUT_TOKENS, '?'))}"
            f"/{_short(a.get(names.GEN_AI_USAGE_OUTPUT_TOKENS, '?'))}"
        )
    add("ttfc", names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, lambda v: milliseconds(float(v)))
    add("cache", names.RAG_CACHE_RESULT)
    attempts = a.get(names.RETRY_ATTEMPT)
    if isinstance(attempts, int) and attempts > 1:
        out.append(f"attempts {attempts}")
    add("error", names.ERROR_TYPE, lambda v: str(v).rsplit(".", 1)[-1])
    if span.status_message:
        out.append(repr(span.status_message[:60]))
    return "  ".join(out)


def _seconds(value: Any) -> str:
    return milliseconds(float(value)) if isinstance(value, (int, float)) else "?"


def event_details(event: Event) -> str:
    """One line per event kind ragsight emits; other events show their name."""
    a: Mapping[str, Any] = event.attributes
    name = event.name
    if name == names.EVENT_RETRY_SCHEDULED:
        error = str(a.get(names.ERROR_TYPE, "?")).rsplit(".", 1)[-1]
        return (
            f"retry {a.get(names.RETRY_ATTEMPT, '?')} scheduled in "
            f"{_seconds(a.get(names.RETRY_DELAY_S))} "
            f"({a.get(names.RETRY_DELAY_SOURCE, '?')}) after {error}"
        )
    if name == names.EVENT_RETRY_GAVE_UP:
        return f"retry gave up: {a.get(names.RETRY_STOP_REASON, '?')}"
    if name == names.EVENT_CB_STATE_CHANGED:
        return (
            f"breaker {a.get(names.RESILIENCE_NAME, '?')}: {a.get(names.CB_FROM_STATE, '?')} → "
            f"{a.get(names.CB_TO_STATE, '?')} ({a.get(names.CB_REASON, '?')})"
        )
    if name == names.EVENT_CB_CALL_REJECTED:
        wait = a.get(names.CB_RETRY_AFTER_S)
        after = f", probe in {_seconds(wait)}" if wait is not None else ""
        return (
            f"breaker {a.get(names.RESILIENCE_NAME, '?')} rejected the call "
            f"({a.get(names.CB_STATE, '?')}{after})"
        )
    if name == names.EVENT_GEN_AI_EVALUATION_RESULT:
        label = a.get(names.GEN_AI_EVALUATION_SCORE_LABEL)
        failed = a.get(names.ERROR_TYPE)
        return (
            f"{a.get(names.GEN_AI_EVALUATION_NAME, '?')} = "
            f"{_short(a.get(names.GEN_AI_EVALUATION_SCORE_VALUE, '?'))}"
            + (f" ({label})" if label else "")
            + (f" failed: {failed}" if failed else "")
        )
    if name == names.EVENT_EXCEPTION:
        kind = str(a.get(names.EXCEPTION_TYPE, "?")).rsplit(".", 1)[-1]
        return f"{kind}: {str(a.get(names.EXCEPTION_MESSAGE, ''))[:60]}"
    if name == names.EVENT_CACHE_LOOKUP:
        return f"{a.get(names.RAG_CACHE_RESULT, '?')}"
    return name


EVENT_LABELS = {
    names.EVENT_RETRY_SCHEDULED: "retry",
    names.EVENT_RETRY_GAVE_UP: "gave up",
    names.EVENT_RETRY_NESTED: "nested retry",
    names.EVENT_CB_STATE_CHANGED: "breaker",
    names.EVENT_CB_CALL_REJECTED: "rejected",
    names.EVENT_GEN_AI_EVALUATION_RESULT: "evaluation",
    names.EVENT_EXCEPTION: "exception",
    names.EVENT_CACHE_LOOKUP: "cache",
    names.EVENT_BATCH_ITEM_FAILED: "item failed",
    names.EVENT_GEN_AI_INFERENCE_DETAILS: "content",
    names.EVENT_RAG_RETRIEVAL_DETAILS: "documents",
    names.EVENT_RAG_CONTENT: "content",
}


def _event_style(event: Event) -> str:
    if event.name in (names.EVENT_EXCEPTION, names.EVENT_RETRY_GAVE_UP):
        return "red"
    if event.name.startswith("resilience."):
        return "yellow"
    return "cyan"


def render_trace(trace: Trace) -> Table:
    """One trace as a table: the tree in the first column, a shared time axis in the second."""
    origin = trace.start
    size = max(1, trace.end - origin)
    tick = size / (BAR_WIDTH * 2)  # half a cell: the narrowest mark a Bar draws
    title = f"trace {trace.trace_id}  {milliseconds(trace.duration)}  {len(trace.spans)} spans" + (
        "  [red]failed[/]" if trace.failed else ""
    )
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False, expand=False)
    table.add_column("span", no_wrap=True, overflow="ellipsis", max_width=40)
    table.add_column("timeline", width=BAR_WIDTH, no_wrap=True)
    table.add_column("took", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("details", overflow="fold")
    for depth, node in trace.walk():
        span = node.span
        failed = is_failure(span)
        indent = "  " * depth
        stage = span.stage or "-"
        label = Text(indent)
        label.append(stage, style="bold")
        label.append(f" {span.name}")
        table.add_row(
            label,
            Bar(size, span.start - origin, max(span.end - origin, span.start - origin + tick),
                width=BAR_WIDTH, color="red" if failed else "green"),
            milliseconds(span.duration),
            Text("error", style="red") if failed else Text("ok", style="green"),
            span_details(span),
        )  # fmt: skip
        for event in sorted(span.events, key=lambda e: e.time):
            at = min(max(0, event.time - origin), size - tick)
            table.add_row(
                Text(f"{indent}  · {EVENT_LABELS.get(event.name, 'event')}", style="dim"),
                Bar(size, at, at + tick, width=BAR_WIDTH, color=_event_style(event)),
                "",
                "",
                Text(event_details(event), style=_event_style(event)),
            )
    return table


def build_view(selection: Selection, options: ViewOptions) -> RenderableType:
    """The traces ``options`` asks for from ``selection``, with a line saying which."""
    recording = selection.recording
    traces = group(recording.spans)
    shown, which = pick(
        traces,
        limit=options.limit,
        trace_id=options.trace_id,
        stage=options.stage,
        errors_only=options.errors_only,
    )
    parts: list[RenderableType] = []
    for trace in shown:
        parts.append(render_trace(trace))
        parts.append(Text(""))
    if not recording.files:
        parts.append(Text(f"no telemetry files in {recording.directory}"))
    elif not traces:
        parts.append(Text(f"no spans in {recording.directory} ({selection.describe()})"))
    elif not shown:
        parts.append(Text(f"no trace matches ({which})"))
    parts.append(Text(f"{which}; {selection.describe()}", style="dim"))
    if recording.skipped:
        parts.append(Text(recording.skipped.describe(), style="yellow"))
    return Group(*parts)


def view(directory: str | Path, options: ViewOptions) -> RenderableType:
    """Read ``directory`` and render what ``options`` asks for (raises RunError)."""
    selection = select(read_directory(directory), options.run, all_runs=options.all_runs)
    return build_view(selection, options)
