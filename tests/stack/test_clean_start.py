"""The shipped configs start clean: no server logs a warning about them at start.

Fresh instances of the Collector, Prometheus, Alertmanager and Jaeger start from the shipped
files (only endpoints moved, as everywhere in the tier) at info level, do one unit of work
each; by then their logs must hold no warning or error (read before they are stopped:
Prometheus logs its SIGTERM at warn level). A deprecated setting,
an OTTL path without its context, an unused exporter, self-tracing to a missing endpoint:
each is logged at warn level, so each fails this test.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from ports import free_port
from stackbackends import running_jaeger
from stackenv import PROMETHEUS_FEATURES, derived_alertmanager_config, derived_prometheus_config
from stackgen import ROOT
from stackprocs import Proc, get_json, running_alertmanager, wait_ready, wait_until

# Warn-level lines of the level fields of logfmt (Prometheus, Alertmanager) and of the
# Collector's console encoder (Collector, Jaeger).
WARNING = re.compile(r"level=(warn|error)|\t(warn|error)\t", re.IGNORECASE)
# Advice about a config that some servers log at info level: the transform processor's
# rewrite of OTTL paths without their context prefix, deprecations.
ADVICE = re.compile(r"please rewrite|deprecat|will be removed", re.IGNORECASE)
# Notes about how this tier builds the binaries, not about the configs: the release images
# embed Jaeger's UI assets (scripts/build-stack-servers explains why these builds do not).
BUILD_NOTES = ("ui assets not embedded in the binary",)


def warnings_in(log: Path) -> list[str]:
    return [
        line
        for line in log.read_text(errors="replace").splitlines()
        if (WARNING.search(line) or ADVICE.search(line))
        and not any(note in line for note in BUILD_NOTES)
    ]


def test_collector_starts_without_warnings(
    collector_factory: Any, jaeger: Any, victorialogs: Any
) -> None:
    with collector_factory(
        jaeger,
        name="otelcol-clean",
        logs_url=victorialogs.otlp_logs_url,
        extra_env={"RAGSIGHT_OTELCOL_LOG_LEVEL": "info"},
    ) as running:
        assert warnings_in(running.proc.log_path) == []


def test_jaeger_starts_without_warnings(servers: dict[str, Path], tmp_path: Path) -> None:
    with running_jaeger(servers["jaeger"] / "jaeger", tmp_path, name="jaeger-clean") as jaeger:
        assert jaeger.services() == []  # its query API answered
        assert warnings_in(jaeger.proc.log_path) == []


def test_alertmanager_starts_without_warnings(tools: Any, tmp_path: Path, webhook: Any) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(derived_alertmanager_config(webhook)))
    with running_alertmanager(tools.alertmanager, config, tmp_path, name="am-clean") as (proc, url):
        assert get_json(f"{url}/api/v2/status")["config"]["original"]
        assert warnings_in(proc.log_path) == []


def test_prometheus_starts_without_warnings(
    tools: Any, tmp_path: Path, collector: Any, alertmanager: Any
) -> None:
    port = free_port()
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "ragsight.rules.yaml").write_text(
        (ROOT / "collector/prometheus/rules/ragsight.rules.yaml").read_text()
    )
    am = alertmanager.url.removeprefix("http://")
    targets = {
        "otel-collector:8889": collector.prometheus,
        "otel-collector:8888": collector.telemetry,
        "localhost:9090": f"127.0.0.1:{port}",
        "alertmanager:9093": am,
    }
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(derived_prometheus_config(targets, str(rules / "*.yaml"), am)))
    proc = Proc(
        "prometheus-clean",
        [
            tools.prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            PROMETHEUS_FEATURES,
            "--log.level=info",
        ],
        tmp_path,
    ).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, "Prometheus")
        # one unit of work: every target scraped and every rule group evaluated once
        wait_until(
            lambda: (
                all(
                    t["lastScrape"] != "0001-01-01T00:00:00Z"
                    for t in get_json(f"{url}/api/v1/targets")["data"]["activeTargets"]
                )
                and all(
                    g["lastEvaluation"] != "0001-01-01T00:00:00Z"
                    for g in get_json(f"{url}/api/v1/rules")["data"]["groups"]
                )
            ),
            timeout=60,
            what="a scrape of every target and an evaluation of every rule group",
            diagnose=proc.log_tail,
        )
        assert warnings_in(proc.log_path) == []
    finally:
        proc.stop()


@pytest.mark.parametrize(
    "line",
    [
        'time=2026-12-01T22:00:00Z level=WARN source=main.go:1 msg="deprecated flag"',
        "2026-12-01T22:00:00.000Z\twarn\tottl/parser.go:1\tpath without context",
        "2026-12-01T22:00:00.000Z\tinfo\tottl@v0.158.0/parser_collection.go:646\tone or more "
        "paths were modified to include their context prefix, please rewrite them accordingly",
    ],
)
def test_a_warning_line_is_recognised(line: str, tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text(f"{line}\n")
    assert warnings_in(log) == [line]
