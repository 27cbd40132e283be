"""The test receiver itself: it must decode what the real SDK exporters send."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from otlp_sink import OtlpSink, attrs


def _emit(exporter: SpanExporter) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "sink-test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("hello", attributes={"k": 1}):
        pass
    provider.shutdown()


@pytest.mark.parametrize("transport", ["grpc", "http", "http-gzip"])
def test_sink_keeps_resource_and_span_attributes(transport: str) -> None:
    with OtlpSink() as sink:
        if transport == "grpc":
            exporter: SpanExporter = GrpcSpanExporter(endpoint=sink.grpc_endpoint, insecure=True)
        else:
            exporter = HttpSpanExporter(
                endpoint=sink.http_endpoint + "/v1/traces",
                compression=Compression.Gzip if transport == "http-gzip" else None,
            )
        _emit(exporter)
        assert sink.wait_for(lambda s: len(s.spans()) == 1, timeout=10)
        resource, _scope, span = sink.spans()[0]
        assert attrs(resource.attributes)["service.name"] == "sink-test"
        assert span.name == "hello"
        assert attrs(span.attributes) == {"k": 1}


def test_sink_decodes_otlp_json_with_hex_ids() -> None:
    body = (
        b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"j",'
        b'"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708"}]}]}]}'
    )
    with OtlpSink(grpc_enabled=False) as sink:
        request = urllib.request.Request(
            sink.http_endpoint + "/v1/traces",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=5).close()
        (_r, _s, span) = sink.spans()[0]
        assert span.trace_id.hex() == "0102030405060708090a0b0c0d0e0f10"


def test_sink_failing_with_503_refuses_but_records_the_attempt() -> None:
    with OtlpSink(grpc_enabled=False, fail_with=503) as sink:
        request = urllib.request.Request(
            sink.http_endpoint + "/v1/traces",
            data=b"",
            headers={"Content-Type": "application/x-protobuf"},
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=5)
        assert info.value.code == 503
        assert sink.spans() == []
        assert len(sink.refused) == 1
