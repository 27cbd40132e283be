"""The shipped two-tier topology (collector/two-tier/) with real processes on 127.0.0.1.

One load-balancing Collector (tier1-loadbalancer.yaml) and two tail-sampling Collectors
(tier2-sampler.yaml), built from collector/builder-config.yaml, run the shipped files with
only their environment variables set (ports, the samplers' list, short timers). Each
sampler exports to its own OTLP receiver, so the tests see which sampler delivered every
span. An app process using ragsight (tests/support/two_tier_app.py) sends traces of
several spans: errors, slow ones, ones with breaker or retry events, and ordinary ones;
it records every span it produced, which is what the backends are compared with.
Prometheus runs the shipped prometheus.yml with its Collector targets pointed at tier 1,
as compose runs tier 1 as the otel-collector service.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from stackenv import Tools
from stackgen import ROOT
from stackprocs import prom_query, wait_until
from two_tier import TwoTier, prometheus_scraping, running_two_tier, spans_by_trace, sum_series

from ragsight.names import prometheus_attribute

SERVICE = "two-tier-app"
SVC_LABEL = prometheus_attribute("service.name")
TRACES = 200
SLOW_MS = 400  # the samplers' latency threshold in these tests
SLOW_SECONDS = 0.6  # what the app's slow requests take
BASE_PERCENT = 20
MUST_KEEP = ("error", "breaker-trip", "slow", "retry", "breaker")
ACCEPTED = "otelcol_receiver_accepted_spans_total"


def sampling(decision_wait: str) -> dict[str, str]:
    return {
        "RAGSIGHT_SAMPLING_DECISION_WAIT": decision_wait,
        "RAGSIGHT_SAMPLING_SLOW_MS": str(SLOW_MS),
        "RAGSIGHT_SAMPLING_BASE_PERCENT": str(BASE_PERCENT),
    }


def run_app(topology: TwoTier, work: Path, traces: int) -> dict[str, dict[str, Any]]:
    """Run the app to completion against tier 1; the spans it produced, by trace id."""
    out = work / "produced.json"
    env = {
        "OTEL_SERVICE_NAME": SERVICE,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{topology.loadbalancer.otlp_grpc}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_METRIC_EXPORT_INTERVAL": "500",
    }
    argv = [
        sys.executable, str(ROOT / "tests" / "support" / "two_tier_app.py"),
        "--out", str(out), "--traces", str(traces), "--slow-seconds", str(SLOW_SECONDS),
    ]  # fmt: skip
    done = subprocess.run(
        argv, env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    produced: dict[str, dict[str, Any]] = json.loads(out.read_text())
    return produced


def wait_accepted(topology: TwoTier, spans: int) -> None:
    """Wait until the samplers' receivers together accepted ``spans`` spans."""
    wait_until(
        lambda: sum(sum_series(s.telemetry_text(), ACCEPTED) for s in topology.samplers) >= spans,
        timeout=60,
        what=f"the samplers to receive {spans} spans",
        diagnose=topology.loadbalancer.proc.log_tail,
    )


def wait_decided(topology: TwoTier, traces: int) -> None:
    """Wait until the samplers together decided on ``traces`` traces."""
    wait_until(
        lambda: sum(s.decided_traces() for s in topology.samplers) >= traces,
        timeout=60,
        what=f"the samplers to decide on {traces} traces",
    )


def wait_span_metrics_count(topology: TwoTier, spans: int) -> None:
    """Wait until tier 1's span metrics count ``spans`` calls."""
    wait_until(
        lambda: topology.span_calls(SERVICE) == spans,
        timeout=30,
        what=f"tier 1's span metrics to count {spans} calls",
        diagnose=lambda: f"they count {topology.span_calls(SERVICE)}",
    )


@dataclass(frozen=True)
class Outcome:
    produced: dict[str, dict[str, Any]]
    delivered: list[dict[str, list[Any]]]  # per sampler: trace id -> spans
    span_calls: float  # read from tier 1's prometheus exporter
    span_calls_in_prometheus: float  # the same, as Prometheus scraped it

    def kept(self) -> set[str]:
        return {t for by_trace in self.delivered for t in by_trace}

    def of_kind(self, *kinds: str) -> set[str]:
        return {t for t, p in self.produced.items() if p["kind"] in kinds}

    def slow(self) -> set[str]:
        """Traces that lasted at least the threshold (the slow ones, and any other that a
        loaded machine stretched that far)."""
        return {t for t, p in self.produced.items() if p["duration_s"] * 1000 >= SLOW_MS}


