"""Spans, metrics and logs reach a real OTLP receiver over gRPC and HTTP/protobuf."""

from __future__ import annotations

import logging

import pytest
from otlp_sink import OtlpSink, attrs

from ragsight import names
from ragsight._config.validation import load_settings
from ragsight._export.health import ExportHealth
from ragsight._export.setup import build_providers

FAST = {
    "batch_schedule_delay": 0.05,
    "batch_metric_export_interval": 60.0,  # metrics are flushed explicitly
    "otlp_timeout": 2.0,
}


@pytest.fixture(scope="module")
def sink() -> OtlpSink:
    with OtlpSink() as s:
        yield s  # type: ignore[misc]


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_spans_metrics_and_logs_arrive_with_resource_and_attributes(
    sink: OtlpSink, protocol: str, tmp_path: object
) -> None:
    sink.clear()
    endpoint = sink.grpc_endpoint if protocol == "grpc" else sink.http_endpoint
    settings = load_settings(
        environ={
            "OTEL_RESOURCE_ATTRIBUTES": "team=search",
            "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer t0k",
        },
        cwd=str(tmp_path),
        service_name="support-bot",
        service_version="1.2.3",
        environment="staging",
        otlp_endpoint=endpoint,
        otlp_protocol=protocol,
        **FAST,
    )
    telemetry = build_providers(settings, health=ExportHealth())
    tracer = telemetry.tracer_provider.get_tracer(names.SCOPE_NAME)
    with tracer.start_as_current_span(
        "retrieval kb", attributes={names.RAG_STAGE: names.STAGE_RETRIEVAL, "top_k": 5}
    ):
        otel_logger = logging.getLogger("test.export")
        from ragsight._export.logs import _otel_handler

        handler = _otel_handler(telemetry.logger_provider, logging.INFO)
        otel_logger.addHandler(handler)
        otel_logger.setLevel(logging.INFO)
        otel_logger.info("found %d documents", 3)
        otel_logger.removeHandler(handler)
    meter = telemetry.meter_provider.get_meter(names.SCOPE_NAME)
    histogram = meter.create_histogram(
        names.RAG_OPERATION_DURATION.name, unit=names.RAG_OPERATION_DURATION.unit
    )
    histogram.record(0.2, {names.RAG_STAGE: names.STAGE_RETRIEVAL})
    histogram.record(0.7, {names.RAG_STAGE: names.STAGE_RETRIEVAL})
    telemetry.force_flush(5)
    telemetry.shutdown(5)

    assert sink.wait_for(lambda s: s.spans() and s.metrics() and s.log_records(), timeout=10)
    resource, scope, span = sink.spans()[0]
    resource_attrs = attrs(resource.attributes)
    assert resource_attrs[names.SERVICE_NAME] == "support-bot"
    assert resource_attrs[names.SERVICE_VERSION] == "1.2.3"
    assert resource_attrs[names.DEPLOYMENT_ENVIRONMENT] == "staging"
    assert resource_attrs["team"] == "search"
    assert scope.name == names.SCOPE_NAME
    assert span.name == "retrieval kb"
    assert attrs(span.attributes) == {names.RAG_STAGE: names.STAGE_RETRIEVAL, "top_k": 5}

    received = {r.transport for r in sink.received()}
    assert received == {"grpc" if protocol == "grpc" else "http"}
    assert all(r.headers.get("authorization") == "Bearer t0k" for r in sink.received())

    durations = [m for _r, _s, m in sink.metrics() if m.name == names.RAG_OPERATION_DURATION.name]
    (point,) = durations[-1].histogram.data_points
    assert point.count == 2
    assert point.sum == pytest.approx(0.9)
    assert tuple(point.explicit_bounds) == names.STAGE_DURATION_BUCKETS
    assert attrs(point.attributes) == {names.RAG_STAGE: names.STAGE_RETRIEVAL}

    dropped = [m for _r, _s, m in sink.metrics() if m.name == names.RAGSIGHT_EXPORT_DROPPED.name]
    assert dropped
    assert all(p.as_int == 0 for p in dropped[-1].sum.data_points)

    (_r, _s, record) = sink.log_records()[0]
    assert record.body.string_value == "found 3 documents"
    assert record.trace_id == span.trace_id
    assert record.span_id == span.span_id


@pytest.mark.parametrize(
    ("protocol", "arguments", "expected"),
    [
        ("http/protobuf", {"otlp_endpoint": "http://c:4318"}, "http://c:4318/v1/traces"),
        ("http/protobuf", {"otlp_endpoint": "http://c:4318/"}, "http://c:4318/v1/traces"),
        (
            "http/protobuf",
            {"otlp_endpoint": "http://c:4318", "otlp_traces_endpoint": "http://t:1/custom"},
            "http://t:1/custom",
        ),
        ("grpc", {"otlp_endpoint": "http://c:4317"}, "http://c:4317"),
        ("grpc", {"otlp_metrics_endpoint": "http://m:4317"}, "http://localhost:4317"),
    ],
)
def test_trace_endpoint_follows_the_otlp_rules(
    protocol: str, arguments: dict[str, str], expected: str, tmp_path: object
) -> None:
    from ragsight._export.exporters import otlp_endpoint

    settings = load_settings(environ={}, cwd=str(tmp_path), otlp_protocol=protocol, **arguments)
    assert otlp_endpoint(settings, "traces") == expected


def test_per_signal_otlp_variables_win_over_the_generic_ones(tmp_path: object) -> None:
    from ragsight._export.exporters import otlp_endpoint

    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=generic",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "10000",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://m:4317",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-tenant=traces,x-extra=1",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "2500",
        "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION": "gzip",
    }
    settings = load_settings(environ=environ, cwd=str(tmp_path))
    traces = settings.otlp.for_signal("traces")
    metrics = settings.otlp.for_signal("metrics")
    logs = settings.otlp.for_signal("logs")
    assert {k: v.reveal() for k, v in traces.headers.items()} == {
        "x-tenant": "traces",
        "x-extra": "1",
    }
    assert traces.timeout == 2.5
    assert traces.protocol == "http/protobuf"
    assert metrics.protocol == "grpc"
    assert {k: v.reveal() for k, v in metrics.headers.items()} == {"x-tenant": "generic"}
    assert metrics.timeout == 10.0
    assert logs.compression == "gzip"
    assert traces.compression == "none"
    assert otlp_endpoint(settings, "logs") == "http://c:4318/v1/logs"


def test_per_signal_protocol_picks_that_signals_exporter_and_default_path(
    tmp_path: object,
) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
        OTLPSpanExporter as GrpcSpanExporter,
    )
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetricExporter,
    )

    from ragsight._export.exporters import otlp_endpoint, otlp_exporter

    settings = load_settings(
        environ={"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"},
        cwd=str(tmp_path),
        otlp_endpoint="http://c:4318",
    )
    assert otlp_endpoint(settings, "traces") == "http://c:4318"  # gRPC: no /v1 path
    assert otlp_endpoint(settings, "metrics") == "http://c:4318/v1/metrics"
    spans, target = otlp_exporter(settings, "traces")
    metrics, _ = otlp_exporter(settings, "metrics")
    try:
        assert isinstance(spans, GrpcSpanExporter)
        assert "(grpc)" in target
        assert isinstance(metrics, HttpMetricExporter)
    finally:
        spans.shutdown()
        metrics.shutdown()
