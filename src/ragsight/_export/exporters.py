"""SDK-facing export plumbing: OTLP and file exporters, guards, bounded processors.

Imported by configure() only (it imports the OpenTelemetry SDK and exporters).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ragsight._config.export_limits import SHUTDOWN_TIMEOUT
from ragsight._config.masking import mask_url, scrub
from ragsight._config.settings import Settings
from ragsight._export.filesink import JsonLinesWriter, SinkWriteError, to_otlp_json
from ragsight._export.forks import reset_in_child
from ragsight._export.health import (
    HEALTH,
    SIGNAL_LOGS,
    SIGNAL_METRICS,
    SIGNAL_TRACES,
    BoundedBatchProcessor,
    ExportHealth,
    count_items,
)
from ragsight._export.shutdown import Deadline, stop_exporters

T = TypeVar("T")
_SUCCESS = {SpanExportResult.SUCCESS, MetricExportResult.SUCCESS, LogRecordExportResult.SUCCESS}


class ExportCall:
    """Calls an exporter, turns exceptions into failures and reports to ExportHealth.

    Each item is counted exactly once: a failed batch is counted here (never also by the
    exporter), a partial write counts only what it did not write (``unwritten`` on the
    exception), and a batch still in flight when shutdown gives up is counted by
    :meth:`abandon` and not again if its export fails later.
    """

    def __init__(self, signal: str, target: str, health: ExportHealth = HEALTH) -> None:
        self.signal = signal
        self.target = target
        self.health = health
        self._lock = threading.Lock()
        self._in_flight: dict[int, int] = {}  # ticket -> items
        self._tickets = itertools.count()
        reset_in_child(self._after_fork)

    def _after_fork(self) -> None:
        """The parent's batches in flight are the parent's to count."""
        self._lock = threading.Lock()
        self._in_flight = {}

    def run(self, export: Any, batch: Any, *args: Any, **kwargs: Any) -> bool:
        items = count_items(self.signal, batch)
        ticket = next(self._tickets)
        with self._lock:
            self._in_flight[ticket] = items
        reason = ""
        result: Any = None
        try:
            result = export(batch, *args, **kwargs)
        except Exception as exc:
            reason = scrub(f"{type(exc).__name__}: {exc}")
            items = getattr(exc, "unwritten", items)
        with self._lock:
            owned = self._in_flight.pop(ticket, None) is not None
        if result in _SUCCESS:
            self.health.success(self.signal, self.target)
            return True
        self.health.failure(
            self.signal,
            self.target,
            reason or "the exporter reported failure (after its retries)",
            items if owned else 0,
        )
        return False

    def tick(self) -> None:
        """Idle time on the export worker (the spooling call replays then); nothing here."""

    def begin_shutdown(self, deadline: Deadline) -> None:
        """Shutdown started; sends from now on must fit ``deadline`` (nothing to do here:
        the SDK exporters are bounded by stopping them)."""

    def abandon(self) -> int:
        """Count every item still being exported as dropped (shutdown ran out of time)."""
        with self._lock:
            items = sum(self._in_flight.values())
            self._in_flight.clear()
        self.health.dropped(self.signal, items)
        return items


# --------------------------------------------------------------------------------------
# File exporters (the embedded default)
# --------------------------------------------------------------------------------------
def write_split(writer: JsonLinesWriter, encode: Any, items: Sequence[Any]) -> None:
    """Write ``items`` as one line, or as several when one would exceed ``max_bytes``
    (halves, recursively), so an accepted ``file_sink.max_bytes`` never refuses a batch.
    Raises SinkWriteError counting only the items that were not written."""
    line = to_otlp_json(encode(items))
    if writer.fits(line) or len(items) <= 1:
        writer.write(line, len(items))
        return
    half = len(items) // 2
    unwritten = 0
    problem: SinkWriteError | None = None
    for part in (items[:half], items[half:]):
        try:
            write_split(writer, encode, part)
        except SinkWriteError as exc:
            unwritten += exc.unwritten
            problem = exc
    if problem is not None:
        raise SinkWriteError(str(problem), unwritten)


class FileSpanExporter(SpanExporter):
    def __init__(self, writer: JsonLinesWriter) -> None:
        self._writer = writer

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

        write_split(self._writer, encode_spans, spans)
        return SpanExportResult.SUCCESS


class FileLogExporter(LogRecordExporter):
    def __init__(self, writer: JsonLinesWriter) -> None:
        self._writer = writer

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs

        write_split(self._writer, encode_logs, batch)
        return LogRecordExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        pass


class FileMetricExporter(MetricExporter):
    def __init__(self, writer: JsonLinesWriter) -> None:
        super().__init__()
        self._writer = writer

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics

        items = count_items(SIGNAL_METRICS, metrics_data)
        if items == 0:
            return MetricExportResult.SUCCESS
        self._writer.write(to_otlp_json(encode_metrics(metrics_data)), items)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


# --------------------------------------------------------------------------------------
# Guarded metric exporter (metrics go through the SDK's PeriodicExportingMetricReader)
# --------------------------------------------------------------------------------------
class GuardedMetricExporter(MetricExporter):
    def __init__(self, inner: MetricExporter, guard: ExportCall) -> None:
        super().__init__(
            preferred_temporality=inner._preferred_temporality,
            preferred_aggregation=inner._preferred_aggregation,
        )
        self._inner = inner
        self._guard = guard

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        ok = self._guard.run(self._inner.export, metrics_data, timeout_millis=timeout_millis)
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        try:
            return self._inner.force_flush(timeout_millis)
        except Exception:
            return False

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        with contextlib.suppress(Exception):
            self._inner.shutdown(timeout_millis=timeout_millis)


# --------------------------------------------------------------------------------------
# Bounded processors
# --------------------------------------------------------------------------------------
class _BoundedQueue(Generic[T]):
    """What the span and log processors share: one bounded queue drained into ``exporter``
    through ``call``, sized by ``settings.batch``, and its flush, stop and abandon."""

    def __init__(self, exporter: Any, call: ExportCall, settings: Settings, signal: str) -> None:
        self._exporter = exporter
        self._call = call
        self._batch: BoundedBatchProcessor[T] = BoundedBatchProcessor(
            lambda batch: call.run(exporter.export, batch),
            signal=signal,
            max_queue_size=settings.batch.max_queue_size,
            max_export_batch_size=settings.batch.max_export_batch_size,
            schedule_delay=settings.batch.schedule_delay,
            health=call.health,
            idle=call.tick,
        )

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._batch.force_flush(timeout_millis / 1000)

    def shutdown_within(self, deadline: Deadline) -> None:
        """Flush until ``deadline``, then stop; what is left is counted as dropped."""
        _stop_batch(self._batch, self._call, self._exporter, deadline)

    def abandon(self) -> int:
        return self._batch.abandon()


class BoundedSpanProcessor(_BoundedQueue[ReadableSpan], SpanProcessor):
    """Sampled spans into a bounded queue: a full queue drops (and counts), never blocks."""

    def __init__(self, exporter: SpanExporter, guard: ExportCall, settings: Settings) -> None:
        super().__init__(exporter, guard, settings, SIGNAL_TRACES)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_flags.sampled:
            self._batch.emit(span)

    def shutdown(self, timeout_millis: int = 30_000) -> None:
        self.shutdown_within(Deadline(timeout_millis / 1000))


class BoundedLogProcessor(_BoundedQueue[ReadableLogRecord], LogRecordProcessor):
    """Log records into a bounded queue, detached from the caller's context."""

    def __init__(self, exporter: LogRecordExporter, guard: ExportCall, settings: Settings) -> None:
        super().__init__(exporter, guard, settings, SIGNAL_LOGS)

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        import copy

        record = copy.copy(log_record.log_record)
        record.context = Context()  # do not keep the caller's context alive in the queue
        self._batch.emit(
            ReadableLogRecord(
                log_record=record,
                resource=log_record.resource or Resource.create({}),
                instrumentation_scope=log_record.instrumentation_scope,
                limits=log_record.limits,
            )
        )

    def shutdown(self) -> None:
        self.shutdown_within(Deadline(SHUTDOWN_TIMEOUT.maximum or 5.0))


