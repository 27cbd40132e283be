"""The outage spool's own OTLP senders behave as the SDK exporters they replace (issue 11,
item 5): what arrives, with which headers, over which transport, must not depend on
``spool.enabled``. Each test runs a sender against a real local receiver (HTTP, HTTPS,
gRPC, gRPC over TLS) and checks one behaviour the SDK exporter has.
"""

from __future__ import annotations

import base64
import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from otlp_sink import TRACES, OtlpSink, _GrpcService

from ragsight import ConfigError
from ragsight._config.validation import load_settings
from ragsight._export.health import SIGNAL_TRACES, ExportHealth
from ragsight._export.otlp_send import GrpcSender, HttpSender, Outcome
from ragsight._export.setup import build_providers
from ragsight._export.spool import SpoolBudget, SpoolingCall, SpoolStore


def _request(name: str, padding: int = 0) -> bytes:
    """A serialized ExportTraceServiceRequest holding one span (``padding`` bytes big)."""
    request = trace_service_pb2.ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.name = name
    span.trace_id = b"\x01" * 16
    span.span_id = b"\x02" * 8
    if padding:
        attribute = span.attributes.add()
        attribute.key = "padding"
        attribute.value.string_value = "x" * padding
    return request.SerializeToString()


def _names(sink: OtlpSink) -> list[str]:
    return [span.name for _, _, span in sink.spans()]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, and its key."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
    command += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"]
    command += ["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
    subprocess.run(
        command,
        check=True,
        capture_output=True,
    )
    return cert, key


@contextlib.contextmanager
def https_sink(tls: tuple[Path, Path]) -> Iterator[OtlpSink]:
    """An OtlpSink whose HTTP receiver speaks TLS only."""
    sink = OtlpSink(grpc_enabled=False).start()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls)
    server = sink._http_server
    assert server is not None
    server.socket = context.wrap_socket(server.socket, server_side=True)
    try:
        yield sink
    finally:
        sink.stop()


@contextlib.contextmanager
def grpc_sink(
    tls: tuple[Path, Path] | None = None, options: list[tuple[str, Any]] | None = None
) -> Iterator[OtlpSink]:
    """An OtlpSink with a gRPC trace receiver over TLS (``tls``) and/or server ``options``."""
    sink = OtlpSink(grpc_enabled=False, http_enabled=False)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=options or [])
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_GrpcService(sink, TRACES), server)
    if tls is None:
        sink.grpc_port = server.add_insecure_port("127.0.0.1:0")
    else:
        cert, key = tls
        credentials = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
        sink.grpc_port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    try:
        yield sink
    finally:
        server.stop(grace=None)


def _grpc(sink: OtlpSink, scheme: str = "http", **kwargs: Any) -> GrpcSender:
    host = "localhost" if scheme == "https" else "127.0.0.1"
    return GrpcSender(
        f"{scheme}://{host}:{sink.grpc_port}",
        {},
        "none",
        SIGNAL_TRACES,
        kwargs.pop("insecure", None),
        **kwargs,
    )


# --------------------------------------------------------------------------------------
# Transport security
# --------------------------------------------------------------------------------------
def test_spans_arrive_over_https_with_a_self_signed_certificate(tls: tuple[Path, Path]) -> None:
    cert, _ = tls
    with https_sink(tls) as sink:
        sender = HttpSender(
            f"https://localhost:{sink.http_port}/v1/traces",
            {},
            "gzip",
            SIGNAL_TRACES,
            environ={"OTEL_EXPORTER_OTLP_CERTIFICATE": str(cert)},
        )
        assert sender.send(_request("over-https"), 5.0).outcome is Outcome.SENT
        sender.close()
        assert _names(sink) == ["over-https"]


