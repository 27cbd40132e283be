"""Derived configs for the stack tests: the shipped files with only ports, timers and the
rule profile changed, so that what the tests run is what users run."""

from __future__ import annotations

import copy
import json
import time
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from ports import free_port
from stackgen import ROOT, load_generator
from stackprocs import AlertWebhook

from ragsight import names

gen = load_generator()

# Short enough for the tier to stay fast, long enough for rate() to see two samples.
SCRAPE = "1s"
# The apps' metric export interval (OTEL_METRIC_EXPORT_INTERVAL, ms); like the scrape
# interval it is below 1 s, so the tests' data resolution (Grafana's "scrape interval") is 1 s.
APP_METRIC_EXPORT_MS = 500
DATA_RESOLUTION_SECONDS = 1
FAST_WINDOW = "15s"
# The feature flags compose.yaml runs Prometheus with (created-timestamp zero ingestion:
# see collector/prometheus/prometheus.yml).
PROMETHEUS_FEATURES = "--enable-feature=exemplar-storage,created-timestamp-zero-ingestion"
# Per-stage latency budgets for the tests: the app's "slow" fault sleeps past these.
# 0.25 s is a bucket boundary (see RuleProfile.latency_p95_seconds).
FAST_LATENCY = {stage: 0.25 for stage in gen.PRODUCTION.latency_p95_seconds}


@dataclass(frozen=True)
class Tools:
    prometheus: str
    promtool: str
    alertmanager: str
    amtool: str


# Where a Collector that must not reach any log store sends logs (nothing listens there).
NO_LOG_STORE = "http://127.0.0.1:9/insert/opentelemetry/v1/logs"


def collector_listen_env() -> dict[str, str]:
    """Where a Collector listens, on free loopback ports: OTLP gRPC and HTTP, its Prometheus
    exporter, its own telemetry and its health check (the shipped configs' env vars)."""
    ports = {name: free_port() for name in ("grpc", "http", "prom", "tel", "health")}
    return {
        "RAGSIGHT_OTELCOL_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{ports['grpc']}",
        "RAGSIGHT_OTELCOL_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{ports['http']}",
        "RAGSIGHT_OTELCOL_PROMETHEUS_ENDPOINT": f"127.0.0.1:{ports['prom']}",
        "RAGSIGHT_OTELCOL_TELEMETRY_HOST": "127.0.0.1",
        "RAGSIGHT_OTELCOL_TELEMETRY_PORT": str(ports["tel"]),
        "RAGSIGHT_OTELCOL_HEALTH_ENDPOINT": f"127.0.0.1:{ports['health']}",
    }


def collector_env(
    stack_dir: Path, traces_endpoint: str, logs_url: str = NO_LOG_STORE
) -> dict[str, str]:
    """Environment overrides for the shipped config (its endpoints are all env vars).

    ``traces_endpoint`` is the host:port of an OTLP/gRPC trace backend (Jaeger or an
    OtlpSink), ``logs_url`` the OTLP/HTTP logs URL of the log store."""
    replay = stack_dir / "replay"
    replay.mkdir(exist_ok=True)
    return {
        **collector_listen_env(),
        "RAGSIGHT_OTELCOL_TRACES_ENDPOINT": traces_endpoint,
        "RAGSIGHT_OTELCOL_LOGS_ENDPOINT": logs_url,
        "RAGSIGHT_OTELCOL_REPLAY_GLOB": str(replay / "*.jsonl"),
        "RAGSIGHT_OTELCOL_SPANMETRICS_FLUSH": "1s",
        "RAGSIGHT_OTELCOL_LOG_LEVEL": "warn",
    }


def derived_alertmanager_config(webhook: AlertWebhook) -> dict[str, Any]:
    """The shipped Alertmanager config with the test's webhook and no waiting."""
    config = yaml.safe_load((ROOT / "collector/alertmanager/alertmanager.yml").read_text())
    for receiver in config["receivers"]:
        for hook in receiver["webhook_configs"]:
            hook["url"] = webhook.url("/" + receiver["name"])
    timers = {"group_wait": "0s", "group_interval": "1s", "repeat_interval": "1h"}
    config["route"].update(timers)
    for route in config["route"].get("routes", []):
        route.update({k: v for k, v in timers.items() if k in route})
    return dict(config)


def rule_profile_for_tests() -> Any:
    """The production rule expressions with windows, ``for:`` and latency budgets shrunk."""
    return replace(gen.fast_profile(FAST_WINDOW), latency_p95_seconds=FAST_LATENCY)


def derived_prometheus_config(
    targets: dict[str, str], rules_glob: str, am_target: str
) -> dict[str, Any]:
    """The shipped prometheus.yml with targets swapped for the test's ports."""
    config = copy.deepcopy(
        yaml.safe_load((ROOT / "collector/prometheus/prometheus.yml").read_text())
    )
    config["global"].update({"scrape_interval": SCRAPE, "evaluation_interval": SCRAPE})
    config["rule_files"] = [rules_glob]
    config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [am_target]
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            static["targets"] = [targets[t] for t in static["targets"]]
    return dict(config)


def post_span_with_content(otlp_http: str, service: str) -> None:
    """One span (and one span event) carrying every content attribute, over OTLP/HTTP JSON."""
    content = [
        {"key": k, "value": {"stringValue": "secret text"}} for k in names.CONTENT_ATTRIBUTES
    ]
    keep = {"key": names.RAG_STAGE, "value": {"stringValue": names.STAGE_GENERATION}}
    now = time.time_ns()  # recent: trace backends search by start time
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": names.SERVICE_NAME, "value": {"stringValue": service}}]
                },
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "name": "chat gpt-4o-mini",
                                "startTimeUnixNano": str(now - 100_000_000),
                                "endTimeUnixNano": str(now),
                                "attributes": [*content, keep],
                                "events": [
                                    {
                                        "name": "gen_ai.client.inference.operation.details",
                                        "timeUnixNano": str(now - 50_000_000),
                                        "attributes": content,
                                    }
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    request = urllib.request.Request(
        f"{otlp_http}/v1/traces",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
