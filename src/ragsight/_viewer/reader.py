"""The one reader of the embedded sink's OTLP JSON Lines files (summary, view and report).

Each line of ``traces*.jsonl``, ``metrics*.jsonl`` and ``logs*.jsonl`` is one
``Export*ServiceRequest`` in the OTLP/JSON encoding. The files are written by a process
that may crash mid-line, share a directory with other tools, or be edited by hand, so
nothing here trusts a line: a line that is not UTF-8, not JSON, not an object or not an
OTLP request is skipped whole; an item (span, metric point, log record) with a missing or
mistyped field is skipped alone. Both are counted in :class:`Skipped`, so every command
can say how much it could not read instead of silently showing less.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragsight import names

UNKNOWN_RUN = ""  # a resource without service.instance.id (files from before run ids)

SIGNAL_KEYS = ("resourceSpans", "resourceMetrics", "resourceLogs")
STATUS_ERROR = 2  # Status.code STATUS_CODE_ERROR in OTLP
_CUMULATIVE = 2  # AggregationTemporality.CUMULATIVE in OTLP
METRIC_KINDS = ("histogram", "sum", "gauge")


class Malformed(ValueError):
    """An OTLP item lacks a field or has one of the wrong type."""


# --------------------------------------------------------------------------------------
# What is read
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Resource:
    """The process that wrote an item: ``run_id`` is its ``service.instance.id``."""

    run_id: str
    service: str
    attributes: Mapping[str, Any]


# Span and Event are plain slotted classes, not frozen: a frozen dataclass's __init__
# pays an object.__setattr__ per field, a third of the reading time on 100k spans.
@dataclass(slots=True)
class Event:
    name: str
    time: int  # Unix nanoseconds
    attributes: Mapping[str, Any]


@dataclass(slots=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start: int  # Unix nanoseconds
    end: int
    failed: bool  # status ERROR
    status_message: str
    attributes: Mapping[str, Any]
    events: tuple[Event, ...]
    resource: Resource
    stage: str | None  # rag.stage, read once: every command groups by it
    operation: str | None  # rag.operation.name

    @property
    def duration(self) -> float:
        """Seconds; never negative, even for a clock that stepped back."""
        return max(0, self.end - self.start) / 1e9


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One data point; histogram fields are empty for sums and gauges and vice versa."""

    name: str
    kind: str  # "histogram" | "sum" | "gauge"
    cumulative: bool
    attributes: Mapping[str, Any]
    start: int  # Unix nanoseconds; 0 when the point has none (gauges)
    time: int
    value: float  # sum or gauge value; histogram sum
    count: int  # histogram count; 0 otherwise
    bounds: tuple[float, ...]
    bucket_counts: tuple[int, ...]
    minimum: float | None
    maximum: float | None
    resource: Resource


@dataclass(frozen=True, slots=True)
class LogRecord:
    time: int
    severity: str
    body: str
    attributes: Mapping[str, Any]
    trace_id: str | None
    resource: Resource
    span_id: str | None = None
    event_name: str | None = None  # a Logs-API event (gen_ai.evaluation.result, ...)


@dataclass
class Skipped:
    """What could not be read: whole lines, and single items inside readable lines."""

    lines: int = 0
    items: int = 0
    files: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.lines or self.items)

    def describe(self) -> str:
        """One sentence for the end of a command's output ("" when nothing was skipped)."""
        if not self:
            return ""
        parts = []
        if self.lines:
            parts.append(f"{self.lines} unreadable line{'s' if self.lines != 1 else ''}")
        if self.items:
            parts.append(f"{self.items} malformed item{'s' if self.items != 1 else ''}")
        where = ", ".join(sorted(self.files))
        return f"skipped {' and '.join(parts)} (in {where})"


@dataclass
class Recording:
    """Everything readable in one directory, in file order."""

    directory: Path
    files: list[Path] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    points: list[MetricPoint] = field(default_factory=list)
    logs: list[LogRecord] = field(default_factory=list)
    skipped: Skipped = field(default_factory=Skipped)


# --------------------------------------------------------------------------------------
# Field decoding (raises Malformed)
# --------------------------------------------------------------------------------------
def _int(value: Any) -> int:
    """OTLP/JSON writes 64-bit integers as strings (protobuf JSON mapping), or as numbers."""
    if isinstance(value, bool):
        raise Malformed("boolean where an integer belongs")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise Malformed(f"not an integer: {value[:20]!r}") from None
    raise Malformed(f"not an integer: {type(value).__name__}")


_UINT64_END = 1 << 64
_INT64_MIN = -(1 << 63)


