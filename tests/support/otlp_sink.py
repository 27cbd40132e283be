"""A real OTLP receiver for tests: gRPC and HTTP (protobuf or JSON, gzip or not) on 127.0.0.1.

Why hand-written: the only packaged receiver (oteltap) loses data that arrives before a
waiter is registered, rejects gzip and drops the Resource (research/stack.md section 4).
This one keeps every decoded ``Export*ServiceRequest`` so tests can assert resource, scope,
span attributes and metric points, and ``wait_for`` also sees data received earlier.

Usage::

    with OtlpSink() as sink:                       # both transports, OS-chosen ports
        exporter = OTLPSpanExporter(endpoint=sink.grpc_endpoint, insecure=True)
        # or: OTLPSpanExporter(endpoint=sink.http_endpoint + "/v1/traces")
        ...
        sink.wait_for(lambda s: len(s.spans()) >= 3, timeout=10)
        resource, scope, span = sink.spans()[0]
        assert attrs(resource.attributes)["service.name"] == "svc"

    with OtlpSink(fail_with=503) as sink: ...      # every request refused (HTTP 503 /
                                                   # gRPC UNAVAILABLE), still counted
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

TRACES = "traces"
METRICS = "metrics"
LOGS = "logs"

_REQUEST_TYPES: dict[str, type[Message]] = {
    TRACES: trace_service_pb2.ExportTraceServiceRequest,
    METRICS: metrics_service_pb2.ExportMetricsServiceRequest,
    LOGS: logs_service_pb2.ExportLogsServiceRequest,
}
_RESPONSE_TYPES: dict[str, type[Message]] = {
    TRACES: trace_service_pb2.ExportTraceServiceResponse,
    METRICS: metrics_service_pb2.ExportMetricsServiceResponse,
    LOGS: logs_service_pb2.ExportLogsServiceResponse,
}
_HTTP_PATHS = {"/v1/traces": TRACES, "/v1/metrics": METRICS, "/v1/logs": LOGS}
_HEX_ID_KEYS = {"traceId", "spanId", "parentSpanId"}


def any_value(value: AnyValue) -> Any:
    """The Python value held by an OTLP ``AnyValue``."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attrs(value.kvlist_value.values)
    return getattr(value, kind)


def attrs(key_values: Iterator[KeyValue] | Any) -> dict[str, Any]:
    """OTLP ``repeated KeyValue`` as a plain dict."""
    return {kv.key: any_value(kv.value) for kv in key_values}


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP/JSON spells ids in hex; protobuf's JSON mapping expects base64 for bytes."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in _HEX_ID_KEYS and isinstance(value, str):
                out[key] = base64.b64encode(bytes.fromhex(value)).decode() if value else ""
            else:
                out[key] = _hex_ids_to_base64(value)
        return out
    if isinstance(node, list):
        return [_hex_ids_to_base64(v) for v in node]
    return node


def parse_otlp_json(text: str | bytes, signal: str) -> Message:
    """Decode one OTLP/JSON request body (hex ids) into its protobuf request message."""
    message = _REQUEST_TYPES[signal]()
    json_format.ParseDict(_hex_ids_to_base64(json.loads(text)), message)
    return message


@dataclass
class Received:
    """One accepted or refused request, as the sink saw it."""

    signal: str
    transport: str  # "grpc" or "http"
    message: Message
    headers: dict[str, str] = field(default_factory=dict)


