"""The users' compose stack wires the same files and names the tests run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from stackgen import ROOT, load_generator

gen = load_generator()
COLLECTOR = ROOT / "collector"


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((COLLECTOR / "compose.yaml").read_text()))


def test_collector_image_matches_the_pinned_build() -> None:
    image = compose()["services"]["otel-collector"]["image"]
    assert image == f"otel/opentelemetry-collector-contrib:{gen.PINNED_COLLECTOR_VERSION}"


def test_every_bind_mount_source_exists() -> None:
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):  # bind mounts, not named volumes
                assert (COLLECTOR / source).exists(), f"{name}: {source}"


def test_every_scrape_and_alerting_target_is_a_compose_service() -> None:
    services = set(compose()["services"])
    prom = yaml.safe_load((COLLECTOR / "prometheus/prometheus.yml").read_text())
    targets = [
        t for job in prom["scrape_configs"] for s in job["static_configs"] for t in s["targets"]
    ]
    targets += [
        t
        for am in prom["alerting"]["alertmanagers"]
        for s in am["static_configs"]
        for t in s["targets"]
    ]
    for target in targets:
        host = target.split(":")[0]
        assert host == "localhost" or host in services, target


def jaeger_config() -> dict[str, Any]:
    return dict(yaml.safe_load((COLLECTOR / "jaeger/config.yaml").read_text()))


def env_default(value: str) -> str:
    """The default of a ``${env:VAR:-default}`` setting (the value compose runs with)."""
    return value.split(":-", 1)[1].rstrip("}") if value.startswith("${env:") else value


def test_collector_exports_traces_to_the_jaeger_service() -> None:
    env = compose()["services"]["otel-collector"]["environment"]
    host, port = env["RAGSIGHT_OTELCOL_TRACES_ENDPOINT"].split(":")
    assert host == "jaeger"
    grpc = jaeger_config()["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert env_default(grpc) == f"0.0.0.0:{port}"


def test_jaeger_runs_the_shipped_config_it_mounts() -> None:
    jaeger = compose()["services"]["jaeger"]
    assert "./jaeger/config.yaml:/etc/jaeger/config.yaml:ro" in jaeger["volumes"]
    assert jaeger["command"] == ["--config=/etc/jaeger/config.yaml"]


def test_jaeger_publishes_the_query_port_grafana_uses() -> None:
    http = jaeger_config()["extensions"]["jaeger_query"]["http"]["endpoint"]
    port = env_default(http).rsplit(":", 1)[1]
    assert any(p.endswith(f":{port}") for p in compose()["services"]["jaeger"]["ports"])
    datasources = yaml.safe_load(
        (ROOT / "grafana/provisioning/datasources/ragsight.yaml").read_text()
    )["datasources"]
    (jaeger_ds,) = [d for d in datasources if d["type"] == "jaeger"]
    assert jaeger_ds["url"] == f"http://jaeger:{port}"


def test_collector_exports_logs_to_the_victorialogs_service() -> None:
    env = compose()["services"]["otel-collector"]["environment"]
    url = env["RAGSIGHT_OTELCOL_LOGS_ENDPOINT"]
    assert url.startswith("http://victorialogs:9428/")
    assert url == env_default(
        gen.collector_config()["exporters"]["otlp_http/logs"]["logs_endpoint"]
    )
    assert any(p.endswith(":9428") for p in compose()["services"]["victorialogs"]["ports"])


def test_grafana_installs_the_plugin_of_every_provisioned_datasource_type() -> None:
    builtin = {"prometheus", "jaeger"}
    provisioned = yaml.safe_load(
        (ROOT / "grafana/provisioning/datasources/ragsight.yaml").read_text()
    )
    plugins = compose()["services"]["grafana"]["environment"]["GF_INSTALL_PLUGINS"]
    installed = {entry.split()[0] for entry in plugins.split(",")}
    assert {d["type"] for d in provisioned["datasources"]} - builtin == installed


def test_prometheus_loads_the_rules_directory_it_mounts() -> None:
    prom = yaml.safe_load((COLLECTOR / "prometheus/prometheus.yml").read_text())
    mounts = compose()["services"]["prometheus"]["volumes"]
    assert "./prometheus/rules:/etc/prometheus/rules:ro" in mounts
    assert prom["rule_files"] == ["/etc/prometheus/rules/*.yaml"]
    assert list(Path(COLLECTOR / "prometheus/rules").glob("*.yaml"))


def test_dashboards_use_a_provisioned_datasource_uid() -> None:
    provisioned = yaml.safe_load(
        (ROOT / "grafana/provisioning/datasources/ragsight.yaml").read_text()
    )
    uids = {d["uid"] for d in provisioned["datasources"]}
    for dashboard in (gen.overview_dashboard(), gen.resilience_dashboard()):
        variable = next(v for v in dashboard["templating"]["list"] if v["type"] == "datasource")
        assert variable["current"]["value"] in uids


def test_grafana_mounts_the_provisioning_and_dashboard_paths() -> None:
    mounts = compose()["services"]["grafana"]["volumes"]
    provider = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/ragsight.yaml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert f"../grafana/dashboards:{path}:ro" in mounts
    assert "../grafana/provisioning:/etc/grafana/provisioning:ro" in mounts


def test_every_published_port_is_loopback_only() -> None:
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name}: {port}"
