"""shutdown() and the exit hook return within shutdown_timeout (+ SHUTDOWN_MARGIN) in
every collector failure mode, and what was not sent is counted (issue 11, item 3).

No test measures a duration. Boundedness is shown by a shutdown that *returns* while the
collector is still holding every request (a blackhole that never answers, a handler
blocked on an event that is only released after the assertion), guarded by a watchdog far
longer than any bound; and by checking the deadline handed to each exporter call.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from otlp_sink import OtlpSink
from ports import closed_port

from ragsight import ConfigError
from ragsight._config.validation import load_settings
from ragsight._core.limits import LimitError
from ragsight._export.health import SIGNAL_TRACES, ExportHealth
from ragsight._export.setup import build_providers
from ragsight._export.shutdown import SHUTDOWN_MARGIN, Deadline, ShutdownPlan, run_bounded

WATCHDOG = 20.0  # 25x the bound below: only a shutdown that hangs reaches it
SPANS = 50


class Blackhole:
    """Accepts TCP connections and never answers until released."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.held: list[socket.socket] = []
        self.released = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.released.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.held.append(connection)

    def still_blocking(self) -> bool:
        return not self.released.is_set()

    def release(self) -> None:
        self.released.set()
        for connection in self.held:
            connection.close()
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the accept() thread
        self.server.close()


@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    hole = Blackhole()
    yield hole
    hole.release()


def _telemetry(endpoint: str, protocol: str, tmp_path: Path, health: ExportHealth) -> Any:
    settings = load_settings(
        environ={},
        cwd=str(tmp_path),
        service_name="bounded",
        otlp_endpoint=endpoint,
        otlp_protocol=protocol,
        otlp_timeout=30.0,  # each export would wait far longer than shutdown allows
        shutdown_timeout=0.5,
        batch_schedule_delay=0.01,
    )
    return build_providers(settings, health=health)


def _emit_and_shut_down(telemetry: Any) -> bool:
    tracer = telemetry.tracer_provider.get_tracer("t")
    for i in range(SPANS):
        with tracer.start_as_current_span(f"s{i}"):
            pass
    done = threading.Thread(target=telemetry.shutdown, daemon=True)
    done.start()
    done.join(WATCHDOG)
    return not done.is_alive()


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_shutdown_returns_while_a_blackhole_collector_still_holds_the_request(
    protocol: str, blackhole: Blackhole, tmp_path: Path
) -> None:
    health = ExportHealth()
    telemetry = _telemetry(blackhole.endpoint, protocol, tmp_path, health)
    assert _emit_and_shut_down(telemetry)
    assert blackhole.still_blocking()
    assert health.dropped_counts()[SIGNAL_TRACES] == SPANS


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_shutdown_returns_while_a_slow_collector_is_still_answering(
    protocol: str, tmp_path: Path
) -> None:
    release = threading.Event()
    with OtlpSink(delay=0.0) as sink:
        sink._record = lambda item: release.wait(WATCHDOG) and False
        endpoint = sink.grpc_endpoint if protocol == "grpc" else sink.http_endpoint
        health = ExportHealth()
        telemetry = _telemetry(endpoint, protocol, tmp_path, health)
        finished = _emit_and_shut_down(telemetry)
        still_answering = not release.is_set()
        release.set()
    assert finished
    assert still_answering
    assert health.dropped_counts()[SIGNAL_TRACES] == SPANS


@pytest.mark.parametrize(
    ("kind", "protocol"),
    [
        ("dns-failure", "http/protobuf"),
        ("dns-failure", "grpc"),
        ("dead-port", "grpc"),
        ("dead-port", "http/protobuf"),
        ("503", "http/protobuf"),
        ("503", "grpc"),
    ],
)
def test_shutdown_is_bounded_and_counts_every_span_for_each_failure_mode(
    kind: str, protocol: str, tmp_path: Path
) -> None:
    with OtlpSink(fail_with=503) as sink:
        endpoint = {
            "dns-failure": "http://collector.invalid:4317",
            "dead-port": f"http://127.0.0.1:{closed_port()}",
            "503": sink.grpc_endpoint if protocol == "grpc" else sink.http_endpoint,
        }[kind]
        health = ExportHealth()
        telemetry = _telemetry(endpoint, protocol, tmp_path, health)
        assert _emit_and_shut_down(telemetry)
    assert health.dropped_counts()[SIGNAL_TRACES] == SPANS


