"""One OTLP request, already serialized, sent once: what the outage spool sends and replays.

The SDK's OTLP exporters take SDK objects and retry with back-off inside ``export`` (up to
``otlp.timeout`` per batch), which is right without a spool and wrong with one: the spool
*is* the retry, and it must replay bytes it wrote to disk, possibly in another process. So
with the spool on, each batch is serialized once (``Export*ServiceRequest`` protobuf) and
sent by a :class:`Sender` in a single attempt whose answer is classified as the OTLP
specification says:

- ``SENT``: HTTP 2xx / gRPC OK (a partial success is the collector's decision, not retried);
- ``RETRY``: unreachable, timed out, HTTP 429/502/503/504, gRPC UNAVAILABLE,
  DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, CANCELLED, OUT_OF_RANGE, DATA_LOSS:
  the batch is spooled and sent again later;
- ``REJECTED``: anything else (400, 401, INVALID_ARGUMENT...): sending it again cannot help,
  so it is dropped and counted like a failed export without a spool.

Endpoint, headers, compression, timeout and (for gRPC) ``otlp.insecure`` come from the same
settings the SDK exporters use; TLS files come from the OTLP variables the SDK reads
(``OTEL_EXPORTER_OTLP_[<SIGNAL>_]CERTIFICATE``, ``..._CLIENT_CERTIFICATE``, ``..._CLIENT_KEY``).
"""

from __future__ import annotations

import contextlib
import enum
import gzip
import http.client
import os
import socket
import ssl
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from ragsight._config.masking import scrub


class Outcome(enum.Enum):
    SENT = "sent"
    RETRY = "retry"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    reason: str = ""  # scrubbed; empty when sent


class Sender(Protocol):
    def send(self, payload: bytes, timeout: float) -> Answer: ...

    def interrupt(self) -> None:
        """From another thread: make a send in progress return RETRY now."""

    def close(self) -> None: ...


_RETRYABLE_HTTP = frozenset({429, 502, 503, 504})
_GRPC_RETRYABLE = frozenset(
    {
        "UNAVAILABLE",
        "DEADLINE_EXCEEDED",
        "RESOURCE_EXHAUSTED",
        "ABORTED",
        "CANCELLED",
        "OUT_OF_RANGE",
        "DATA_LOSS",
    }
)


def _tls_file(signal: str, name: str, environ: Mapping[str, str]) -> str | None:
    return (
        environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_{name}")
        or environ.get(f"OTEL_EXPORTER_OTLP_{name}")
        or None
    )


