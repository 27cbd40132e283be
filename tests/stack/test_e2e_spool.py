"""The outage spool against the real Collector (issue 11, item 5).

A real service process (tests/support/spool_app.py) runs steady load through ragsight with
the spool enabled, exporting to the Collector built from the manifest and running the
shipped config. The Collector forwards traces and (through one extra ``otlp_grpc``
exporter on its metrics pipeline) metrics to an in-test OTLP receiver, which counts every
span and data point it gets. The Collector is stopped while the load goes on, restarted
later on the same ports, and the service stopped once its spool has drained.

The Collector is stopped with SIGTERM, not SIGKILL: what the Collector itself had accepted
(answered 200/OK) but not yet forwarded dies with it on SIGKILL, and no client-side spool
can see that loss; SIGTERM lets it drain its pipeline, so what is compared is exactly what
ragsight produced, spooled, replayed or dropped.

No fixed sleeps: every step waits for the state it needs (spooled, full, drained...).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from otlp_sink import OtlpSink, attrs
from stackenv import NO_LOG_STORE, collector_env
from stackgen import ROOT
from stackprocs import Proc, http_get, wait_until

from ragsight import names

APP = ROOT / "tests" / "support" / "spool_app.py"
SINK_EXPORTER = "otlp_grpc/spool_test_sink"


@dataclass
class CollectorOnFixedPorts:
    """The shipped config, started and stopped as often as needed on the same ports."""

    binary: str
    work: Path
    sink: OtlpSink

    def __post_init__(self) -> None:
        self.env = collector_env(self.work, self.sink.otlp_grpc_endpoint, NO_LOG_STORE)
        self.runs = 0
        self.proc: Proc | None = None

    @property
    def otlp_http(self) -> str:
        return "http://" + self.env["RAGSIGHT_OTELCOL_OTLP_HTTP_ENDPOINT"]

    @property
    def otlp_grpc(self) -> str:
        return "http://" + self.env["RAGSIGHT_OTELCOL_OTLP_GRPC_ENDPOINT"]

    def start(self) -> None:
        self.runs += 1
        sets = (
            f"exporters::{SINK_EXPORTER}::endpoint={self.sink.otlp_grpc_endpoint}",
            f"exporters::{SINK_EXPORTER}::tls::insecure=true",
            f"service::pipelines::metrics::exporters=[prometheus, {SINK_EXPORTER}]",
        )
        config = ROOT / "collector" / "otelcol-config.yaml"
        argv = [self.binary, "--config", str(config), *(f"--set={s}" for s in sets)]
        proc = Proc(f"otelcol-spool-{self.runs}", argv, self.work, self.env).start()
        self.proc = proc
        health = f"http://{self.env['RAGSIGHT_OTELCOL_HEALTH_ENDPOINT']}/"
        wait_until(
            lambda: proc.running() and http_get(health)[0] == 200,
            timeout=30,
            what="the Collector's health_check",
            diagnose=proc.log_tail,
        )

    def stop(self) -> None:
        """SIGTERM and wait: the Collector drains what it accepted into the receiver."""
        if self.proc is not None:
            self.proc.stop(timeout=30)
            self.proc = None


@dataclass
class App:
    proc: Proc
    control: Path

    def status(self) -> dict[str, Any]:
        return dict(json.loads(self.control.with_suffix(".status").read_text()))

    def spool(self, signal: str) -> dict[str, int]:
        return dict(self.status()["spool"].get(signal, {}))

    def wait(self, what: str, predicate: Any, timeout: float = 60) -> None:
        def check() -> bool:
            if not self.proc.running():
                raise AssertionError(f"the app exited\n{self.proc.log_tail()}")
            return bool(predicate(self))

        wait_until(check, timeout=timeout, what=what, diagnose=self.proc.log_tail)

    def stop(self) -> dict[str, Any]:
        self.control.write_text(json.dumps({"mode": "stop"}))
        assert self.proc.popen is not None
        assert self.proc.popen.wait(60) == 0, self.proc.log_tail()
        return dict(json.loads(self.control.with_suffix(".result").read_text()))


@contextlib.contextmanager
def running_app(work: Path, service: str, env: dict[str, str]) -> Iterator[App]:
    control = work / f"{service}.json"
    control.write_text(json.dumps({"mode": "run"}))
    full_env = {
        "OTEL_SERVICE_NAME": service,
        "OTEL_METRIC_EXPORT_INTERVAL": "500",
        "RAGSIGHT_LOGS_EXPORT": "false",  # spans and metrics are what is counted here
        "RAGSIGHT_SPOOL_ENABLED": "true",
        "RAGSIGHT_SPOOL_DIRECTORY": str(work / "spool"),
        "RAGSIGHT_SHUTDOWN_TIMEOUT": "10",
        **env,
    }
    argv = [sys.executable, str(APP), "--control", str(control), "--interval", "0.02"]
    proc = Proc(service, argv, work, full_env).start()
    try:
        yield App(proc, control)
    finally:
        proc.stop()


def received_spans(sink: OtlpSink, service: str) -> list[bytes]:
    return [
        bytes(span.span_id)
        for resource, _, span in sink.spans()
        if attrs(resource.attributes).get(names.SERVICE_NAME) == service
    ]


def received_points(sink: OtlpSink, service: str) -> list[tuple[Any, ...]]:
    """ragsight's data points of ``service`` (not the Collector's span_metrics output)."""
    points = []
    for resource, scope, metric in sink.metrics():
        if attrs(resource.attributes).get(names.SERVICE_NAME) != service:
            continue
        if "spanmetrics" in scope.name:
            continue
        data = getattr(metric, metric.WhichOneof("data"))
        for point in data.data_points:
            labels = tuple(sorted((a.key, str(a.value)) for a in point.attributes))
            points.append((metric.name, labels, point.start_time_unix_nano, point.time_unix_nano))
    return points


def outage(
    otelcol_binary: str,
    tmp_path: Path,
    service: str,
    app_env: dict[str, str],
    *,
    protocol: str,
    spooled_enough: Any,
) -> tuple[dict[str, Any], list[bytes], list[tuple[Any, ...]]]:
    """Healthy, Collector stopped until ``spooled_enough(app)``, restarted, drained, app
    stopped, Collector stopped (drained). Returns the app's final status and what the
    receiver got."""
    with OtlpSink() as sink:
        collector = CollectorOnFixedPorts(otelcol_binary, tmp_path, sink)
        collector.start()
        endpoint = collector.otlp_grpc if protocol == "grpc" else collector.otlp_http
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": protocol}
        try:
            with running_app(tmp_path, service, {**env, **app_env}) as app:
                wait_until(
                    lambda: received_spans(sink, service) and received_points(sink, service),
                    timeout=60,
                    what=f"spans and points of {service} through the Collector",
                )
                collector.stop()
                app.wait("batches in the spool during the outage", spooled_enough)
                collector.start()  # the same ports
                app.wait(
                    "the spool drained after the Collector came back",
                    lambda a: (
                        a.spool("traces").get("replayed", 0) > 0
                        and not any(a.status()["pending"].values())
                    ),
                )
                result = app.stop()
        finally:
            collector.stop()
        return result, received_spans(sink, service), received_points(sink, service)


def test_every_span_and_point_produced_during_an_outage_within_the_bound_reaches_the_backend(
    otelcol_binary: str, tmp_path: Path
) -> None:
    result, spans, points = outage(
        otelcol_binary,
        tmp_path,
        "e2e-spool",
        {},
        protocol="http/protobuf",
        spooled_enough=lambda app: (
            app.spool("traces").get("spooled", 0) >= 200
            and app.spool("metrics").get("spooled", 0) >= 4
        ),
    )
    assert result["dropped"] == {}
    assert len(spans) == result["spans_ended"]
    assert len(set(spans)) == len(spans)  # no span twice
    assert len(points) == result["spool"]["metrics"]["produced"]
    assert len(set(points)) == len(points)  # no data point twice
    assert result["spool"]["traces"]["replayed"] >= 200


def test_beyond_a_tiny_bound_dropped_equals_produced_minus_received_exactly(
    otelcol_binary: str, tmp_path: Path
) -> None:
    result, spans, points = outage(
        otelcol_binary,
        tmp_path,
        "e2e-spool-tiny",
        {
            "RAGSIGHT_SPOOL_MAX_BYTES": str(1024 * 1024),  # the smallest bound: 256 blocks
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "1",  # one span per batch: a block each
            "OTEL_BSP_SCHEDULE_DELAY": "5",
        },
        protocol="grpc",
        spooled_enough=lambda app: (
            app.spool("traces").get("full", 0) > 0 and app.spool("metrics").get("full", 0) > 0
        ),
    )
    dropped = result["dropped"]
    assert dropped["traces"] > 0
    assert dropped["metrics"] > 0
    assert dropped["traces"] == result["spans_ended"] - len(spans)
    assert dropped["metrics"] == result["spool"]["metrics"]["produced"] - len(points)
    assert len(set(spans)) == len(spans)
    assert len(set(points)) == len(points)