def test_the_per_signal_certificate_variable_wins_over_the_generic_one(
    tls: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, _ = tls
    with https_sink(tls) as sink:
        environ = {
            "OTEL_EXPORTER_OTLP_CERTIFICATE": str(tmp_path / "missing.pem"),
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": str(cert),
        }
        sender = HttpSender(
            f"https://localhost:{sink.http_port}/v1/traces", {}, "none", SIGNAL_TRACES, environ
        )
        assert sender.send(_request("per-signal"), 5.0).outcome is Outcome.SENT
        sender.close()


def test_spans_arrive_over_grpc_with_tls(tls: tuple[Path, Path]) -> None:
    cert, _ = tls
    with grpc_sink(tls) as sink:
        sender = _grpc(sink, "https", environ={"OTEL_EXPORTER_OTLP_CERTIFICATE": str(cert)})
        assert sender.send(_request("grpc-tls"), 5.0).outcome is Outcome.SENT
        sender.close()
        assert _names(sink) == ["grpc-tls"]


def test_an_https_grpc_endpoint_uses_tls_even_when_otlp_insecure_is_true(
    tls: tuple[Path, Path],
) -> None:
    # the SDK exporter: an https scheme always means TLS (OTEL_EXPORTER_OTLP_INSECURE=true
    # set for other endpoints must not turn this one into plaintext)
    cert, _ = tls
    with grpc_sink(tls) as sink:
        sender = _grpc(
            sink, "https", insecure=True, environ={"OTEL_EXPORTER_OTLP_CERTIFICATE": str(cert)}
        )
        assert sender.send(_request("still-tls"), 5.0).outcome is Outcome.SENT
        sender.close()


def _spooling_build_error(
    tmp_path: Path, endpoint: str, protocol: str | None = None
) -> ConfigError:
    """What building spooling exporters to ``endpoint`` raises (no environment given)."""
    protocol_option = {} if protocol is None else {"otlp_protocol": protocol}
    settings = load_settings(
        environ={},
        cwd=tmp_path,
        otlp_endpoint=endpoint,
        spool_enabled=True,
        spool_directory=str(tmp_path / "spool"),
        **protocol_option,
    )
    with pytest.raises(ConfigError) as caught:
        build_providers(settings, health=ExportHealth())
    return caught.value


@pytest.mark.parametrize("variable", ["CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY"])
@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_an_unreadable_tls_file_is_a_config_error_naming_the_variable_and_the_fix(
    variable: str, protocol: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"OTEL_EXPORTER_OTLP_{variable}"
    monkeypatch.setenv(name, str(tmp_path / "absent.pem"))
    (problem,) = _spooling_build_error(tmp_path, "https://localhost:4318", protocol).problems
    assert name in problem.key
    assert "absent.pem" in str(problem)
    assert "fix the path or unset the variable" in str(problem)


# --------------------------------------------------------------------------------------
# What the request carries
# --------------------------------------------------------------------------------------
def test_credentials_in_the_endpoint_url_are_sent_as_basic_authorization() -> None:
    # as requests does for the SDK's HTTP exporter (percent-escapes decoded)
    with OtlpSink(grpc_enabled=False) as sink:
        sender = HttpSender(
            f"http://user:p%40ss@127.0.0.1:{sink.http_port}/v1/traces",
            {"Authorization": "Bearer replaced"},
            "none",
            SIGNAL_TRACES,
        )
        assert sender.send(_request("with-credentials"), 5.0).outcome is Outcome.SENT
        sender.close()
        (received,) = sink.received(TRACES)
    expected = "Basic " + base64.b64encode(b"user:p@ss").decode()
    assert received.headers["authorization"] == expected


def test_the_http_sender_sends_the_sdk_exporters_user_agent() -> None:
    from opentelemetry.exporter.otlp.proto.http import _OTLP_HTTP_HEADERS

    with OtlpSink(grpc_enabled=False) as sink:
        sender = HttpSender(f"{sink.http_endpoint}/v1/traces", {}, "none", SIGNAL_TRACES)
        sender.send(_request("agent"), 5.0)
        sender.close()
        (received,) = sink.received(TRACES)
    assert received.headers["user-agent"] == _OTLP_HTTP_HEADERS["User-Agent"]


def test_the_grpc_sender_sends_the_sdk_exporters_user_agent() -> None:
    from opentelemetry.exporter.otlp.proto.grpc import _USER_AGENT_HEADER_VALUE

    with grpc_sink() as sink:
        sender = _grpc(sink)
        sender.send(_request("agent"), 5.0)
        sender.close()
        (received,) = sink.received(TRACES)
    assert received.headers["user-agent"].startswith(_USER_AGENT_HEADER_VALUE + " ")


# --------------------------------------------------------------------------------------
# Classifying answers: what is spooled and what is not
# --------------------------------------------------------------------------------------
def test_a_batch_above_the_grpc_servers_message_limit_is_rejected_not_retried() -> None:
    # gRPC answers RESOURCE_EXHAUSTED (no RetryInfo) for a message above the receiver's
    # max size (the Collector: 4 MiB); sending it again cannot succeed
    with grpc_sink(options=[("grpc.max_receive_message_length", 4096)]) as sink:
        sender = _grpc(sink)
        answer = sender.send(_request("too-big", padding=10_000), 5.0)
        sender.close()
    assert answer.outcome is Outcome.REJECTED
    assert "RESOURCE_EXHAUSTED" in answer.reason


class _Exhausted(trace_service_pb2_grpc.TraceServiceServicer):
    """RESOURCE_EXHAUSTED with a RetryInfo trailer: the server says to come back later."""

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        from google.protobuf.duration_pb2 import Duration
        from google.rpc.error_details_pb2 import RetryInfo

        info = RetryInfo(retry_delay=Duration(seconds=1)).SerializeToString()
        context.set_trailing_metadata((("google.rpc.retryinfo-bin", info),))
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "memory limit, retry later")


def test_resource_exhausted_with_retry_info_is_retried() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Exhausted(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        sender = GrpcSender(f"http://127.0.0.1:{port}", {}, "none", SIGNAL_TRACES, None)
        answer = sender.send(_request("later"), 5.0)
        sender.close()
    finally:
        server.stop(grace=None)
    assert answer.outcome is Outcome.RETRY


def test_an_oversized_batch_does_not_hold_back_the_batches_behind_it(tmp_path: Path) -> None:
    with grpc_sink(options=[("grpc.max_receive_message_length", 4096)]) as sink:
        health = ExportHealth()
        store = SpoolStore(tmp_path, SIGNAL_TRACES, "grpc", SpoolBudget(1 << 20), 3600.0)
        call = SpoolingCall(
            SIGNAL_TRACES,
            "test",
            _grpc(sink),
            store,
            timeout=5.0,
            health=health,
            encode=lambda batch: _request(batch[0], padding=batch[1]),
        )
        assert not call.run(None, ["huge", 10_000])
        assert call.run(None, ["small", 0])
        call.sender.close()
        assert _names(sink) == ["small"]
    assert store.pending == 0
    assert health.dropped_counts() == {SIGNAL_TRACES: 2}  # the batch's two "items"


class _ClosesIdleConnections:
    """HTTP/1.1 without ``Connection: close`` that closes each connection after answering
    (a collector, proxy or load balancer whose idle timeout passed)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.closed = threading.Semaphore(0)
        self.requests = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.server.accept()
                with connection:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        data += connection.recv(65536)
                    head, _, body = data.partition(b"\r\n\r\n")
                    length = next(
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    )
                    while len(body) < length:
                        body += connection.recv(65536)
                    self.requests += 1
                    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                self.closed.release()

    def stop(self) -> None:
        self.server.close()


def test_a_connection_the_server_closed_while_idle_is_replaced_not_taken_for_an_outage() -> None:
    server = _ClosesIdleConnections()
    try:
        sender = HttpSender(f"http://127.0.0.1:{server.port}/v1/traces", {}, "none", "traces")
        assert sender.send(_request("first"), 5.0).outcome is Outcome.SENT
        assert server.closed.acquire(timeout=5)  # the kept-alive connection is gone
        second = sender.send(_request("second"), 5.0)
        sender.close()
    finally:
        server.stop()
    assert second.outcome is Outcome.SENT
    assert server.requests == 2


# --------------------------------------------------------------------------------------
# Proxies: HTTP(S)_PROXY, ALL_PROXY, NO_PROXY, as requests reads them for the SDK exporter
# --------------------------------------------------------------------------------------
class _Proxy:
    """A forward proxy: answers plain requests itself (recording the request line and
    headers) and tunnels CONNECT to the requested host."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.seen: list[tuple[str, dict[str, str]]] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.server.accept()
                threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError), connection:
            data = b""
            while b"\r\n\r\n" not in data:
                data += connection.recv(65536)
            head, _, _ = data.partition(b"\r\n\r\n")
            line, *fields = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, v in (f.split(":", 1) for f in fields)}
            self.seen.append((line, headers))
            if not line.startswith("CONNECT "):
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                return
            host, port = line.split()[1].rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)), timeout=5)
            connection.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            threading.Thread(target=self._pipe, args=(upstream, connection), daemon=True).start()
            self._pipe(connection, upstream)

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                target.sendall(chunk)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def stop(self) -> None:
        self.server.close()