class _StuckExporter:
    """An exporter whose export never returns on its own; records the deadlines it gets."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.shutdown_millis: list[float] = []

    def export(self, batch: Sequence[Any]) -> Any:
        self.release.wait(WATCHDOG)
        raise ConnectionError("released")

    def shutdown(self, timeout_millis: float = 30_000) -> None:
        self.shutdown_millis.append(timeout_millis)


def test_every_exporter_shutdown_gets_the_time_left_not_its_own_default() -> None:
    stuck = _StuckExporter()
    plan = ShutdownPlan(exporters=[stuck])
    assert run_bounded(plan, 0.2)
    assert stuck.shutdown_millis
    assert all(0 < m <= 200 for m in stuck.shutdown_millis)


def test_a_stuck_export_is_abandoned_and_its_items_counted_once(tmp_path: Path) -> None:
    from ragsight._export.exporters import BoundedSpanProcessor, ExportCall

    health = ExportHealth()
    stuck = _StuckExporter()
    settings = load_settings(environ={}, cwd=str(tmp_path), batch_schedule_delay=0.01)
    call = ExportCall(SIGNAL_TRACES, "stuck", health)
    processor = BoundedSpanProcessor(stuck, call, settings)  # type: ignore[arg-type]
    provider_spans = _spans(SPANS)
    for span in provider_spans:
        processor.on_end(span)
    plan = ShutdownPlan(processors=[processor], calls=[call])
    assert run_bounded(plan, 0.3)
    counted = health.dropped_counts()[SIGNAL_TRACES]
    stuck.release.set()  # the export now fails: its batch was already counted
    processor._batch._worker.join(WATCHDOG)
    assert counted == SPANS
    assert health.dropped_counts()[SIGNAL_TRACES] == SPANS


class _HangingProvider:
    """A provider whose own processors (the SDK's, as an OTEL_CONFIG_FILE builds) hang."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def shutdown(self) -> None:
        self.release.wait(WATCHDOG)


def test_giving_up_on_providers_ragsight_does_not_count_says_nothing_was_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hanging = _HangingProvider()
    try:
        with caplog.at_level("WARNING", logger="ragsight"):
            assert not run_bounded(ShutdownPlan(providers=[hanging]), 0.2)
    finally:
        hanging.release.set()
    (message,) = [r.getMessage() for r in caplog.records if "gave up" in r.getMessage()]
    assert "0 telemetry items" not in message
    assert "not counted" in message


def _spans(count: int) -> list[Any]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t")
    for i in range(count):
        with tracer.start_as_current_span(f"s{i}"):
            pass
    return list(memory.get_finished_spans())


def test_a_deadline_reports_the_time_left_on_its_clock() -> None:
    now = [100.0]
    deadline = Deadline(2.0, clock=lambda: now[0])
    now[0] = 101.5
    assert deadline.remaining() == pytest.approx(0.5)
    now[0] = 103.0
    assert deadline.expired()
    assert deadline.remaining() == 0.0


@pytest.mark.parametrize("timeout", [float("inf"), float("nan"), -1.0, 0.0, 1e9])
def test_shutdown_refuses_a_timeout_outside_the_shutdown_timeout_limit(timeout: float) -> None:
    with pytest.raises(LimitError):
        run_bounded(ShutdownPlan(), timeout)


@pytest.mark.parametrize("timeout", ["inf", "1e9", "0"])
def test_configuration_refuses_a_shutdown_timeout_shutdown_would_refuse(
    timeout: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"RAGSIGHT_SHUTDOWN_TIMEOUT": timeout}, cwd=str(tmp_path))
    assert "shutdown_timeout" in str(info.value)
    assert "<= 300" in str(info.value)


def test_the_margin_is_a_fraction_of_a_second() -> None:
    assert SHUTDOWN_MARGIN < 1.0


def test_the_exit_hook_returns_while_the_collector_still_holds_the_request(
    blackhole: Blackhole, tmp_path: Path
) -> None:
    """A process exiting with a blackhole collector ends on its own (the exit hook is
    bounded), while the blackhole still has not answered."""
    script = textwrap.dedent(
        f"""
        import ragsight
        ragsight.configure(service_name="exit-hook", otlp_endpoint={blackhole.endpoint!r},
                           otlp_timeout=30, shutdown_timeout=0.5, batch_schedule_delay=0.01)
        from opentelemetry import trace
        tracer = trace.get_tracer("t")
        for i in range(20):
            with tracer.start_as_current_span("s"):
                pass
        import time; time.sleep(0.2)  # an export is now stuck in the blackhole
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, timeout=WATCHDOG, capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert blackhole.still_blocking()
