"""The shipped deployment files are valid for their tools and carry the tested configs.

- collector/compose.yaml against the compose-spec JSON schema (the copy check-jsonschema
  bundles; no Docker needed) and its two-tier profile wired to the shipped files;
- collector/two-tier/: tier 1 is the single tier with only the trace exporter swapped
  (same content dropping, span metrics, metric and log export), tier 2 keeps what the
  topology promises (errors, slow traces, breaker and retry events, a base rate);
- deploy/kubernetes/two-tier/ against the Kubernetes API schemas (kubernetes-validate,
  schemas bundled, strict: unknown fields fail), its ConfigMaps byte for byte the shipped
  configs, and the tier-1 sampler list naming exactly the StatefulSet's pods.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from stackgen import ROOT, load_generator

from ragsight import names

gen = load_generator()
TWO_TIER = ROOT / "collector" / "two-tier"
K8S = ROOT / "deploy" / "kubernetes" / "two-tier"
K8S_VERSION = "1.37.0"


def load(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


def tier1() -> dict[str, Any]:
    return load(TWO_TIER / "tier1-loadbalancer.yaml")


def tier2() -> dict[str, Any]:
    return load(TWO_TIER / "tier2-sampler.yaml")


def compose() -> dict[str, Any]:
    return load(ROOT / "collector" / "compose.yaml")


def env_default(value: str) -> str:
    """The default of ``${env:VAR:-default}`` (what runs when VAR is unset)."""
    match = re.fullmatch(r"\$\{env:\w+:-(.*)\}", value)
    assert match, value
    return match.group(1)


# --- compose -------------------------------------------------------------------------------
def compose_schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema") / "builtin_schemas" / "vendor"
    return dict(json.loads((vendor / "compose-spec.json").read_text()))


def compose_errors(document: dict[str, Any]) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_is_valid_under_the_compose_spec_schema() -> None:
    assert compose_errors(compose()) == []


def test_compose_schema_check_rejects_a_malformed_service() -> None:
    broken = compose()
    broken["services"]["otel-sampler-1"]["profiles"] = "two-tier"  # must be a list
    assert compose_errors(broken)


def test_two_tier_profile_runs_two_samplers_on_the_shipped_sampler_config() -> None:
    services = compose()["services"]
    samplers = {n: s for n, s in services.items() if "two-tier" in s.get("profiles", [])}
    assert sorted(samplers) == ["otel-sampler-1", "otel-sampler-2"]
    for service in samplers.values():
        assert service["image"] == services["otel-collector"]["image"]
        assert service["command"] == ["--config=/etc/otelcol/tier2-sampler.yaml"]
        assert (
            "./two-tier/tier2-sampler.yaml:/etc/otelcol/tier2-sampler.yaml:ro"
            in (service["volumes"])
        )
        host = service["environment"]["RAGSIGHT_OTELCOL_TRACES_ENDPOINT"].split(":")[0]
        assert host == "jaeger"
        assert "profiles" not in services[host]


def test_every_service_but_the_samplers_runs_without_a_profile() -> None:
    profiled = {n for n, s in compose()["services"].items() if s.get("profiles")}
    assert profiled == {"otel-sampler-1", "otel-sampler-2"}


def test_the_collector_service_can_run_either_tier_one_or_the_single_tier() -> None:
    collector = compose()["services"]["otel-collector"]
    (command,) = collector["command"]
    chosen = re.fullmatch(r"--config=/etc/otelcol/\$\{RAGSIGHT_COLLECTOR_CONFIG:-(.*)\}", command)
    assert chosen, command
    assert chosen.group(1) == "otelcol-config.yaml"
    mounts = {v.split(":")[1]: v.split(":")[0] for v in collector["volumes"]}
    assert (ROOT / "collector" / mounts["/etc/otelcol/otelcol-config.yaml"]).samefile(
        ROOT / "collector" / "otelcol-config.yaml"
    )
    assert (ROOT / "collector" / mounts["/etc/otelcol/two-tier"]).samefile(TWO_TIER)


def test_tier_one_in_compose_routes_to_the_profile_samplers_on_their_grpc_port() -> None:
    services = compose()["services"]
    listed = yaml.safe_load(services["otel-collector"]["environment"]["RAGSIGHT_OTELCOL_SAMPLERS"])
    sampler_port = env_default(tier2()["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"])
    assert listed == [
        f"{n}:{sampler_port.rsplit(':', 1)[1]}" for n in ("otel-sampler-1", "otel-sampler-2")
    ]
    # and the config's own default is the same list (tier 1 run without the variable)
    hostnames = tier1()["exporters"]["loadbalancing"]["resolver"]["static"]["hostnames"]
    assert yaml.safe_load(env_default(hostnames)) == listed


# --- the two tiers -----------------------------------------------------------------------
def test_tier_one_is_the_single_tier_with_only_the_trace_exporter_swapped() -> None:
    single, lb = gen.collector_config(), tier1()
    assert lb["extensions"] == single["extensions"]
    assert lb["receivers"]["otlp"] == single["receivers"]["otlp"]
    assert lb["processors"] == single["processors"]
    assert lb["connectors"] == single["connectors"]
    for exporter in ("prometheus", "otlp_http/logs"):
        assert lb["exporters"][exporter] == single["exporters"][exporter]
    assert lb["service"]["telemetry"] == single["service"]["telemetry"]
    for signal in ("metrics", "logs"):
        ours = lb["service"]["pipelines"][signal]
        theirs = single["service"]["pipelines"][signal]
        assert ours["processors"] == theirs["processors"]
        assert ours["exporters"] == theirs["exporters"]
        assert set(ours["receivers"]) == set(theirs["receivers"]) - {"otlp_json_file"}


def test_tier_one_counts_span_metrics_on_every_span_before_routing_by_trace_id() -> None:
    config = tier1()
    traces = config["service"]["pipelines"]["traces"]
    assert set(traces["exporters"]) == {"span_metrics", "loadbalancing"}
    assert not any(p.startswith(("tail_sampling", "probabilistic")) for p in traces["processors"])
    assert config["exporters"]["loadbalancing"]["routing_key"] == "traceID"
    assert "span_metrics" in config["service"]["pipelines"]["metrics"]["receivers"]


def test_tier_two_samples_whole_traces_and_computes_no_span_metrics() -> None:
    config = tier2()
    (pipeline,) = config["service"]["pipelines"].values()
    assert pipeline["processors"] == ["memory_limiter", "tail_sampling"]
    assert "connectors" not in config


def policies() -> dict[str, dict[str, Any]]:
    return {p["type"]: p for p in tier2()["processors"]["tail_sampling"]["policies"]}


def test_tier_two_keeps_errors_slow_traces_and_a_base_rate() -> None:
    kept = policies()
    assert kept["status_code"]["status_code"]["status_codes"] == ["ERROR"]
    assert int(env_default(kept["latency"]["latency"]["threshold_ms"])) == 2000
    assert float(env_default(kept["probabilistic"]["probabilistic"]["sampling_percentage"])) == 10


def resilience_event_pattern() -> re.Pattern[str]:
    (condition,) = policies()["ottl_condition"]["ottl_condition"]["spanevent"]
    match = re.fullmatch(r'IsMatch\(spanevent\.name, "(.*)"\)', condition)
    assert match, condition
    return re.compile(match.group(1).replace("\\\\", "\\"))  # OTTL string escapes


# Every breaker and retry event of the names contract, including any added later.
RESILIENCE_EVENTS = sorted(
    value
    for key, value in vars(names).items()
    if key.startswith(("EVENT_CB_", "EVENT_RETRY_")) and isinstance(value, str)
)


def test_the_names_contract_has_breaker_and_retry_events() -> None:
    assert {names.EVENT_CB_STATE_CHANGED, names.EVENT_RETRY_SCHEDULED} <= set(RESILIENCE_EVENTS)


@pytest.mark.parametrize("event", RESILIENCE_EVENTS)
def test_tier_two_keeps_traces_with_each_breaker_and_retry_event(event: str) -> None:
    assert resilience_event_pattern().search(event)


@pytest.mark.parametrize(
    "event", ["exception", names.EVENT_CACHE_LOOKUP, names.EVENT_GEN_AI_EVALUATION_RESULT]
)
def test_tier_two_resilience_policy_ignores_other_events(event: str) -> None:
    assert not resilience_event_pattern().search(event)


# --- Kubernetes --------------------------------------------------------------------------
def k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def k8s(kind: str, name: str) -> dict[str, Any]:
    (found,) = [
        d for _, d in k8s_documents() if d["kind"] == kind and d["metadata"]["name"] == name
    ]
    return found


@pytest.mark.parametrize(
    "document",
    [d for _, d in k8s_documents()],
    ids=[f"{f}:{d['kind']}/{d['metadata']['name']}" for f, d in k8s_documents()],
)
def test_kubernetes_manifest_is_valid_under_the_api_schema(document: dict[str, Any]) -> None:
    kubernetes_validate.validate(document, K8S_VERSION, strict=True)


def test_kubernetes_schema_check_rejects_an_unknown_field() -> None:
    broken = k8s("StatefulSet", "otel-sampler")
    broken["spec"]["template"]["spec"]["containers"][0]["enviroment"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_kustomization_applies_every_manifest() -> None:
    listed = load(K8S / "kustomization.yaml")["resources"]
    assert sorted(listed) == sorted(
        p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"
    )


def test_configmaps_carry_the_shipped_collector_configs_byte_for_byte() -> None:
    carried = {
        key: value
        for _, d in k8s_documents()
        if d["kind"] == "ConfigMap"
        for key, value in d["data"].items()
    }
    assert carried == {p.name: p.read_text() for p in sorted(TWO_TIER.glob("*.yaml"))}


def test_configmaps_file_is_what_the_sync_script_writes() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sync-kubernetes-configs"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def container(kind: str, name: str) -> dict[str, Any]:
    (found,) = k8s(kind, name)["spec"]["template"]["spec"]["containers"]
    return dict(found)


def mounted_config(kind: str, name: str) -> str:
    """The ConfigMap key the workload's Collector runs (its --config file)."""
    spec = k8s(kind, name)["spec"]["template"]["spec"]
    (arg,) = [a for a in container(kind, name)["args"] if a.startswith("--config=")]
    path = Path(arg.removeprefix("--config="))
    (mount,) = container(kind, name)["volumeMounts"]
    assert path.parent == Path(mount["mountPath"])
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    configmap = k8s("ConfigMap", volume["configMap"]["name"])
    assert path.name in configmap["data"]
    return path.name