class OtlpSink:
    """Collects OTLP requests over gRPC and HTTP; optionally refuses them all.

    ``fail_with``: an HTTP status (e.g. 503) to answer every request with; gRPC answers
    the matching code (503 -> UNAVAILABLE, 429 -> RESOURCE_EXHAUSTED, else INTERNAL).
    Refused requests are still decoded and counted in ``refused`` so tests can see the
    exporter tried. ``delay`` seconds are slept before answering (a slow collector).
    """

    def __init__(
        self,
        *,
        grpc_enabled: bool = True,
        http_enabled: bool = True,
        fail_with: int | None = None,
        delay: float = 0.0,
    ) -> None:
        self.fail_with = fail_with
        self.delay = delay
        self._grpc_enabled = grpc_enabled
        self._http_enabled = http_enabled
        self._cond = threading.Condition()
        self._received: list[Received] = []
        self.refused: list[Received] = []
        self._grpc_server: grpc.Server | None = None
        self._http_server: ThreadingHTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        self.grpc_port = 0
        self.http_port = 0

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> OtlpSink:
        if self._grpc_enabled:
            server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
            trace_service_pb2_grpc.add_TraceServiceServicer_to_server(
                _GrpcService(self, TRACES), server
            )
            metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(
                _GrpcService(self, METRICS), server
            )
            logs_service_pb2_grpc.add_LogsServiceServicer_to_server(
                _GrpcService(self, LOGS), server
            )
            self.grpc_port = server.add_insecure_port("127.0.0.1:0")
            server.start()
            self._grpc_server = server
        if self._http_enabled:
            handler = type("_BoundHandler", (_HttpHandler,), {"sink": self})
            self._http_server = _QuietServer(("127.0.0.1", 0), handler)
            self._http_server.daemon_threads = True
            self.http_port = int(self._http_server.server_address[1])
            self._http_thread = threading.Thread(
                target=self._http_server.serve_forever,
                kwargs={"poll_interval": 0.05},  # fast stop()
                name="otlp-sink-http",
                daemon=True,
            )
            self._http_thread.start()
        return self

    def stop(self) -> None:
        if self._grpc_server is not None:
            self._grpc_server.stop(grace=None)
            self._grpc_server = None
        if self._http_server is not None:
            self._http_server.shutdown()
            self._http_server.server_close()
            self._http_server = None

    def __enter__(self) -> OtlpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def grpc_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    @property
    def otlp_grpc_endpoint(self) -> str:
        """host:port, as a Collector's ``otlp_grpc`` exporter is configured with it."""
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        """Base URL; the OTLP/HTTP paths are /v1/traces, /v1/metrics, /v1/logs."""
        return f"http://127.0.0.1:{self.http_port}"

    # ---------------------------------------------------------------- collection
    def _record(self, item: Received) -> bool:
        """Store ``item``; return whether it was accepted (False when failing on purpose)."""
        if self.delay:
            time.sleep(self.delay)
        with self._cond:
            if self.fail_with is not None:
                self.refused.append(item)
            else:
                self._received.append(item)
            self._cond.notify_all()
        return self.fail_with is None

    def received(self, signal: str | None = None) -> list[Received]:
        with self._cond:
            return [r for r in self._received if signal is None or r.signal == signal]

    def requests(self, signal: str) -> list[Any]:
        """The accepted ``Export*ServiceRequest`` messages of one signal, in arrival order."""
        return [r.message for r in self.received(signal)]

    def spans(self) -> list[tuple[Any, Any, Any]]:
        """Every received span as (resource, scope, span)."""
        return [
            (rs.resource, ss.scope, span)
            for req in self.requests(TRACES)
            for rs in req.resource_spans
            for ss in rs.scope_spans
            for span in ss.spans
        ]

    def metrics(self) -> list[tuple[Any, Any, Any]]:
        """Every received metric as (resource, scope, metric); points are on the metric."""
        return [
            (rm.resource, sm.scope, metric)
            for req in self.requests(METRICS)
            for rm in req.resource_metrics
            for sm in rm.scope_metrics
            for metric in sm.metrics
        ]

    def log_records(self) -> list[tuple[Any, Any, Any]]:
        """Every received log record as (resource, scope, record)."""
        return [
            (rl.resource, sl.scope, record)
            for req in self.requests(LOGS)
            for rl in req.resource_logs
            for sl in rl.scope_logs
            for record in sl.log_records
        ]

    def wait_for(self, predicate: Callable[[OtlpSink], bool], timeout: float = 10.0) -> bool:
        """Block until ``predicate(self)`` holds (data received earlier counts) or time out."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate(self):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._cond:
                # a short wait also covers a notify that raced the predicate check
                self._cond.wait(min(remaining, 0.05))

    def clear(self) -> None:
        with self._cond:
            self._received.clear()
            self.refused.clear()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timed out) while the sink was slow is not an error here."""


_GRPC_CODES = {503: grpc.StatusCode.UNAVAILABLE, 429: grpc.StatusCode.RESOURCE_EXHAUSTED}


class _GrpcService:
    def __init__(self, sink: OtlpSink, signal: str) -> None:
        self._sink = sink
        self._signal = signal

    def Export(self, request: Message, context: grpc.ServicerContext) -> Message:
        headers = {k: str(v) for k, v in context.invocation_metadata()}
        copy = type(request)()
        copy.CopyFrom(request)
        if not self._sink._record(Received(self._signal, "grpc", copy, headers)):
            code = _GRPC_CODES.get(self._sink.fail_with or 0, grpc.StatusCode.INTERNAL)
            context.abort(code, "otlp sink refusing on purpose")
        return _RESPONSE_TYPES[self._signal]()


class _HttpHandler(BaseHTTPRequestHandler):
    sink: OtlpSink

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        signal = _HTTP_PATHS.get(self.path.split("?", 1)[0])
        if signal is None:
            self.send_error(404)
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        content_type = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip()
        try:
            if content_type == "application/json":
                message = parse_otlp_json(body, signal)
            else:
                message = _REQUEST_TYPES[signal]()
                message.ParseFromString(body)
        except Exception as exc:
            self.send_error(400, f"undecodable OTLP body: {exc}")
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        if not self.sink._record(Received(signal, "http", message, headers)):
            self.send_response(self.sink.fail_with or 500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        payload = _RESPONSE_TYPES[signal]().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