def _compress(payload: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(payload)
    if compression == "deflate":
        return zlib.compress(payload)
    return payload


class HttpSender:
    """OTLP/HTTP protobuf: one POST per send on a kept-alive connection (reopened after
    any error). ``timeout`` is the socket timeout of connecting and of each read."""

    def __init__(
        self,
        endpoint: str,
        headers: Mapping[str, str],
        compression: str,
        signal: str,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        parts = urlsplit(endpoint)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (443 if self._https else 80)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._compression = compression
        self._headers = {"Content-Type": "application/x-protobuf", **headers}
        if compression != "none":
            self._headers["Content-Encoding"] = compression
        self._context: ssl.SSLContext | None = None
        if self._https:
            env = os.environ if environ is None else environ
            self._context = ssl.create_default_context(cafile=_tls_file(signal, "CERTIFICATE", env))
            certificate = _tls_file(signal, "CLIENT_CERTIFICATE", env)
            if certificate:
                self._context.load_cert_chain(certificate, _tls_file(signal, "CLIENT_KEY", env))
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self._connection is None:
            if self._https:
                self._connection = http.client.HTTPSConnection(
                    self._host, self._port, timeout=timeout, context=self._context
                )
            else:
                self._connection = http.client.HTTPConnection(
                    self._host, self._port, timeout=timeout
                )
        self._connection.timeout = timeout
        if self._connection.sock is not None:
            self._connection.sock.settimeout(timeout)
        return self._connection

    def send(self, payload: bytes, timeout: float) -> Answer:
        body = _compress(payload, self._compression)
        try:
            connection = self._connect(timeout)
            connection.request("POST", self._path, body=body, headers=self._headers)
            response = connection.getresponse()
            response.read()
            status = response.status
            if response.will_close:
                self.close()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return Answer(Outcome.RETRY, scrub(f"{type(exc).__name__}: {exc}"))
        if 200 <= status < 300:
            return Answer(Outcome.SENT)
        outcome = Outcome.RETRY if status in _RETRYABLE_HTTP else Outcome.REJECTED
        return Answer(outcome, f"HTTP {status}")

    def interrupt(self) -> None:
        connection = self._connection
        sock = connection.sock if connection is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # the blocked read returns at once

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


_GRPC_SERVICES = {
    "traces": (
        "opentelemetry.proto.collector.trace.v1.trace_service_pb2",
        "ExportTraceServiceRequest",
        "opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc",
        "TraceServiceStub",
    ),
    "metrics": (
        "opentelemetry.proto.collector.metrics.v1.metrics_service_pb2",
        "ExportMetricsServiceRequest",
        "opentelemetry.proto.collector.metrics.v1.metrics_service_pb2_grpc",
        "MetricsServiceStub",
    ),
    "logs": (
        "opentelemetry.proto.collector.logs.v1.logs_service_pb2",
        "ExportLogsServiceRequest",
        "opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc",
        "LogsServiceStub",
    ),
}


class GrpcSender:
    """OTLP/gRPC: one unary Export per send. After UNAVAILABLE the channel is rebuilt, so
    the next attempt connects at once instead of waiting out gRPC's reconnect back-off."""

    def __init__(
        self,
        endpoint: str,
        headers: Mapping[str, str],
        compression: str,
        signal: str,
        insecure: bool | None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        import importlib

        import grpc  # type: ignore[import-untyped]

        self._grpc = grpc
        messages, request, services, stub = _GRPC_SERVICES[signal]
        self._request_type: Any = getattr(importlib.import_module(messages), request)
        self._stub_type: Any = getattr(importlib.import_module(services), stub)
        parts = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
        self._target = parts.netloc or endpoint
        self._insecure = insecure if insecure is not None else parts.scheme != "https"
        self._metadata = tuple((k.lower(), v) for k, v in headers.items())
        self._compression = {
            "none": grpc.Compression.NoCompression,
            "gzip": grpc.Compression.Gzip,
            "deflate": grpc.Compression.Deflate,
        }[compression]
        self._credentials: Any = None
        if not self._insecure:
            env = os.environ if environ is None else environ

            def read(name: str) -> bytes | None:
                path = _tls_file(signal, name, env)
                if not path:
                    return None
                with open(path, "rb") as handle:
                    return handle.read()

            self._credentials = grpc.ssl_channel_credentials(
                read("CERTIFICATE"), read("CLIENT_KEY"), read("CLIENT_CERTIFICATE")
            )
        self._channel: Any = None
        self._stub: Any = None

    def _client(self) -> Any:
        if self._stub is None:
            grpc = self._grpc
            if self._insecure:
                self._channel = grpc.insecure_channel(self._target, compression=self._compression)
            else:
                self._channel = grpc.secure_channel(
                    self._target, self._credentials, compression=self._compression
                )
            self._stub = self._stub_type(self._channel)
        return self._stub

    def send(self, payload: bytes, timeout: float) -> Answer:
        try:
            request = self._request_type.FromString(payload)
        except Exception as exc:  # a payload that does not parse is never retried
            return Answer(Outcome.REJECTED, scrub(f"{type(exc).__name__}: {exc}"))
        try:
            self._client().Export(request, metadata=self._metadata, timeout=timeout)
        except self._grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            name = getattr(code, "name", "UNKNOWN")
            if name in {"UNAVAILABLE", "CANCELLED"}:
                self.close()  # reconnect at once next time (CANCELLED: interrupted)
            outcome = Outcome.RETRY if name in _GRPC_RETRYABLE else Outcome.REJECTED
            return Answer(outcome, f"gRPC {name}")
        except Exception as exc:
            self.close()
            return Answer(Outcome.RETRY, scrub(f"{type(exc).__name__}: {exc}"))
        return Answer(Outcome.SENT)

    def interrupt(self) -> None:
        channel = self._channel
        if channel is not None:
            with contextlib.suppress(Exception):
                channel.close()  # cancels the RPC in flight (CANCELLED: retryable)

    def close(self) -> None:
        channel, self._channel, self._stub = self._channel, None, None
        if channel is not None:
            with contextlib.suppress(Exception):  # a broken channel: nothing to report
                channel.close()