def _nanos(value: Any) -> int:
    """A timestamp: OTLP's fixed64 nanoseconds since the epoch (0 to 2**64 - 1)."""
    nanos = _int(value)
    if not 0 <= nanos < _UINT64_END:
        raise Malformed(f"a timestamp outside 0 to 2**64 - 1: {str(nanos)[:20]}")
    return nanos


def _int64(value: Any) -> int:
    """A count or an ``asInt`` value: OTLP's int64/uint64, never beyond them (a float of a
    400-digit integer overflows)."""
    number = _int(value)
    if not _INT64_MIN <= number < _UINT64_END:
        raise Malformed(f"an integer beyond 64 bits: {str(number)[:20]}")
    return number


def _float(value: Any) -> float:
    """A double; protobuf JSON spells the special values as strings ("NaN", "Infinity")."""
    if isinstance(value, bool):
        raise Malformed("boolean where a number belongs")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise Malformed(f"not a number: {value[:20]!r}") from None
    raise Malformed(f"not a number: {type(value).__name__}")


def _list(node: Mapping[str, Any], key: str) -> list[Any]:
    value = node.get(key, [])
    if not isinstance(value, list):
        raise Malformed(f"{key} is not a list")
    return value


def _object(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise Malformed("not an object")
    return value


def _str(node: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = node.get(key, default)
    if not isinstance(value, str):
        raise Malformed(f"{key} is not a string")
    return value


def any_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` as a Python value; None for one that cannot be read."""
    if not isinstance(value, dict):
        return None
    try:
        if "stringValue" in value:
            s = value["stringValue"]
            return s if isinstance(s, str) else None
        if "boolValue" in value:
            b = value["boolValue"]
            return b if isinstance(b, bool) else None
        if "intValue" in value:
            return _int64(value["intValue"])
        if "doubleValue" in value:
            return _float(value["doubleValue"])
        if "arrayValue" in value:
            return [any_value(v) for v in _list(_object(value["arrayValue"]), "values")]
        if "kvlistValue" in value:
            return attributes(_list(_object(value["kvlistValue"]), "values"))
        if "bytesValue" in value:
            raw = value["bytesValue"]
            return raw if isinstance(raw, str) else None
    except Malformed:
        return None
    return None


def attributes(items: Any) -> dict[str, Any]:
    """OTLP ``KeyValue`` list as a dict; entries without a string key are left out."""
    if not isinstance(items, list):
        raise Malformed("attributes is not a list")
    out: dict[str, Any] = {}
    for kv in items:
        if isinstance(kv, dict):
            key = kv.get("key")
            if isinstance(key, str):
                value = kv.get("value")
                # fast path for the common case: a string value (every span has several)
                if type(value) is dict and type(value.get("stringValue")) is str:
                    out[key] = value["stringValue"]
                else:
                    out[key] = any_value(value)
    return out


def _resource(node: Any) -> Resource:
    resource = _object(_object(node).get("resource", {}))
    attrs = attributes(resource.get("attributes", []))
    run_id = attrs.get(names.SERVICE_INSTANCE_ID)
    service = attrs.get(names.SERVICE_NAME)
    return Resource(
        run_id if isinstance(run_id, str) else UNKNOWN_RUN,
        service if isinstance(service, str) else "?",
        attrs,
    )


def _event(node: Any) -> Event:
    node = _object(node)
    return Event(
        _str(node, "name"),
        _nanos(node.get("timeUnixNano")),
        attributes(node.get("attributes", [])),
    )


def _span(node: Any, resource: Resource) -> Span:
    node = _object(node)
    trace_id = _str(node, "traceId")
    span_id = _str(node, "spanId")
    if not trace_id or not span_id:
        raise Malformed("empty trace or span id")
    parent = node.get("parentSpanId") or None
    if parent is not None and not isinstance(parent, str):
        raise Malformed("parentSpanId is not a string")
    status = node.get("status", {})
    status = _object(status) if status is not None else {}
    code = _int(status.get("code", 0))
    start = _nanos(node.get("startTimeUnixNano"))
    end = _nanos(node.get("endTimeUnixNano"))  # before start: a clock stepped back (kept)
    attrs = attributes(node.get("attributes", []))
    stage = attrs.get(names.RAG_STAGE)
    operation = attrs.get(names.RAG_OPERATION_NAME)
    return Span(
        trace_id,
        span_id,
        parent,
        _str(node, "name", ""),
        start,
        end,
        code == STATUS_ERROR,
        _str(status, "message", ""),
        attrs,
        tuple([_event(e) for e in events]) if (events := _list(node, "events")) else (),
        resource,
        stage if isinstance(stage, str) else None,
        operation if isinstance(operation, str) else None,
    )


def _point(name: str, kind: str, cumulative: bool, node: Any, resource: Resource) -> MetricPoint:
    node = _object(node)
    start = _nanos(node.get("startTimeUnixNano", 0))
    time = _nanos(node.get("timeUnixNano"))
    attrs = attributes(node.get("attributes", []))
    if kind == "histogram":
        bounds = tuple(_float(b) for b in _list(node, "explicitBounds"))
        counts = tuple(_int64(c) for c in _list(node, "bucketCounts"))
        if counts and len(counts) != len(bounds) + 1:
            raise Malformed("bucketCounts does not match explicitBounds")
        if any(c < 0 for c in counts) or list(bounds) != sorted(bounds):
            raise Malformed("negative bucket count or unsorted bounds")
        count = _int64(node.get("count", 0))
        minimum = _float(node["min"]) if "min" in node else None
        maximum = _float(node["max"]) if "max" in node else None
        return MetricPoint(
            name,
            kind,
            cumulative,
            attrs,
            start,
            time,
            _float(node.get("sum", 0.0)),
            count,
            bounds,
            counts,
            minimum if minimum is not None and math.isfinite(minimum) else None,
            maximum if maximum is not None and math.isfinite(maximum) else None,
            resource,
        )
    if "asInt" in node:
        value = float(_int64(node["asInt"]))
    elif "asDouble" in node:
        value = _float(node["asDouble"])
    else:
        value = 0.0  # protobuf JSON leaves a zero value out
    return MetricPoint(
        name, kind, cumulative, attrs, start, time, value, 0, (), (), None, None, resource
    )


def _log(node: Any, resource: Resource) -> LogRecord:
    node = _object(node)
    time = _nanos(node.get("timeUnixNano") or node.get("observedTimeUnixNano") or 0)
    body = any_value(node.get("body"))
    trace_id = node.get("traceId") or None
    span_id = node.get("spanId") or None
    event_name = node.get("eventName") or None
    return LogRecord(
        time,
        _str(node, "severityText", ""),
        body if isinstance(body, str) else ("" if body is None else json.dumps(body)),
        attributes(node.get("attributes", [])),
        trace_id if isinstance(trace_id, str) else None,
        resource,
        span_id if isinstance(span_id, str) else None,
        event_name if isinstance(event_name, str) else None,
    )


def unattached_events(recording: Recording) -> list[Event]:
    """The Logs-API events no span of the recording carries: those that name no span (a
    breaker opening or rejecting a call outside any stage) and those naming a span that
    is not in the files (sampled out, or lost); a command that reads events from spans
    adds these. A copy already mirrored onto a span of the trace is not repeated."""
    present = {(s.trace_id, s.span_id) for s in recording.spans}
    on_spans = {(s.trace_id, e.name, e.time) for s in recording.spans for e in s.events}
    return [
        Event(r.event_name, r.time, r.attributes)
        for r in recording.logs
        if r.event_name is not None
        and r.event_name != names.EVENT_GEN_AI_CLIENT_OPERATION_EXCEPTION
        and (r.trace_id, r.span_id) not in present
        and (r.trace_id, r.event_name, r.time) not in on_spans
    ]


def all_events(recording: Recording) -> list[Event]:
    """Every event of the recording: the spans' (Logs-API events naming a span attached to
    it) and those no span carries (:func:`unattached_events`)."""
    return [e for s in recording.spans for e in s.events] + unattached_events(recording)


def attach_log_events(recording: Recording) -> None:
    """Put every Logs-API event that names a span (evaluations, content details, breaker
    and retry decisions) among that span's events, as if it were a span event, so every
    command reads one carrier. A copy the process also mirrored as a span event (same
    name and timestamp, ``events.span_events=mirror``) is counted once: on the span the
    record names, also when the mirror went to another span of the trace (an event about
    a span that had ended is mirrored on the span open at the time)."""
    by_span: dict[tuple[str, str], list[Event]] = {}
    for record in recording.logs:
        if record.event_name is None or record.trace_id is None or record.span_id is None:
            continue
        if record.event_name == names.EVENT_GEN_AI_CLIENT_OPERATION_EXCEPTION:
            continue  # the failed span's own exception span event says the same
        by_span.setdefault((record.trace_id, record.span_id), []).append(
            Event(record.event_name, record.time, record.attributes)
        )
    if not by_span:
        return
    # (trace, name, time) -> the span a record of the recording was attached to
    owner: dict[tuple[str, str, int], str] = {}
    for span in recording.spans:
        for e in by_span.get((span.trace_id, span.span_id), ()):
            owner[(span.trace_id, e.name, e.time)] = span.span_id
    for span in recording.spans:
        found = by_span.get((span.trace_id, span.span_id), [])
        kept = [
            e
            for e in span.events
            if owner.get((span.trace_id, e.name, e.time), span.span_id) == span.span_id
        ]
        present = {(e.name, e.time) for e in kept}
        extra = [e for e in found if (e.name, e.time) not in present]
        if extra or len(kept) != len(span.events):
            span.events = tuple(sorted((*kept, *extra), key=lambda e: e.time))


# --------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------
class _Collector:
    """Adds the items of one request to a Recording, counting what it skips."""

    def __init__(self, recording: Recording, source: str) -> None:
        self.recording = recording
        self.source = source

    def skip_item(self) -> None:
        self.recording.skipped.items += 1
        self.recording.skipped.files.add(self.source)

    def each(self, node: Any, key: str) -> Iterable[Any]:
        """The entries of list ``node[key]``; a container that is not one counts as skipped."""
        try:
            return _list(_object(node), key)
        except Malformed:
            self.skip_item()
            return ()

    def spans(self, resource_spans: list[Any]) -> None:
        out = self.recording.spans
        for rs in resource_spans:
            try:
                resource = _resource(rs)
            except Malformed:
                self.skip_item()
                continue
            for ss in self.each(rs, "scopeSpans"):
                for node in self.each(ss, "spans"):
                    try:
                        out.append(_span(node, resource))
                    except Malformed:
                        self.skip_item()

    def metrics(self, resource_metrics: list[Any]) -> None:
        out = self.recording.points
        for rm in resource_metrics:
            try:
                resource = _resource(rm)
            except Malformed:
                self.skip_item()
                continue
            for sm in self.each(rm, "scopeMetrics"):
                for metric in self.each(sm, "metrics"):
                    if not isinstance(metric, dict) or not isinstance(metric.get("name"), str):
                        self.skip_item()
                        continue
                    kind = next((k for k in METRIC_KINDS if k in metric), None)
                    if kind is None:
                        continue  # summaries, exponential histograms: not written by ragsight
                    data = metric[kind]
                    cumulative = (
                        isinstance(data, dict)
                        and data.get("aggregationTemporality", _CUMULATIVE) == _CUMULATIVE
                    )
                    for node in self.each(data, "dataPoints"):
                        try:
                            out.append(_point(metric["name"], kind, cumulative, node, resource))
                        except Malformed:
                            self.skip_item()

    def logs(self, resource_logs: list[Any]) -> None:
        out = self.recording.logs
        for rl in resource_logs:
            try:
                resource = _resource(rl)
            except Malformed:
                self.skip_item()
                continue
            for sl in self.each(rl, "scopeLogs"):
                for node in self.each(sl, "logRecords"):
                    try:
                        out.append(_log(node, resource))
                    except Malformed:
                        self.skip_item()


def _request(line: bytes) -> dict[str, list[Any]] | None:
    """The OTLP request on one line, or None for a line that is not one."""
    try:
        request = json.loads(line)
    except (ValueError, RecursionError):  # not JSON, not UTF-8 (UnicodeDecodeError), too deep
        return None
    if not isinstance(request, dict):
        return None
    found = {k: request[k] for k in SIGNAL_KEYS if k in request}
    if not found or not all(isinstance(v, list) for v in found.values()):
        return None
    return found


def read_file(path: Path, recording: Recording) -> None:
    """Add every readable item of one file to ``recording``."""
    collector = _Collector(recording, path.name)
    try:
        data = path.read_bytes()
    except OSError:
        recording.skipped.lines += 1
        recording.skipped.files.add(path.name)
        return
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        request = _request(raw)
        if request is None:
            recording.skipped.lines += 1
            recording.skipped.files.add(path.name)
            continue
        collector.spans(request.get("resourceSpans", []))
        collector.metrics(request.get("resourceMetrics", []))
        collector.logs(request.get("resourceLogs", []))


def telemetry_files(directory: Path) -> list[Path]:
    """The sink's files, oldest rotation first (``traces.5.jsonl`` ... ``traces.jsonl``)."""

    def age(path: Path) -> tuple[str, int]:
        stem, _, index = path.stem.rpartition(".")
        if stem and index.isdigit():
            return (stem, -int(index))
        return (path.stem, 0)

    return sorted((p for p in directory.glob("*.jsonl") if p.is_file()), key=age)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Decoding allocates millions of containers and no cycles; the cyclic garbage
    collector would otherwise scan them over and over (it tripled the time on 100k spans)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_directory(directory: str | Path) -> Recording:
    """Everything readable in ``directory``'s ``*.jsonl`` files."""
    recording = Recording(Path(directory))
    with _collector_paused():
        for path in telemetry_files(recording.directory):
            recording.files.append(path)
            read_file(path, recording)
        attach_log_events(recording)
    return recording
