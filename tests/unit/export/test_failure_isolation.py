"""Collector down, refusing (503), slow or unresolvable: the app never notices.

Stated bound: with ``batch.max_queue_size`` 2048, pushing 100k spans at a dead collector
must not raise traced memory (tracemalloc peak over the run) above 64 MiB; measured about
20 MiB, while keeping every span would take several hundred MiB. Every span is accounted
for: nothing is delivered, so dropped == created.
"""

from __future__ import annotations

import logging
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from otlp_sink import OtlpSink
from ports import closed_port

from ragsight import names
from ragsight._config.validation import load_settings
from ragsight._export.health import ExportHealth
from ragsight._export.setup import build_providers

SPANS = 100_000
MEMORY_BOUND = 64 * 1024 * 1024


@pytest.fixture(scope="module")
def refusing_sink() -> Iterator[OtlpSink]:
    with OtlpSink(fail_with=503) as sink:
        yield sink


def _settings(endpoint: str, protocol: str, tmp_path: Path, **extra: object) -> object:
    arguments: dict[str, object] = {
        "service_name": "isolated",
        "otlp_endpoint": endpoint,
        "otlp_protocol": protocol,
        "otlp_timeout": 0.3,
        "batch_schedule_delay": 0.05,
        "batch_max_queue_size": 2048,
        "batch_metric_export_interval": 0.1,
    }
    return load_settings(environ={}, cwd=str(tmp_path), **{**arguments, **extra})


def _endpoint(kind: str, protocol: str, sink: OtlpSink) -> str:
    if kind == "closed-port":
        return f"http://127.0.0.1:{closed_port()}"
    if kind == "dns-failure":
        return "http://collector.invalid:4317"
    return sink.grpc_endpoint if protocol == "grpc" else sink.http_endpoint


def _flood(
    kind: str, protocol: str, sink: OtlpSink, tmp_path: Path, spans: int, measure: bool
) -> tuple[ExportHealth, int]:
    """Create ``spans`` spans and one metric point; return health and the memory peak."""
    health = ExportHealth()
    settings = _settings(_endpoint(kind, protocol, sink), protocol, tmp_path)
    telemetry = build_providers(settings, health=health)  # type: ignore[arg-type]
    tracer = telemetry.tracer_provider.get_tracer(names.SCOPE_NAME)
    histogram = telemetry.meter_provider.get_meter(names.SCOPE_NAME).create_histogram("x")
    histogram.record(0.1)
    peak = 0
    if measure:
        tracemalloc.start()
        baseline = tracemalloc.get_traced_memory()[0]
    for _ in range(spans):
        with tracer.start_as_current_span("call"):
            pass
    if measure:
        peak = tracemalloc.get_traced_memory()[1] - baseline
        tracemalloc.stop()
    telemetry.shutdown(2)
    return health, peak


@pytest.mark.parametrize(
    ("kind", "protocol"), [("closed-port", "grpc"), ("refusing-503", "http/protobuf")]
)
def test_100k_spans_to_a_dead_collector_stay_under_the_memory_bound(
    kind: str,
    protocol: str,
    refusing_sink: OtlpSink,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        health, peak = _flood(kind, protocol, refusing_sink, tmp_path, SPANS, measure=True)
    assert peak < MEMORY_BOUND, f"traced memory grew by {peak / 2**20:.1f} MiB"
    dropped = health.dropped_counts()
    assert dropped["traces"] == SPANS  # nothing got through, and every span is accounted for
    assert dropped.get("metrics", 0) > 0
    episode_warnings = [
        r for r in caplog.records if r.name == "ragsight.export" and "traces" in r.getMessage()
    ]
    assert len(episode_warnings) == 1
    assert not [r for r in caplog.records if r.name.startswith("opentelemetry.exporter")]
    if kind == "refusing-503":
        assert refusing_sink.refused, "the exporter should have reached the refusing receiver"


@pytest.mark.parametrize(
    ("kind", "protocol"), [("closed-port", "http/protobuf"), ("refusing-503", "grpc")]
)
def test_dead_collector_drops_are_counted_exactly_and_warned_once(
    kind: str,
    protocol: str,
    refusing_sink: OtlpSink,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        health, _ = _flood(kind, protocol, refusing_sink, tmp_path, 20_000, measure=False)
    assert health.dropped_counts()["traces"] == 20_000
    episode_warnings = [
        r for r in caplog.records if r.name == "ragsight.export" and "traces" in r.getMessage()
    ]
    assert len(episode_warnings) == 1


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_unresolvable_collector_name_drops_without_raising(protocol: str, tmp_path: Path) -> None:
    health = ExportHealth()
    settings = _settings("http://collector.invalid:4317", protocol, tmp_path)
    telemetry = build_providers(settings, health=health)  # type: ignore[arg-type]
    tracer = telemetry.tracer_provider.get_tracer(names.SCOPE_NAME)
    for _ in range(1000):
        tracer.start_span("x").end()
    telemetry.shutdown(2)
    assert health.dropped_counts()["traces"] == 1000


def test_slow_collector_times_out_and_drops(tmp_path: Path) -> None:
    health = ExportHealth()
    with OtlpSink(grpc_enabled=False, delay=1.0) as slow:
        settings = _settings(slow.http_endpoint, "http/protobuf", tmp_path, otlp_timeout=0.2)
        telemetry = build_providers(settings, health=health)  # type: ignore[arg-type]
        tracer = telemetry.tracer_provider.get_tracer(names.SCOPE_NAME)
        for _ in range(10):
            tracer.start_span("x").end()
        telemetry.shutdown(1)
    assert health.dropped_counts()["traces"] == 10


def test_export_recovers_and_a_new_episode_warns_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    health = ExportHealth()
    with OtlpSink(grpc_enabled=False, fail_with=503) as sink:
        settings = _settings(sink.http_endpoint, "http/protobuf", tmp_path)
        telemetry = build_providers(settings, health=health)  # type: ignore[arg-type]
        tracer = telemetry.tracer_provider.get_tracer(names.SCOPE_NAME)
        with caplog.at_level(logging.INFO, logger="ragsight.export"):
            for phase in ("down", "up", "down", "up"):
                sink.fail_with = 503 if phase == "down" else None
                for _ in range(3):
                    tracer.start_span(phase).end()
                    telemetry.tracer_provider.force_flush()
        telemetry.shutdown(2)
        delivered = [s.name for _r, _s, s in sink.spans()]
    messages = [r.getMessage() for r in caplog.records if "traces" in r.getMessage()]
    assert [("failing" in m, "recovered" in m) for m in messages] == [
        (True, False),
        (False, True),
        (True, False),
        (False, True),
    ]
    assert delivered == ["up"] * 6
    assert health.dropped_counts()["traces"] == 6
    assert health.episodes == 2
