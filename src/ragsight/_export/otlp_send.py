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
  so it is dropped and counted like a failed export without a spool. gRPC
  RESOURCE_EXHAUSTED counts as RETRY only with a ``RetryInfo`` in its trailers (the
  specification: retryable only if the server signals that recovery is possible); without
  one it is what gRPC answers for a message above the server's limit (the Collector's
  4 MiB ``max_recv_msg_size_mib``), and spooling such a batch would block every batch
  behind it until ``spool.max_age``.

Endpoint, headers, compression, timeout and (for gRPC) ``otlp.insecure`` come from the same
settings the SDK exporters use; TLS files come from the OTLP variables the SDK reads
(``OTEL_EXPORTER_OTLP_[<SIGNAL>_]CERTIFICATE``, ``..._CLIENT_CERTIFICATE``, ``..._CLIENT_KEY``).
What the SDK exporters do beyond those settings is matched where it decides whether data
arrives: the same ``User-Agent``; credentials in an HTTP endpoint URL sent as Basic
authorization and ``HTTP(S)_PROXY``/``ALL_PROXY``/``NO_PROXY`` honoured (as ``requests``
does; gRPC reads its proxy variables itself); an ``https`` gRPC endpoint always uses TLS, whatever
``otlp.insecure`` says; a kept-alive HTTP connection the server closed while idle is
replaced before sending (as ``urllib3`` does), not reported as an outage.
"""

from __future__ import annotations

import base64
import contextlib
import enum
import gzip
import http.client
import os
import select
import socket
import ssl
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

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


def _tls_variable(signal: str, name: str, environ: Mapping[str, str]) -> str | None:
    """The variable that sets TLS file ``name`` for ``signal`` (per-signal first)."""
    for variable in (f"OTEL_EXPORTER_OTLP_{signal.upper()}_{name}", f"OTEL_EXPORTER_OTLP_{name}"):
        if environ.get(variable):
            return variable
    return None


def _tls_file(signal: str, name: str, environ: Mapping[str, str]) -> str | None:
    variable = _tls_variable(signal, name, environ)
    return environ[variable] if variable else None


class SenderSetupError(Exception):
    """An environment variable the sender reads names something it cannot use (the spool's
    senders refuse at configure(), not at every export); ``problem`` says what and the fix,
    without the variable's value (a proxy URL may hold a password)."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class TlsFileError(SenderSetupError):
    """A TLS file named by an ``OTEL_EXPORTER_OTLP_*`` variable cannot be used."""

    def __init__(self, variable: str, path: str, reason: str) -> None:
        super().__init__(
            variable,
            f"the outage spool cannot use the TLS file {path!r} ({reason}); fix the path or "
            f"unset the variable",
        )
        self.path = path
        self.reason = reason


def refuse_credential_provider(transport: str, signal: str, environ: Mapping[str, str]) -> None:
    """The SDK exporters can take their session (HTTP) or channel credentials (gRPC) from an
    entry point named by ``OTEL_PYTHON_EXPORTER_OTLP_<TRANSPORT>[_<SIGNAL>]_CREDENTIAL_PROVIDER``;
    the spool's senders cannot, and sending without them would be refused: SenderSetupError."""
    prefix = f"OTEL_PYTHON_EXPORTER_OTLP_{transport.upper()}"
    for variable in (
        f"{prefix}_{signal.upper()}_CREDENTIAL_PROVIDER",
        f"{prefix}_CREDENTIAL_PROVIDER",
    ):
        if environ.get(variable):
            raise SenderSetupError(
                variable,
                "the outage spool's sender cannot use the SDK's credential provider entry "
                "points (it would send without those credentials); turn the spool off "
                "(spool.enabled=false) or unset the variable",
            )


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    authorization: str | None  # a Proxy-Authorization value from the proxy URL's userinfo


