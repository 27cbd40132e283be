"""The users' stack (collector/compose.yaml) under a real Docker engine.

Skipped, with the reason, where no engine answers (this repository's CI machine has a
docker client but no daemon). Where Docker exists these run the very images users get:
the contrib Collector validates the shipped config, Grafana provisions the datasources
and dashboards, Prometheus loads the rules and scrapes the Collector, and a span sent to
the Collector shows up in Jaeger.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from ports import free_port
from stackenv import post_span_with_content
from stackgen import ROOT, load_generator
from stackprocs import get_json, http_get, wait_until

gen = load_generator()
PORT_VARS = (
    "RAGSIGHT_GRAFANA_PORT",
    "RAGSIGHT_JAEGER_PORT",
    "RAGSIGHT_VICTORIALOGS_PORT",
    "RAGSIGHT_PROMETHEUS_PORT",
    "RAGSIGHT_ALERTMANAGER_PORT",
    "RAGSIGHT_OTLP_GRPC_PORT",
    "RAGSIGHT_OTLP_HTTP_PORT",
    "RAGSIGHT_COLLECTOR_HEALTH_PORT",
)
pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def docker_engine() -> Any:
    try:
        import docker

        client = docker.from_env(timeout=5)
        client.ping()
    except Exception as exc:  # no client library, no socket, daemon down: all "no engine"
        pytest.skip(f"Docker engine not available: {type(exc).__name__}: {exc}")
    return client


@pytest.fixture(scope="module")
def compose_stack(docker_engine: Any) -> Iterator[dict[str, str]]:
    from testcontainers.compose import DockerCompose

    env = {var: str(free_port()) for var in PORT_VARS}
    env["COMPOSE_PROJECT_NAME"] = f"ragsight-test-{os.getpid()}"  # never the user's stack
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    stack = DockerCompose(context=ROOT / "collector", compose_file_name="compose.yaml", pull=True)
    try:
        stack.start()
        yield env
    finally:
        stack.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def url(env: dict[str, str], var: str, path: str = "") -> str:
    return f"http://127.0.0.1:{env[var]}{path}"


def test_contrib_image_validates_the_bundled_config(docker_engine: Any) -> None:
    image = f"otel/opentelemetry-collector-contrib:{gen.PINNED_COLLECTOR_VERSION}"
    done = subprocess.run(
        [
            "docker", "run", "--rm",
            "-v", f"{ROOT / 'collector'}:/cfg:ro",
            image, "validate", "--config=/cfg/otelcol-config.yaml",
        ],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_grafana_provisions_the_datasources(compose_stack: dict[str, str]) -> None:
    datasources = wait_until(
        lambda: get_json(url(compose_stack, "RAGSIGHT_GRAFANA_PORT", "/api/datasources")),
        timeout=120,
        what="Grafana datasources",
    )
    assert {d["uid"] for d in datasources} >= {"prometheus", "jaeger", "victorialogs"}


def test_grafana_provisions_both_dashboards(compose_stack: dict[str, str]) -> None:
    search = url(compose_stack, "RAGSIGHT_GRAFANA_PORT", "/api/search?type=dash-db")
    wanted = {"ragsight-overview", "ragsight-resilience"}
    wait_until(
        lambda: wanted <= {d["uid"] for d in get_json(search)},
        timeout=120,
        what="provisioned dashboards",
    )


def test_prometheus_loads_the_rules_and_scrapes_the_collector(
    compose_stack: dict[str, str],
) -> None:
    base = url(compose_stack, "RAGSIGHT_PROMETHEUS_PORT")
    groups = wait_until(
        lambda: get_json(f"{base}/api/v1/rules")["data"]["groups"], timeout=120, what="rules"
    )
    assert {g["name"] for g in groups} == {"ragsight.recording", "ragsight.alerts"}
    query = urllib.parse.quote('up{job="otel-collector"} == 1')
    wait_until(
        lambda: get_json(f"{base}/api/v1/query?query={query}")["data"]["result"],
        timeout=120,
        what="the Collector scraped",
    )


def test_a_span_sent_to_the_collector_reaches_jaeger(compose_stack: dict[str, str]) -> None:
    wait_until(
        lambda: http_get(url(compose_stack, "RAGSIGHT_COLLECTOR_HEALTH_PORT", "/"))[0] == 200,
        timeout=120,
        what="Collector health",
    )
    post_span_with_content(url(compose_stack, "RAGSIGHT_OTLP_HTTP_PORT"), "e2e-docker")
    services = url(compose_stack, "RAGSIGHT_JAEGER_PORT", "/api/services")
    wait_until(
        lambda: "e2e-docker" in (json.loads(http_get(services)[1]).get("data") or []),
        timeout=120,
        what="the service in Jaeger",
    )


def test_contrib_image_validates_both_two_tier_configs(docker_engine: Any) -> None:
    image = f"otel/opentelemetry-collector-contrib:{gen.PINNED_COLLECTOR_VERSION}"
    for config in ("tier1-loadbalancer.yaml", "tier2-sampler.yaml"):
        done = subprocess.run(
            [
                "docker", "run", "--rm",
                "-v", f"{ROOT / 'collector' / 'two-tier'}:/cfg:ro",
                image, "validate", f"--config=/cfg/{config}",
            ],
            capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, config + "\n" + done.stdout + done.stderr


def test_compose_renders_the_two_tier_profile_with_tier_one_as_the_collector() -> None:
    """``docker compose config`` needs the compose plugin, not an engine."""
    version = (
        subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, check=False
        )
        if shutil.which("docker")
        else None
    )
    if version is None or version.returncode != 0:
        pytest.skip("the docker compose plugin is not installed")
    env = {**os.environ, "RAGSIGHT_COLLECTOR_CONFIG": "two-tier/tier1-loadbalancer.yaml"}
    done = subprocess.run(
        ["docker", "compose", "--profile", "two-tier", "config", "--format", "json"],
        cwd=ROOT / "collector", env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    assert {"otel-sampler-1", "otel-sampler-2"} <= set(services)
    assert services["otel-collector"]["command"] == [
        "--config=/etc/otelcol/two-tier/tier1-loadbalancer.yaml"
    ]