def prometheus_span_calls(url: str) -> float:
    expr = f'sum(traces_span_metrics_calls_total{{{SVC_LABEL}="{SERVICE}"}})'
    result = prom_query(url, expr)
    return float(result[0]["value"][1]) if result else 0.0


@pytest.fixture(scope="module")
def outcome(
    otelcol_binary: str, tools: Tools, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Outcome]:
    work = tmp_path_factory.mktemp("two-tier")
    # 5 s: far more than the spread of one trace's spans here (0.6 s requests, 0.2 s
    # export delay), so no trace is decided on part of its spans even on a loaded machine.
    with (
        running_two_tier(otelcol_binary, work, sampling=sampling("5s")) as topology,
        prometheus_scraping(tools.prometheus, topology.loadbalancer, work) as prometheus,
    ):
        produced = run_app(topology, work, TRACES)
        spans = sum(p["spans"] for p in produced.values())
        wait_accepted(topology, spans)
        wait_decided(topology, len(produced))
        wait_span_metrics_count(topology, spans)
        wait_until(
            lambda: prometheus_span_calls(prometheus) == spans,
            timeout=30,
            what=f"Prometheus to have scraped {spans} span-metric calls",
            diagnose=lambda: f"it has {prometheus_span_calls(prometheus)}",
        )
        yield Outcome(
            produced,
            [spans_by_trace(s.backend) for s in topology.samplers],
            topology.span_calls(SERVICE),
            prometheus_span_calls(prometheus),
        )


def test_the_app_produced_every_kind_of_trace(outcome: Outcome) -> None:
    """The premise of the other tests: each kind is there, with the signal it should carry."""
    kinds = {p["kind"] for p in outcome.produced.values()}
    assert kinds == {"ordinary", *MUST_KEEP}
    for p in outcome.produced.values():
        assert p["spans"] >= 3
        assert p["error"] == (p["kind"] in ("error", "breaker-trip")), p
        if p["kind"] == "slow":
            assert p["duration_s"] * 1000 >= SLOW_MS, p
        resilience = any(e.startswith("resilience.") for e in p["events"])
        assert resilience == (p["kind"] in ("retry", "breaker", "breaker-trip")), p


def test_every_kept_trace_arrives_complete_from_exactly_one_sampler(outcome: Outcome) -> None:
    for trace_id in outcome.kept():
        senders = [i for i, by_trace in enumerate(outcome.delivered) if trace_id in by_trace]
        assert len(senders) == 1, (trace_id, senders)
        spans = outcome.delivered[senders[0]][trace_id]
        assert len({s.span_id for s in spans}) == len(spans), "a span delivered twice"
        assert len(spans) == outcome.produced[trace_id]["spans"], trace_id


def test_both_samplers_get_a_share_of_the_traces(outcome: Outcome) -> None:
    assert all(by_trace for by_trace in outcome.delivered)


def test_every_error_trace_is_kept(outcome: Outcome) -> None:
    errors = {t for t, p in outcome.produced.items() if p["error"]}
    assert errors
    assert errors <= outcome.kept()


def test_every_slow_trace_is_kept(outcome: Outcome) -> None:
    assert outcome.of_kind("slow") <= outcome.slow() <= outcome.kept()


def test_every_trace_with_a_breaker_or_retry_event_is_kept(outcome: Outcome) -> None:
    # "retry" and "breaker" traces have no error status and are fast: only the
    # resilience-events policy keeps them.
    assert outcome.of_kind("retry", "breaker") <= outcome.kept()


def test_ordinary_traces_are_sampled_at_about_the_base_rate(outcome: Outcome) -> None:
    ordinary = outcome.of_kind("ordinary") - outcome.slow()
    kept = len(ordinary & outcome.kept())
    # Base rate 20 % of ~140 traces: mean 28, standard deviation ~4.7. The bound is wide
    # (about 4 standard deviations each side): it fails only when the base rate is not applied.
    assert 0.05 * len(ordinary) <= kept <= 0.45 * len(ordinary), (kept, len(ordinary))