def _basic(username: str | None, password: str | None) -> str:
    pair = f"{unquote(username or '')}:{unquote(password or '')}"
    return "Basic " + base64.b64encode(pair.encode("latin-1", "replace")).decode("ascii")


def proxy_for(scheme: str, host: str, environ: Mapping[str, str]) -> Proxy | None:
    """The proxy ``requests`` (the SDK's HTTP exporter) would use for ``scheme://host``:
    ``<scheme>_proxy`` else ``all_proxy`` (lower case first, as urllib), unless ``no_proxy``
    matches ``host``. Raises SenderSetupError for a proxy this sender cannot speak to."""
    import urllib.request

    def get(name: str) -> tuple[str, str] | None:
        for variable in (name, name.upper()):
            if environ.get(variable):
                return variable, environ[variable]
        return None

    found = get(f"{scheme}_proxy") or get("all_proxy")
    if found is None:
        return None
    no_proxy = get("no_proxy")
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]  # not in typeshed
    if no_proxy and bypass(host, {"no": no_proxy[1]}):
        return None
    variable, value = found
    parts = urlsplit(value if "://" in value else f"http://{value}")
    if parts.scheme != "http" or not parts.hostname:
        raise SenderSetupError(
            variable,
            f"the outage spool's HTTP sender can use an http:// proxy only (this one is "
            f"{parts.scheme}://); use an http:// proxy, add the collector's host to NO_PROXY, "
            f"or turn the spool off (spool.enabled=false)",
        )
    try:
        port = parts.port or 80
    except ValueError:
        raise SenderSetupError(variable, "the proxy URL has an invalid port") from None
    credentials = parts.username is not None or parts.password is not None
    return Proxy(
        parts.hostname, port, _basic(parts.username, parts.password) if credentials else None
    )


def _tls_names(signal: str, environ: Mapping[str, str], names: tuple[str, ...]) -> str:
    found = [v for n in names if (v := _tls_variable(signal, n, environ))]
    return " / ".join(found) or "OTEL_EXPORTER_OTLP_CERTIFICATE"


def _read_tls(signal: str, name: str, environ: Mapping[str, str]) -> bytes | None:
    variable = _tls_variable(signal, name, environ)
    if variable is None:
        return None
    path = environ[variable]
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise TlsFileError(variable, path, exc.strerror or type(exc).__name__) from None


def user_agent(transport: str) -> str:
    """The ``User-Agent`` the SDK's OTLP exporter for ``transport`` (``http`` or ``grpc``)
    sends, so a backend cannot tell the spool's sends from theirs."""
    import importlib

    version = importlib.import_module(f"opentelemetry.exporter.otlp.proto.{transport}.version")
    return f"OTel-OTLP-Exporter-Python/{version.__version__}"