@pytest.fixture
def proxy() -> Iterator[_Proxy]:
    server = _Proxy()
    yield server
    server.stop()


def test_plain_http_goes_through_http_proxy_with_its_credentials(proxy: _Proxy) -> None:
    environ = {"HTTP_PROXY": f"http://me:s%3Dcret@127.0.0.1:{proxy.port}"}
    # the collector's name resolves nowhere: only the proxy can take the request
    sender = HttpSender("http://collector.invalid:4318/v1/traces", {}, "none", "traces", environ)
    answer = sender.send(_request("via-proxy"), 5.0)
    sender.close()
    assert answer.outcome is Outcome.SENT
    ((line, headers),) = proxy.seen
    assert line == "POST http://collector.invalid:4318/v1/traces HTTP/1.1"
    assert headers["proxy-authorization"] == "Basic " + base64.b64encode(b"me:s=cret").decode()


def test_https_goes_through_a_connect_tunnel_of_https_proxy(
    proxy: _Proxy, tls: tuple[Path, Path]
) -> None:
    cert, _ = tls
    with https_sink(tls) as sink:
        environ = {
            "https_proxy": f"http://127.0.0.1:{proxy.port}",
            "OTEL_EXPORTER_OTLP_CERTIFICATE": str(cert),
        }
        endpoint = f"https://localhost:{sink.http_port}/v1/traces"
        sender = HttpSender(endpoint, {}, "none", SIGNAL_TRACES, environ)
        assert sender.send(_request("tunnelled"), 5.0).outcome is Outcome.SENT
        sender.close()
        assert _names(sink) == ["tunnelled"]
    assert [line for line, _ in proxy.seen] == [f"CONNECT localhost:{sink.http_port} HTTP/1.0"]