def test_span_metrics_count_every_span_produced_whatever_was_sampled(outcome: Outcome) -> None:
    produced = sum(p["spans"] for p in outcome.produced.values())
    delivered = sum(len(spans) for by_trace in outcome.delivered for spans in by_trace.values())
    assert delivered < produced  # sampling dropped spans...
    assert outcome.span_calls == produced  # ...which tier 1 had counted before it did,
    assert outcome.span_calls_in_prometheus == produced  # as the dashboards and rules see it


# --- failure modes -------------------------------------------------------------------------


def test_a_lost_sampler_loses_the_traces_it_held_and_nothing_else(
    otelcol_binary: str, tmp_path: Path
) -> None:
    """A sampler that crashes holds the traces of its decision window: they are lost. The
    other sampler decides on all of its own and delivers every one it keeps, whole, and
    span metrics still count every span."""
    with running_two_tier(otelcol_binary, tmp_path, sampling=sampling("20s")) as topology:
        produced = run_app(topology, tmp_path, 60)
        spans = sum(p["spans"] for p in produced.values())
        wait_accepted(topology, spans)
        survivor, lost = topology.samplers
        held = lost.received_traces()
        lost.kill()  # within its 20 s decision window: it has decided nothing yet
        wait_until(
            lambda: survivor.decided_traces() == survivor.received_traces() == len(produced) - held,
            timeout=60,
            what="the surviving sampler to decide on all of its traces",
        )
        wait_until(
            lambda: len(spans_by_trace(survivor.backend)) == survivor.kept_traces(),
            timeout=30,
            what="the surviving sampler to deliver every trace it kept",
        )
        wait_span_metrics_count(topology, spans)
        delivered = spans_by_trace(survivor.backend)
        must_keep = {t for t, p in produced.items() if p["kind"] in MUST_KEEP}
        missing = must_keep - set(delivered)

    assert 0 < held < len(produced)  # the lost sampler had a share of the traces...
    assert 0 < len(missing) <= held  # ...its must-keep ones are gone (no more than it held);
    for trace_id, got in delivered.items():  # the survivor's arrive whole
        assert len(got) == produced[trace_id]["spans"]
    assert lost.backend.spans() == []


def test_a_sampler_down_while_traces_are_sent_gets_its_share_when_it_returns(
    otelcol_binary: str, tmp_path: Path
) -> None:
    """Tier 1's static ring keeps a down sampler's share of trace ids: those spans wait in
    the loadbalancing exporter's sending queue and are retried, so a sampler that comes
    back (same name, as a StatefulSet pod does) receives them and decides as usual.

    With the shipped decision_wait (10 s): the queued requests holding one trace's spans
    retry independently and must land within one decision window, or the trace is decided
    on its first spans. Measured on this machine: with a 3 s window, 1 or 2 of 72 must-keep
    traces were lost that way (retry interval at most 5 s or the default 30 s alike); with
    10 s and tier 1's 5 s, none in any run."""
    with running_two_tier(otelcol_binary, tmp_path, sampling=sampling("10s")) as topology:
        survivor, returning = topology.samplers
        returning.kill()
        produced = run_app(topology, tmp_path, TRACES)
        spans = sum(p["spans"] for p in produced.values())
        wait_until(
            lambda: survivor.decided_traces() > 0,
            timeout=60,
            what="the running sampler to decide on its share",
        )
        returning.start()  # same port: the address tier 1 lists
        wait_accepted(topology, spans)  # the queued share arrives by tier 1's retries
        wait_decided(topology, len(produced))
        wait_span_metrics_count(topology, spans)
        delivered = [spans_by_trace(s.backend) for s in topology.samplers]

    assert delivered[1], "the returning sampler got no share"
    kept = {t for by_trace in delivered for t in by_trace}
    assert {t for t, p in produced.items() if p["kind"] in MUST_KEEP} <= kept
    for by_trace in delivered:
        for trace_id, got in by_trace.items():
            assert len(got) == produced[trace_id]["spans"]
