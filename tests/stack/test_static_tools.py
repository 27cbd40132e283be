"""The shipped configs pass the real tools: promtool, amtool, otelcol validate, tsc."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from otlp_sink import OtlpSink
from stackenv import (
    Tools,
    collector_env,
    derived_alertmanager_config,
    derived_prometheus_config,
    rule_profile_for_tests,
)
from stackgen import ROOT, load_generator
from stackprocs import AlertWebhook

gen = load_generator()
RULES = ROOT / "collector/prometheus/rules/ragsight.rules.yaml"


def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]


def test_promtool_accepts_the_shipped_rules(tools: Tools) -> None:
    done = run([tools.promtool, "check", "rules", str(RULES)])
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests_pass_for_every_alert(tools: Tools) -> None:
    tests = ROOT / "collector/prometheus/tests/ragsight.rules.test.yaml"
    done = run([tools.promtool, "test", "rules", tests.name], cwd=tests.parent)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests_fail_when_an_alert_fires_too_early(
    tools: Tools, tmp_path: Path
) -> None:
    (tmp_path / "rules").mkdir()
    shutil.copy(RULES, tmp_path / "rules" / RULES.name)
    (tmp_path / "tests").mkdir()
    suite = gen.rule_tests()
    case = suite["tests"][0]
    case["alert_rule_test"][1]["eval_time"] = "2m"  # still pending at 2m under for: 10m
    (tmp_path / "tests" / "t.yaml").write_text(yaml.safe_dump(suite))
    done = run([tools.promtool, "test", "rules", "t.yaml"], cwd=tmp_path / "tests")
    assert done.returncode != 0
    assert "RagStageErrorRateHigh" in done.stdout + done.stderr


def test_promtool_accepts_the_test_rule_profile(tools: Tools, tmp_path: Path) -> None:
    path = tmp_path / "fast.rules.yaml"
    path.write_text(yaml.safe_dump(gen.rules(rule_profile_for_tests())))
    done = run([tools.promtool, "check", "rules", str(path)])
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_accepts_the_shipped_prometheus_config(tools: Tools, tmp_path: Path) -> None:
    shipped = yaml.safe_load((ROOT / "collector/prometheus/prometheus.yml").read_text())
    targets = {
        t: "127.0.0.1:1"
        for job in shipped["scrape_configs"]
        for static in job["static_configs"]
        for t in static["targets"]
    }
    config = derived_prometheus_config(targets, str(RULES), "127.0.0.1:1")
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    done = run([tools.promtool, "check", "config", str(path)])
    assert done.returncode == 0, done.stdout + done.stderr


def test_amtool_accepts_the_shipped_alertmanager_config(tools: Tools) -> None:
    done = run(
        [tools.amtool, "check-config", str(ROOT / "collector/alertmanager/alertmanager.yml")]
    )
    assert done.returncode == 0, done.stdout + done.stderr


SHIPPED_ALERTS = [
    (r["alert"], r["labels"]["severity"])
    for g in gen.rules(gen.PRODUCTION)["groups"]
    for r in g["rules"]
    if "alert" in r
]


@pytest.mark.parametrize(("alert", "severity"), SHIPPED_ALERTS, ids=[a for a, _ in SHIPPED_ALERTS])
def test_alertmanager_pages_for_critical_alerts_and_tickets_the_rest(
    tools: Tools, alert: str, severity: str
) -> None:
    done = run(
        [
            tools.amtool,
            "config",
            "routes",
            "test",
            f"--config.file={ROOT / 'collector/alertmanager/alertmanager.yml'}",
            f"alertname={alert}",
            f"severity={severity}",
            "service_name=support-bot",
        ]
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == ["page" if severity == "critical" else "ticket"]


def test_amtool_accepts_the_test_alertmanager_config(tools: Tools, tmp_path: Path) -> None:
    hook = AlertWebhook()  # not started: only its URL is needed
    path = tmp_path / "am.yml"
    path.write_text(yaml.safe_dump(derived_alertmanager_config(hook)))
    done = run([tools.amtool, "check-config", str(path)])
    assert done.returncode == 0, done.stdout + done.stderr


def validate(binary: str, config: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    with OtlpSink(http_enabled=False) as sink:
        env = {**os.environ, **collector_env(tmp_path, sink.otlp_grpc_endpoint)}
        return run([binary, "validate", "--config", str(config)], env=env)


def test_otelcol_validate_passes_on_the_bundled_config(otelcol_binary: str, tmp_path: Path) -> None:
    done = validate(otelcol_binary, ROOT / "collector/otelcol-config.yaml", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "config", sorted((ROOT / "collector/two-tier").glob("*.yaml")), ids=lambda p: p.name
)
def test_otelcol_validate_passes_on_each_two_tier_config(
    otelcol_binary: str, config: Path, tmp_path: Path
) -> None:
    done = validate(otelcol_binary, config, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_otelcol_validate_rejects_a_component_the_build_lacks(
    otelcol_binary: str, tmp_path: Path
) -> None:
    config = gen.collector_config()
    config["exporters"]["logging"] = {}  # removed from the Collector in v0.111.0
    config["service"]["pipelines"]["logs"]["exporters"] = ["logging"]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(config))
    done = validate(otelcol_binary, path, tmp_path)
    assert done.returncode != 0
    assert "logging" in done.stdout + done.stderr


# --- dashboards against Grafana's published schema types --------------------------------
def schema_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ragsight"
    found = sorted(cache.glob("npm-grafana-schema-*/node_modules/.bin/tsc"))
    if not found:
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed: cannot type-check dashboards with @grafana/schema")
        pytest.skip("@grafana/schema not installed: run scripts/install-stack-deps")
    return found[-1].parents[2]


def typecheck(dashboard: dict[str, object], name: str) -> subprocess.CompletedProcess[str]:
    """tsc --noEmit of ``const d: Dashboard = <json inline>`` (inline keeps literal types)."""
    directory = schema_dir()
    source = directory / f"check-{name}-{os.getpid()}.ts"
    source.write_text(
        "import type { Dashboard } from '@grafana/schema';\n"
        f"export const dashboard: Dashboard = {json.dumps(dashboard, indent=1)};\n"
    )
    try:
        return run(
            [
                str(directory / "node_modules/.bin/tsc"),
                "--noEmit",
                "--strict",
                "--moduleResolution", "bundler",
                "--module", "preserve",
                "--target", "es2022",
                "--skipLibCheck",
                "--ignoreConfig",
                source.name,
            ],
            cwd=directory,
        )  # fmt: skip
    finally:
        source.unlink()


@pytest.mark.parametrize("path", sorted((ROOT / "grafana/dashboards").glob("*.json")), ids=str)
def test_dashboard_type_checks_against_grafana_schema(path: Path) -> None:
    done = typecheck(json.loads(path.read_text()), path.stem)
    assert done.returncode == 0, done.stdout + done.stderr


def test_schema_check_rejects_a_malformed_dashboard() -> None:
    dashboard = gen.overview_dashboard()
    dashboard["panels"][0]["gridPos"]["w"] = "twelve"
    done = typecheck(dashboard, "broken")
    assert done.returncode != 0
    assert "gridPos" in done.stdout or "'string' is not assignable" in done.stdout


def test_build_collector_reuses_the_cached_binary(otelcol_binary: str) -> None:
    done = run(["bash", str(ROOT / "scripts" / "build-collector")])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == otelcol_binary
    assert "cached:" in done.stderr
    version = run([otelcol_binary, "--version"])
    assert gen.PINNED_COLLECTOR_VERSION in version.stdout


def test_build_stack_servers_reuses_every_cached_build(servers: dict[str, Path]) -> None:
    done = run(["bash", str(ROOT / "scripts" / "build-stack-servers")])
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("cached in") == len(servers)
    assert {line.split()[0]: Path(line.split()[1]) for line in done.stdout.splitlines()} == servers