def _stop_batch(
    batch: BoundedBatchProcessor[Any], call: ExportCall, exporter: Any, deadline: Deadline
) -> None:
    if not batch.shutdown(deadline.remaining()):
        call.abandon()  # the worker is still inside an export that outlived the deadline
    stop_exporters([exporter], deadline)


# --------------------------------------------------------------------------------------
# OTLP exporters
# --------------------------------------------------------------------------------------
_HTTP_PATHS = {SIGNAL_TRACES: "v1/traces", SIGNAL_METRICS: "v1/metrics", SIGNAL_LOGS: "v1/logs"}
_DEFAULT = {"grpc": "http://localhost:4317", "http/protobuf": "http://localhost:4318"}


def otlp_endpoint(settings: Settings, signal: str) -> str:
    """The URL one signal is sent to (per-signal endpoint as-is; base + /v1/<signal> for HTTP)."""
    otlp = settings.otlp.for_signal(signal)
    specific = {
        SIGNAL_TRACES: otlp.traces_endpoint,
        SIGNAL_METRICS: otlp.metrics_endpoint,
        SIGNAL_LOGS: otlp.logs_endpoint,
    }[signal]
    if specific:
        return specific
    base = otlp.endpoint or _DEFAULT[otlp.protocol]
    if otlp.protocol == "grpc":
        return base
    return base.rstrip("/") + "/" + _HTTP_PATHS[signal]