def test_a_host_in_no_proxy_is_reached_directly() -> None:
    with OtlpSink(grpc_enabled=False) as sink:
        environ = {"ALL_PROXY": "http://127.0.0.1:9", "NO_PROXY": "localhost,127.0.0.1"}
        sender = HttpSender(f"{sink.http_endpoint}/v1/traces", {}, "none", "traces", environ)
        assert sender.send(_request("direct"), 5.0).outcome is Outcome.SENT
        sender.close()
        assert _names(sink) == ["direct"]


def test_a_proxy_the_sender_cannot_use_is_a_config_error_that_hides_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks5://me:hunter2@proxy.example:1080")
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    error = _spooling_build_error(tmp_path, "https://collector.example:4318")
    (problem,) = error.problems
    assert problem.key == "HTTPS_PROXY"
    assert "http:// proxy only" in str(problem)
    assert "hunter2" not in str(error)


@pytest.mark.parametrize(
    ("protocol", "endpoint", "variable"),
    [
        (
            "http/protobuf",
            "http://localhost:4318",
            "OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER",
        ),
        (
            "http/protobuf",
            "http://localhost:4318",
            "OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER",
        ),
        ("grpc", "https://localhost:4317", "OTEL_PYTHON_EXPORTER_OTLP_GRPC_CREDENTIAL_PROVIDER"),
    ],
)
def test_an_sdk_credential_provider_is_refused_with_the_spool_on_instead_of_ignored(
    protocol: str, endpoint: str, variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # sending without the provider's credentials would be refused and every batch dropped
    monkeypatch.setenv(variable, "my_provider")
    (problem,) = _spooling_build_error(tmp_path, endpoint, protocol).problems
    assert problem.key == variable
    assert "spool.enabled=false" in str(problem)


# --------------------------------------------------------------------------------------
# Counted in public
# --------------------------------------------------------------------------------------
def test_spooled_and_replayed_items_are_exported_as_metrics(tmp_path: Path) -> None:
    from ragsight import names

    def last(sink: OtlpSink, name: str) -> int | None:
        values = [
            int(point.as_int)
            for _, _, metric in sink.metrics()
            if metric.name == name
            for point in metric.sum.data_points
            if any(a.key == names.RAGSIGHT_SIGNAL and a.value.string_value == "traces"
                   for a in point.attributes)
        ]  # fmt: skip
        return values[-1] if values else None

    with OtlpSink(fail_with=503) as sink:
        settings = load_settings(
            environ={},
            cwd=tmp_path,
            otlp_endpoint=sink.http_endpoint,
            batch_schedule_delay=0.05,
            batch_metric_export_interval=3600.0,
            spool_enabled=True,
            spool_directory=str(tmp_path / "spool"),
        )
        providers = build_providers(settings, health=ExportHealth())
        tracer = providers.tracer_provider.get_tracer("spool-metrics")
        for index in range(3):
            with tracer.start_as_current_span(f"kept-{index}"):
                pass
        assert sink.wait_for(lambda s: len(s.refused) >= 1, timeout=20)
        providers.force_flush(5.0)
        sink.fail_with = None
        assert sink.wait_for(lambda s: len(s.spans()) >= 3, timeout=30)
        # the metric batch of an earlier flush waits in the spool too: collect until the
        # newest collection (which saw the replay) has arrived
        for _ in range(60):
            providers.meter_provider.force_flush(5_000)
            if sink.wait_for(
                lambda s: last(s, names.RAGSIGHT_EXPORT_REPLAYED.name) == 3, timeout=0.5
            ):
                break
        providers.shutdown(2.0)

    assert last(sink, names.RAGSIGHT_EXPORT_SPOOLED.name) == 3
    assert last(sink, names.RAGSIGHT_EXPORT_REPLAYED.name) == 3


class _Raising:
    """A sender that fails with an exception instead of an answer (http.client raises
    ValueError for a header value with a line break, before anything is sent)."""

    def send(self, payload: bytes, timeout: float) -> Any:
        raise ValueError("Invalid header value b'b\\nc'")

    def interrupt(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_batch_whose_send_raises_is_dropped_and_counted_exactly_once(tmp_path: Path) -> None:
    health = ExportHealth()
    store = SpoolStore(tmp_path, SIGNAL_TRACES, "raising", SpoolBudget(1 << 20), 3600.0)
    call = SpoolingCall(
        SIGNAL_TRACES,
        "test",
        _Raising(),
        store,
        timeout=5.0,
        health=health,
        encode=lambda batch: b"payload",
    )
    assert not call.run(None, ["a", "b", "c"])
    assert call.abandon() == 0  # nothing left in flight to count a second time
    assert health.dropped_counts() == {SIGNAL_TRACES: 3}
    assert store.pending == 0


@pytest.mark.parametrize(
    "source",
    [
        {"environ": {"OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20SECRET123%0Ax"}},
        {"environ": {"OTEL_EXPORTER_OTLP_LOGS_HEADERS": "x-tenant=a%00b"}},
        {"environ": {"OTEL_EXPORTER_OTLP_HEADERS": "bad%0Aname=SECRET123"}},
        {"environ": {}, "otlp_headers": {"authorization": "Bearer SECRET123\r\n"}},
    ],
)
def test_a_header_neither_http_nor_grpc_can_send_is_a_config_error_that_hides_its_value(
    source: dict[str, Any], tmp_path: Path
) -> None:
    # accepted before: with the spool off every batch failed and was dropped, with it on
    # the sender raised (see the previous test)
    with pytest.raises(ConfigError) as caught:
        load_settings(cwd=tmp_path, otlp_endpoint="http://localhost:4318", **source)
    assert "control character" in str(caught.value)
    assert "SECRET123" not in str(caught.value)