def test_each_workload_runs_its_tier_config() -> None:
    assert mounted_config("Deployment", "otel-loadbalancer") == "tier1-loadbalancer.yaml"
    assert mounted_config("StatefulSet", "otel-sampler") == "tier2-sampler.yaml"


def test_tier_one_lists_exactly_the_sampler_pods_behind_the_headless_service() -> None:
    sampler_set = k8s("StatefulSet", "otel-sampler")
    service = k8s("Service", sampler_set["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == sampler_set["spec"]["selector"]["matchLabels"]
    (port,) = service["spec"]["ports"]
    env = {e["name"]: e.get("value") for e in container("Deployment", "otel-loadbalancer")["env"]}
    listed = yaml.safe_load(env["RAGSIGHT_OTELCOL_SAMPLERS"])
    pods = [
        f"otel-sampler-{i}.{service['metadata']['name']}"
        for i in range(sampler_set["spec"]["replicas"])
    ]
    assert listed == [f"{pod}:{port['port']}" for pod in pods]


def test_workloads_publish_the_ports_their_configs_listen_on() -> None:
    def ports(kind: str, name: str) -> set[int]:
        return {p["containerPort"] for p in container(kind, name)["ports"]}

    def listens(config: dict[str, Any]) -> set[int]:
        endpoints = [config["extensions"]["health_check"]["endpoint"]]
        endpoints += [p["endpoint"] for p in config["receivers"]["otlp"]["protocols"].values()]
        if "prometheus" in config["exporters"]:
            endpoints.append(config["exporters"]["prometheus"]["endpoint"])
        found = {int(env_default(e).rsplit(":", 1)[1]) for e in endpoints}
        (reader,) = config["service"]["telemetry"]["metrics"]["readers"]
        return found | {int(env_default(reader["pull"]["exporter"]["prometheus"]["port"]))}

    assert ports("Deployment", "otel-loadbalancer") == listens(tier1())
    assert ports("StatefulSet", "otel-sampler") == listens(tier2())


def test_workloads_run_the_image_compose_pins() -> None:
    image = compose()["services"]["otel-collector"]["image"]
    assert container("Deployment", "otel-loadbalancer")["image"] == image
    assert container("StatefulSet", "otel-sampler")["image"] == image
