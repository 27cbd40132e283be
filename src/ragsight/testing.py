"""Test helpers for users: see exactly what ragsight emitted, in any test runner.

``capture_telemetry()`` routes ragsight's spans, metrics and Logs-API events (evaluations,
captured content, breaker and retry decisions) to private in-memory SDK providers for the
duration of a ``with`` block (the process-global providers, if any, are left alone and
receive nothing from ragsight meanwhile). The pytest fixture
``ragsight_telemetry`` (from the ``ragsight.pytest_plugin`` entry point) wraps it.

This module imports the OpenTelemetry SDK; ``import ragsight`` never imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from ragsight._core import events as _events
from ragsight._core import runtime as _runtime
from ragsight._core import safety as _safety

__all__ = ["CapturedEvent", "LogEvent", "MetricPoint", "Telemetry", "capture_telemetry"]


@dataclass(frozen=True)
class MetricPoint:
    """One data point: ``value`` is the sum for counters, the histogram data otherwise."""

    name: str
    attributes: Mapping[str, Any]
    value: float | None = None
    count: int | None = None
    sum: float | None = None
    bucket_counts: tuple[int, ...] | None = None
    explicit_bounds: tuple[float, ...] | None = None


@dataclass(frozen=True)
class CapturedEvent:
    span_name: str
    name: str
    attributes: Mapping[str, Any]


@dataclass(frozen=True)
class LogEvent:
    """One Logs-API event: its name, attributes (structured values as Python lists and
    dicts), and the trace and span ids of the span it is parented to (None: no parent)."""

    name: str
    attributes: Mapping[str, Any]
    trace_id: int | None
    span_id: int | None
    severity: str | None
    body: Any = None

    def parented_to(self, span: ReadableSpan) -> bool:
        """Whether this event belongs to ``span`` (same trace and span id)."""
        context = span.get_span_context()
        if context is None:
            return False
        return self.trace_id == context.trace_id and self.span_id == context.span_id


_Item = TypeVar("_Item")


def _exactly_one(
    kind: str, name: str, items: Sequence[_Item], name_of: Callable[[_Item], str]
) -> _Item:
    """The one of ``items`` called ``name``; AssertionError listing them all otherwise."""
    found = [item for item in items if name_of(item) == name]
    if len(found) != 1:
        raise AssertionError(
            f"expected exactly one {kind} named {name!r}, found {len(found)}; "
            f"{kind}s: {[name_of(item) for item in items]}"
        )
    return found[0]


class Telemetry:
    """What was captured, with helpers that fail with a readable message."""

    def __init__(
        self,
        exporter: InMemorySpanExporter,
        reader: InMemoryMetricReader,
        logs: InMemoryLogRecordExporter | None = None,
        internal_errors_before: Mapping[str, int] | None = None,
    ) -> None:
        self._exporter = exporter
        self._reader = reader
        self._logs = logs
        self._points: list[MetricPoint] = []
        # process-wide counts when the capture began: internal_errors() reports the capture's
        self._errors_before = dict(internal_errors_before or {})

    # ---- spans -------------------------------------------------------------------------
    @property
    def spans(self) -> list[ReadableSpan]:
        """Finished spans, in the order they ended."""
        return list(self._exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        """The one finished span called ``name`` (fails if there are none or several)."""
        return _exactly_one("span", name, self.spans, lambda span: span.name)

    @property
    def events(self) -> list[CapturedEvent]:
        return [
            CapturedEvent(s.name, e.name, dict(e.attributes or {}))
            for s in self.spans
            for e in s.events
        ]

    # ---- Logs-API events ------------------------------------------------------------------
    @property
    def log_events(self) -> list[LogEvent]:
        """Every log record with an event name, in the order they were emitted."""
        if self._logs is None:
            return []
        out: list[LogEvent] = []
        for data in self._logs.get_finished_logs():
            record = data.log_record
            if not record.event_name:
                continue
            valid = bool(record.trace_id) and bool(record.span_id)
            out.append(
                LogEvent(
                    record.event_name,
                    _plain(dict(record.attributes or {})),
                    record.trace_id if valid else None,
                    record.span_id if valid else None,
                    record.severity_text,
                    _plain(record.body),
                )
            )
        return out

    def log_event(self, name: str) -> LogEvent:
        """The one Logs-API event called ``name`` (fails if there are none or several)."""
        return _exactly_one("event", name, self.log_events, lambda event: event.name)

    def assert_span(
        self,
        name: str,
        *,
        attributes: Mapping[str, Any] | None = None,
        status: str | None = None,
        parent: str | None = None,
    ) -> ReadableSpan:
        """Check one span: a subset of its attributes, its status (``"ok"``/``"unset"``/
        ``"error"``) and the name of its parent span."""
        span = self.span(name)
        actual = dict(span.attributes or {})
        for key, want in (attributes or {}).items():
            if key not in actual:
                raise AssertionError(f"span {name!r} has no attribute {key!r}; has {actual}")
            if actual[key] != want and not (
                isinstance(actual[key], tuple) and list(actual[key]) == want  # type: ignore[arg-type]
            ):
                raise AssertionError(f"span {name!r}: {key}={actual[key]!r}, expected {want!r}")
        if status is not None:
            got = span.status.status_code
            want_code = {"ok": StatusCode.OK, "unset": StatusCode.UNSET, "error": StatusCode.ERROR}
            if got is not want_code[status.lower()]:
                raise AssertionError(f"span {name!r} status is {got.name}, expected {status}")
        if parent is not None:
            parent_span = self.span(parent)
            if span.parent is None or span.parent.span_id != parent_span.context.span_id:
                raise AssertionError(f"span {name!r} is not a child of {parent!r}")
        return span

    def assert_no_attribute_value(self, needle: str) -> None:
        """Fail if ``needle`` appears in any span/event attribute or metric label."""
        for span in self.spans:
            for where, attrs in [("span", span.attributes)] + [
                (f"event {e.name}", e.attributes) for e in span.events
            ]:
                for key, value in (attrs or {}).items():
                    if needle in str(value) or needle in key:
                        raise AssertionError(
                            f"{needle!r} found in {where} of {span.name!r}: {key}={value!r}"
                        )
        for point in self.metric_points():
            for key, value in point.attributes.items():
                if needle in str(value) or needle in key:
                    raise AssertionError(f"{needle!r} found in metric {point.name}: {key}")
        for event in self.log_events:
            for key, value in event.attributes.items():
                if needle in str(value) or needle in key:
                    raise AssertionError(f"{needle!r} found in event {event.name}: {key}")

    # ---- metrics -----------------------------------------------------------------------
    def collect(self) -> list[MetricPoint]:
        """Collect now (cumulative) and return every point."""
        data = self._reader.get_metrics_data()
        points: list[MetricPoint] = []
        if data is not None:
            for rm in data.resource_metrics:
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        for dp in metric.data.data_points:
                            points.append(_point(metric.name, dp))
        self._points = points
        return points

    def metric_points(self, name: str | None = None, **attributes: Any) -> list[MetricPoint]:
        """Points of metric ``name`` whose attributes include ``attributes``.

        Attribute keys with dots can be passed through a dict: ``**{"rag.stage": "x"}``.
        """
        points = self.collect()
        return [
            p
            for p in points
            if (name is None or p.name == name)
            and all(p.attributes.get(k) == v for k, v in attributes.items())
        ]

    def histogram_count(self, name: str, **attributes: Any) -> int:
        """Total number of recordings across matching histogram points."""
        return sum(p.count or 0 for p in self.metric_points(name, **attributes))

    def counter_value(self, name: str, **attributes: Any) -> float:
        return sum(p.value or 0 for p in self.metric_points(name, **attributes))

    def internal_errors(self) -> dict[str, int]:
        """ragsight's own contained failures by component since the capture began (should be
        empty in a good run; failures an earlier test provoked are not counted)."""
        before = self._errors_before
        return {
            component: count - before.get(component, 0)
            for component, count in _safety.internal_error_counts().items()
            if count > before.get(component, 0)
        }


def _plain(value: Any) -> Any:
    """SDK attribute values as plain Python: tuples (how the SDK stores sequences) as lists,
    mappings as dicts, at any depth, so tests compare them with literals."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _point(name: str, dp: Any) -> MetricPoint:
    attrs = dict(dp.attributes or {})
    if hasattr(dp, "bucket_counts"):
        return MetricPoint(
            name,
            attrs,
            count=dp.count,
            sum=dp.sum,
            bucket_counts=tuple(dp.bucket_counts),
            explicit_bounds=tuple(dp.explicit_bounds),
        )
    return MetricPoint(name, attrs, value=dp.value)


@contextmanager
def capture_telemetry() -> Iterator[Telemetry]:
    """Capture ragsight's telemetry in memory for the duration of the block."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    logs = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    errors_before = _safety.internal_error_counts()
    previous = _runtime.override(tracer_provider, meter_provider)
    previous_logs = _events.override(logger_provider)
    _events.forget_ended()  # what record_evaluation() judges by default: this capture's only
    try:
        yield Telemetry(exporter, reader, logs, errors_before)
    finally:
        _events.forget_ended()
        _events.restore(previous_logs)
        _runtime.restore(previous)
        meter_provider.shutdown()
        tracer_provider.shutdown()
        logger_provider.shutdown()