def otlp_exporter(settings: Settings, signal: str) -> tuple[Any, str]:
    """An OTLP exporter for ``signal`` and a printable (masked) target description."""
    otlp = settings.otlp.for_signal(signal)
    endpoint = otlp_endpoint(settings, signal)
    headers = {k: v.reveal() for k, v in otlp.headers.items()}
    target = f"{mask_url(endpoint)} ({otlp.protocol})"
    if otlp.protocol == "grpc":
        from grpc import Compression as GrpcCompression  # type: ignore[import-untyped]

        grpc_compression = {
            "none": GrpcCompression.NoCompression,
            "gzip": GrpcCompression.Gzip,
            "deflate": GrpcCompression.Deflate,
        }[otlp.compression]
        insecure = otlp.insecure if otlp.insecure is not None else endpoint.startswith("http://")
        kwargs: dict[str, Any] = {
            "endpoint": endpoint,
            "insecure": insecure,
            "headers": headers,
            "timeout": otlp.timeout,
            "compression": grpc_compression,
        }
        if signal == SIGNAL_TRACES:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            return OTLPSpanExporter(**kwargs), target
        if signal == SIGNAL_METRICS:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
                OTLPMetricExporter,
            )

            return OTLPMetricExporter(**kwargs), target
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        return OTLPLogExporter(**kwargs), target

    from opentelemetry.exporter.otlp.proto.http import Compression

    http_kwargs: dict[str, Any] = {
        "endpoint": endpoint,
        "headers": headers,
        "timeout": otlp.timeout,
        "compression": {
            "none": Compression.NoCompression,
            "gzip": Compression.Gzip,
            "deflate": Compression.Deflate,
        }[otlp.compression],
    }
    if signal == SIGNAL_TRACES:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpSpanExporter,
        )

        return HttpSpanExporter(**http_kwargs), target
    if signal == SIGNAL_METRICS:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
            OTLPMetricExporter as HttpMetricExporter,
        )

        return HttpMetricExporter(**http_kwargs), target
    from opentelemetry.exporter.otlp.proto.http._log_exporter import (
        OTLPLogExporter as HttpLogExporter,
    )

    return HttpLogExporter(**http_kwargs), target


def file_exporter(settings: Settings, signal: str, health: ExportHealth) -> tuple[Any, str]:
    sink = settings.file_sink
    writer = JsonLinesWriter(sink.directory, signal, max_bytes=sink.max_bytes, backups=sink.backups)
    target = str(writer.path)
    if signal == SIGNAL_TRACES:
        return FileSpanExporter(writer), target
    if signal == SIGNAL_METRICS:
        return FileMetricExporter(writer), target
    return FileLogExporter(writer), target