def _dropped(sock: socket.socket) -> bool:
    """Whether a kept-alive connection is unusable: readable while no request is pending
    means the server closed it (or sent something unasked)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


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
        self._headers = {
            "Content-Type": "application/x-protobuf",
            "User-Agent": user_agent("http"),
            **headers,
        }
        if parts.username is not None or parts.password is not None:
            # as requests does: URL credentials become Basic authorization (and win)
            for name in [k for k in self._headers if k.lower() == "authorization"]:
                del self._headers[name]
            self._headers["Authorization"] = _basic(parts.username, parts.password)
        if compression != "none":
            self._headers["Content-Encoding"] = compression
        env = os.environ if environ is None else environ
        refuse_credential_provider("http", signal, env)
        # as requests: HTTP(S)_PROXY / ALL_PROXY / NO_PROXY (https: a CONNECT tunnel)
        self._proxy = proxy_for(parts.scheme, self._host, env)
        self._tunnel_headers: dict[str, str] = {}
        if self._proxy is not None and self._proxy.authorization:
            if self._https:
                self._tunnel_headers["Proxy-Authorization"] = self._proxy.authorization
            else:
                self._headers["Proxy-Authorization"] = self._proxy.authorization
        if self._proxy is not None and not self._https:  # the absolute URI, no userinfo
            netloc = self._host if ":" not in self._host else f"[{self._host}]"
            self._path = f"http://{netloc}:{self._port}{self._path}"
        self._context: ssl.SSLContext | None = None
        if self._https:
            for name in ("CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY"):
                _read_tls(signal, name, env)  # TlsFileError naming the variable
            try:
                self._context = ssl.create_default_context(
                    cafile=_tls_file(signal, "CERTIFICATE", env)
                )
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                variable = _tls_names(signal, env, ("CERTIFICATE",))
                raise TlsFileError(variable, env.get(variable, ""), str(exc)) from None
            certificate = _tls_file(signal, "CLIENT_CERTIFICATE", env)
            if certificate:
                try:
                    self._context.load_cert_chain(certificate, _tls_file(signal, "CLIENT_KEY", env))
                except (OSError, ValueError) as exc:
                    variable = _tls_names(signal, env, ("CLIENT_CERTIFICATE", "CLIENT_KEY"))
                    raise TlsFileError(variable, certificate, str(exc)) from None
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self._connection is not None:
            sock = self._connection.sock
            if sock is not None and _dropped(sock):
                self.close()  # closed by the server while idle: not an outage
        if self._connection is None:
            proxy = self._proxy
            host, port = (proxy.host, proxy.port) if proxy else (self._host, self._port)
            if self._https:
                self._connection = http.client.HTTPSConnection(
                    host, port, timeout=timeout, context=self._context
                )
                if proxy is not None:
                    self._connection.set_tunnel(self._host, self._port, self._tunnel_headers)
            else:
                self._connection = http.client.HTTPConnection(host, port, timeout=timeout)
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


def _has_retry_info(error: Any) -> bool:
    """Whether a gRPC error carries ``google.rpc.RetryInfo`` (the server says: retry)."""
    try:
        trailers = error.trailing_metadata() or ()
    except Exception:
        return False
    return any(key == "google.rpc.retryinfo-bin" for key, _ in trailers)


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
        # as the SDK exporter: https always means TLS; otherwise otlp.insecure, and without
        # it the scheme (ragsight's endpoints always have one: http or https)
        self._insecure = parts.scheme != "https" and (
            insecure if insecure is not None else parts.scheme == "http"
        )
        self._options = (("grpc.primary_user_agent", user_agent("grpc")),)
        self._metadata = tuple((k.lower(), v) for k, v in headers.items())
        self._compression = {
            "none": grpc.Compression.NoCompression,
            "gzip": grpc.Compression.Gzip,
            "deflate": grpc.Compression.Deflate,
        }[compression]
        self._credentials: Any = None
        if not self._insecure:
            env = os.environ if environ is None else environ
            refuse_credential_provider("grpc", signal, env)  # the SDK reads it for TLS only
            self._credentials = grpc.ssl_channel_credentials(
                _read_tls(signal, "CERTIFICATE", env),
                _read_tls(signal, "CLIENT_KEY", env),
                _read_tls(signal, "CLIENT_CERTIFICATE", env),
            )
        self._channel: Any = None
        self._stub: Any = None

    def _client(self) -> Any:
        if self._stub is None:
            grpc = self._grpc
            if self._insecure:
                self._channel = grpc.insecure_channel(
                    self._target, options=self._options, compression=self._compression
                )
            else:
                self._channel = grpc.secure_channel(
                    self._target,
                    self._credentials,
                    options=self._options,
                    compression=self._compression,
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
            retry = name in _GRPC_RETRYABLE
            if name == "RESOURCE_EXHAUSTED" and not _has_retry_info(exc):
                retry = False  # e.g. a message above the server's size limit
            if retry:
                return Answer(Outcome.RETRY, f"gRPC {name}")
            details = getattr(exc, "details", lambda: "")() or ""
            return Answer(Outcome.REJECTED, scrub(f"gRPC {name}: {details}"[:300]))
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
