"""The two-tier Collector topology on 127.0.0.1: one load balancer, N tail samplers.

Each process runs a shipped config from collector/two-tier/ unchanged; only the
environment variables those files read (endpoints, the samplers' list, timers) differ
from compose's. Every sampler exports to its own in-test OTLP receiver (otlp_sink.py), so
a test sees which sampler delivered each span, and counts spans exactly.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from otlp_sink import OtlpSink
from ports import free_port
from stackenv import PROMETHEUS_FEATURES, collector_listen_env, derived_prometheus_config
from stackgen import ROOT
from stackprocs import Proc, http_get, wait_ready, wait_until

TIER1 = ROOT / "collector" / "two-tier" / "tier1-loadbalancer.yaml"
TIER2 = ROOT / "collector" / "two-tier" / "tier2-sampler.yaml"
SPAN_CALLS = "traces_span_metrics_calls_total"


def _own_ports() -> dict[str, str]:
    return {**collector_listen_env(), "RAGSIGHT_OTELCOL_LOG_LEVEL": "warn"}


@dataclass
class Node:
    """One Collector of the topology."""

    name: str
    proc: Proc
    env: dict[str, str]

    @property
    def otlp_grpc(self) -> str:
        return self.env["RAGSIGHT_OTELCOL_OTLP_GRPC_ENDPOINT"]

    @property
    def health(self) -> str:
        return f"http://{self.env['RAGSIGHT_OTELCOL_HEALTH_ENDPOINT']}/"

    def telemetry_text(self) -> str:
        url = f"http://127.0.0.1:{self.env['RAGSIGHT_OTELCOL_TELEMETRY_PORT']}/metrics"
        return http_get(url)[1].decode()

    def start(self) -> None:
        self.proc.start()
        wait_until(
            lambda: self.proc.running() and http_get(self.health)[0] == 200,
            timeout=30,
            what=f"{self.name}'s health_check",
            diagnose=self.proc.log_tail,
        )

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed (what a lost node looks like)."""
        if self.proc.popen is not None:
            self.proc.popen.kill()
            self.proc.popen.wait(10)
            self.proc.popen = None


@dataclass
class Sampler(Node):
    backend: OtlpSink

    def decided_traces(self) -> float:
        """Traces the tail sampler has decided on (kept or dropped), from its own metrics."""
        return sum_series(self.telemetry_text(), DECIDED)

    def kept_traces(self) -> float:
        """Traces the tail sampler decided to keep."""
        return sum_series(self.telemetry_text(), DECIDED, {"sampled": "true"})

    def received_traces(self) -> float:
        """Distinct traces the tail sampler has received spans of."""
        return sum_series(self.telemetry_text(), RECEIVED_TRACES)


@dataclass
class TwoTier:
    loadbalancer: Node
    samplers: list[Sampler]
    logs: OtlpSink

    def span_calls(self, service: str) -> float:
        """tier 1's span_metrics calls for ``service``, summed over every series."""
        url = f"http://{self.loadbalancer.env['RAGSIGHT_OTELCOL_PROMETHEUS_ENDPOINT']}/metrics"
        text = http_get(url)[1].decode()
        return sum_series(text, SPAN_CALLS, {"service_name": service})


# The tail sampling processor's count of decided traces (one per trace, kept or not).
DECIDED = "otelcol_processor_tail_sampling_global_count_traces_sampled_total"
RECEIVED_TRACES = "otelcol_processor_tail_sampling_new_trace_id_received_total"


def sum_series(text: str, name: str, labels: Mapping[str, str] | None = None) -> float:
    """Sum of every sample of ``name`` (Prometheus text) whose labels include ``labels``."""
    total = 0.0
    for found in re.finditer(rf"^{re.escape(name)}(?:{{([^}}]*)}})? (\S+)", text, re.M):
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', found.group(1) or ""))
        if all(got.get(k) == v for k, v in (labels or {}).items()):
            total += float(found.group(2))
    return total


def sampler_env(backend: OtlpSink, sampling: Mapping[str, str]) -> dict[str, str]:
    return {
        **_own_ports(),
        "RAGSIGHT_OTELCOL_TRACES_ENDPOINT": backend.otlp_grpc_endpoint,
        **sampling,
    }


@contextlib.contextmanager
def running_two_tier(
    binary: str, work: Path, *, samplers: int = 2, sampling: Mapping[str, str]
) -> Iterator[TwoTier]:
    """Start the samplers (each with its own backend), then the load balancer pointed at
    them; yield; stop everything, whatever happened."""
    with contextlib.ExitStack() as stack:
        logs = stack.enter_context(OtlpSink(grpc_enabled=False))
        nodes: list[Sampler] = []
        for i in range(1, samplers + 1):
            backend = stack.enter_context(OtlpSink(http_enabled=False))
            env = sampler_env(backend, sampling)
            argv = [binary, "--config", str(TIER2)]
            node = Sampler(f"sampler-{i}", Proc(f"sampler-{i}", argv, work, env), env, backend)
            stack.callback(node.proc.stop)
            node.start()
            nodes.append(node)
        hostnames = ", ".join(n.otlp_grpc for n in nodes)
        env = {
            **_own_ports(),
            "RAGSIGHT_OTELCOL_SAMPLERS": f"[{hostnames}]",
            "RAGSIGHT_OTELCOL_LOGS_ENDPOINT": f"{logs.http_endpoint}/v1/logs",
            "RAGSIGHT_OTELCOL_SPANMETRICS_FLUSH": "1s",
        }
        argv = [binary, "--config", str(TIER1)]
        lb = Node("loadbalancer", Proc("loadbalancer", argv, work, env), env)
        stack.callback(lb.proc.stop)
        lb.start()
        yield TwoTier(lb, nodes, logs)


@contextlib.contextmanager
def prometheus_scraping(prometheus: str, loadbalancer: Node, work: Path) -> Iterator[str]:
    """The shipped prometheus.yml with its Collector targets pointed at tier 1 (what
    compose does: tier 1 runs as the otel-collector service); yields Prometheus's URL."""
    port = free_port()
    targets = {
        "otel-collector:8889": loadbalancer.env["RAGSIGHT_OTELCOL_PROMETHEUS_ENDPOINT"],
        "otel-collector:8888": f"127.0.0.1:{loadbalancer.env['RAGSIGHT_OTELCOL_TELEMETRY_PORT']}",
        "localhost:9090": f"127.0.0.1:{port}",
        "alertmanager:9093": f"127.0.0.1:{free_port()}",  # none: no alert is under test
    }
    rules = work / "no-rules"
    rules.mkdir(exist_ok=True)
    config = derived_prometheus_config(targets, str(rules / "*.yaml"), targets["alertmanager:9093"])
    config_path = work / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    argv = [
        prometheus,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={work / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        PROMETHEUS_FEATURES,
        "--log.level=warn",
    ]
    proc = Proc("prometheus-two-tier", argv, work).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, "Prometheus")
        yield url
    finally:
        proc.stop()


def spans_by_trace(sink: OtlpSink) -> dict[str, list[Any]]:
    """The spans a backend received, by trace id (hex)."""
    out: dict[str, list[Any]] = {}
    for _resource, _scope, span in sink.spans():
        out.setdefault(span.trace_id.hex(), []).append(span)
    return out
