"""The bundled stack's files are generated from the names contract and stay consistent.

These checks need no external tool; tests/stack proves the same files against a real
Collector, Prometheus and Alertmanager.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from stackenv import rule_profile_for_tests
from stackgen import ROOT, load_generator

from ragsight import names
from ragsight.names import SEMCONV_DEFAULT, metrics_of, prometheus_attribute, prometheus_name

# what a service in the default conventions mode exports (the generated files' mode)
METRICS = metrics_of(SEMCONV_DEFAULT)

gen = load_generator()

PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "by", "without", "and", "or", "unless", "on",
    "ignoring", "group", "rate", "increase", "histogram_quantile", "last_over_time",
    "label_values", "offset", "bool", "le",
}  # fmt: skip
EXTRA_LABELS = {"le", "job", "instance", "exporter", prometheus_attribute(names.SERVICE_NAME)}


def sdk_series() -> set[str]:
    """Every series name the SDK's instruments produce through the Collector."""
    out = set()
    for spec in METRICS:
        base = prometheus_name(spec)
        if spec.instrument == "histogram":
            out |= {f"{base}_bucket", f"{base}_sum", f"{base}_count"}
        else:
            out.add(base)
    return out


def sdk_labels() -> set[str]:
    return {prometheus_attribute(a) for spec in METRICS for a in spec.attributes} | EXTRA_LABELS


def strip_strings(expr: str) -> str:
    return re.sub(r'"[^"]*"', '""', expr)


LABEL_VALUES = re.compile(r"label_values\(([^,]+),\s*(\w+)\)")


def metric_identifiers(expr: str) -> set[str]:
    """Series names an expression selects (identifiers that are not labels or PromQL)."""
    bare = LABEL_VALUES.sub(r"\1", strip_strings(expr))
    bare = re.sub(r"\{[^}]*\}", "", bare)  # matchers
    bare = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", bare)  # grouping labels
    bare = re.sub(r"\[[^\]]*\]", "", bare)  # range windows
    idents = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", bare))
    return {i for i in idents if i not in PROMQL_WORDS and not re.fullmatch(r"\d.*", i)}


def label_identifiers(expr: str) -> set[str]:
    bare = strip_strings(expr)
    out = {m.group(2) for m in LABEL_VALUES.finditer(bare)}
    for group in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", bare):
        out |= {x.strip() for x in group.split(",") if x.strip()}
    for matchers in re.findall(r"\{([^}]*)\}", bare):
        out |= set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", matchers))
    return out


def rule_exprs() -> list[str]:
    return [r["expr"] for g in gen.rules(gen.PRODUCTION)["groups"] for r in g["rules"]]


def recorded_names() -> set[str]:
    return {
        r["record"]
        for g in gen.rules(gen.PRODUCTION)["groups"]
        for r in g["rules"]
        if "record" in r
    }


def dashboards() -> list[dict[str, Any]]:
    return [gen.overview_dashboard(), gen.resilience_dashboard()]


def test_committed_stack_files_match_the_generator() -> None:
    stale = [
        str(rel)
        for rel, content in gen.outputs().items()
        if not (ROOT / rel).exists() or (ROOT / rel).read_text() != content
    ]
    assert stale == [], f"run ragsight stack generate: stale {stale}"


@pytest.mark.parametrize("expr", rule_exprs())
def test_rules_select_only_series_the_sdk_or_collector_produce(expr: str) -> None:
    allowed = sdk_series() | recorded_names() | set(gen.OTELCOL_EXPORTER_SEND_FAILED)
    allowed |= set(gen.OTELCOL_RECEIVER_REFUSED) | set(gen.OTELCOL_EXPORTER_ENQUEUE_FAILED)
    allowed |= set(gen.OTELCOL_LOG_EXPORTER_SEND_FAILED)
    assert metric_identifiers(expr) <= allowed, metric_identifiers(expr) - allowed


@pytest.mark.parametrize("expr", rule_exprs())
def test_rules_use_only_labels_the_sdk_produces(expr: str) -> None:
    assert label_identifiers(expr) <= sdk_labels(), label_identifiers(expr) - sdk_labels()


@pytest.mark.parametrize(
    "expr", [e for d in dashboards() for e in gen.dashboard_exprs(d)], ids=lambda e: e[:60]
)
def test_dashboards_query_only_sdk_series_and_labels(expr: str) -> None:
    assert metric_identifiers(expr) <= sdk_series(), metric_identifiers(expr) - sdk_series()
    assert label_identifiers(expr) <= sdk_labels(), label_identifiers(expr) - sdk_labels()


def test_the_drift_check_catches_an_unknown_series() -> None:
    expr = 'sum by (rag_stage) (rate(rag_stage_latency_seconds_count{rag_stage="x"}[5m]))'
    assert metric_identifiers(expr) == {"rag_stage_latency_seconds_count"}
    assert not metric_identifiers(expr) <= sdk_series()


def test_every_alert_has_a_promtool_case() -> None:
    alerts = {
        r["alert"] for g in gen.rules(gen.PRODUCTION)["groups"] for r in g["rules"] if "alert" in r
    }
    tested = {t["alertname"] for case in gen.rule_tests()["tests"] for t in case["alert_rule_test"]}
    assert alerts == tested


def test_every_alert_has_a_severity_and_runbook() -> None:
    for group in gen.rules(gen.PRODUCTION)["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                assert rule["labels"]["severity"] in {"critical", "warning"}
                assert rule["annotations"]["runbook_url"].endswith("#" + rule["alert"].lower())
                assert rule["for"] != "0s"


def test_runbook_document_has_a_section_per_alert() -> None:
    text = (ROOT / "collector/prometheus/RUNBOOKS.md").read_text()
    headings = {h.strip().lower() for h in re.findall(r"^## (.+)$", text, re.M)}
    for group in gen.rules(gen.PRODUCTION)["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                assert rule["alert"].lower() in headings


def test_fast_profile_shrinks_windows_but_keeps_the_expressions() -> None:
    fast = gen.rules(gen.fast_profile("20s"))
    slow = gen.rules(gen.PRODUCTION)
    for f_group, s_group in zip(fast["groups"], slow["groups"], strict=True):
        for f_rule, s_rule in zip(f_group["rules"], s_group["rules"], strict=True):
            normalise = re.compile(r"\[\d+[smh]\]|:rate\w+|:mean\w+|:p95_\w+")
            assert normalise.sub("", f_rule["expr"]) == normalise.sub("", s_rule["expr"])
            assert f_rule.get("for", "0s") == "0s"


def test_collector_drops_every_content_attribute_unless_kept() -> None:
    config = gen.collector_config()
    transform = config["processors"]["transform/drop_content"]
    groups = transform["trace_statements"] + transform["log_statements"]
    assert {g["context"] for g in groups} == {"span", "spanevent", "log"}
    for group in groups:
        deleted = {re.search(r'"([^"]+)"\)', s).group(1) for s in group["statements"]}  # type: ignore[union-attr]
        assert deleted == set(names.CONTENT_ATTRIBUTES)
        assert "RAGSIGHT_COLLECTOR_KEEP_CONTENT" in group["conditions"][0]


def test_collector_pipelines_put_memory_limiter_first_and_batch_last() -> None:
    config = gen.collector_config()
    for pipeline in config["service"]["pipelines"].values():
        assert pipeline["processors"][0] == "memory_limiter"
        assert pipeline["processors"][-1] == "batch"


def test_collector_pipelines_reference_only_defined_components() -> None:
    config = gen.collector_config()
    for pipeline in config["service"]["pipelines"].values():
        for receiver in pipeline["receivers"]:
            assert receiver in config["receivers"] or receiver in config["connectors"]
        for processor in pipeline["processors"]:
            assert processor in config["processors"]
        for exporter in pipeline["exporters"]:
            assert exporter in config["exporters"] or exporter in config["connectors"]


def test_manifest_pins_exactly_the_component_types_the_shipped_configs_use() -> None:
    manifest = yaml.safe_load((ROOT / "collector/builder-config.yaml").read_text())
    module_type = {
        "otlpreceiver": "otlp",
        "otlpjsonfilereceiver": "otlp_json_file",
        "memorylimiterprocessor": "memory_limiter",
        "batchprocessor": "batch",
        "transformprocessor": "transform",
        "otlpexporter": "otlp_grpc",
        "otlphttpexporter": "otlp_http",
        "prometheusexporter": "prometheus",
        "spanmetricsconnector": "span_metrics",
        "healthcheckextension": "health_check",
        "tailsamplingprocessor": "tail_sampling",
        "loadbalancingexporter": "loadbalancing",
    }
    # The single-tier config and the two-tier topology's configs share one binary.
    configs = [gen.collector_config()] + [
        yaml.safe_load(path.read_text()) for path in sorted(ROOT.glob("collector/two-tier/*.yaml"))
    ]
    for kind in ("receivers", "processors", "exporters", "connectors", "extensions"):
        pinned = {module_type[m["gomod"].split()[0].rsplit("/", 1)[1]] for m in manifest[kind]}
        used = {key.split("/")[0] for config in configs for key in config.get(kind) or {}}
        assert pinned == used, kind
    versions = {
        m["gomod"].split()[1]
        for kind in ("receivers", "processors", "exporters", "connectors", "extensions")
        for m in manifest[kind]
    }
    assert versions == {f"v{gen.PINNED_COLLECTOR_VERSION}"}
    assert manifest["dist"]["version"] == gen.PINNED_COLLECTOR_VERSION


def test_span_metrics_dimensions_are_names_contract_attributes() -> None:
    contract = {v for k, v in vars(names).items() if k.isupper() and isinstance(v, str)}
    dims = gen.collector_config()["connectors"]["span_metrics"]["dimensions"]
    assert {d["name"] for d in dims} <= contract


def test_dashboards_have_unique_panel_ids_and_fit_the_grid() -> None:
    for dashboard in dashboards():
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids))
        for panel in dashboard["panels"]:
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
            assert panel["targets"], panel["title"]


def test_dashboard_files_are_valid_json_with_stable_uids() -> None:
    uids = set()
    for path in sorted((ROOT / "grafana/dashboards").glob("*.json")):
        uids.add(json.loads(path.read_text())["uid"])
    assert uids == {"ragsight-overview", "ragsight-resilience"}


def test_latency_budgets_are_stage_duration_bucket_boundaries() -> None:
    """Between two bounds histogram_quantile interpolates, so a budget there misfires."""
    bounds = set(names.STAGE_DURATION_BUCKETS)
    for profile in (gen.PRODUCTION, rule_profile_for_tests()):
        budgets = {*profile.latency_p95_seconds.values(), profile.latency_default_seconds}
        assert budgets <= bounds, sorted(budgets - bounds)


@pytest.mark.parametrize(
    "expr",
    [e for d in dashboards() for e in gen.dashboard_exprs(d) if not e.startswith("label_values")],
    ids=lambda e: e[:60],
)
def test_every_series_a_panel_selects_is_filtered_by_the_service_variable(expr: str) -> None:
    """Otherwise one side of a ratio (or a whole panel) mixes in every other service."""
    service = f'{prometheus_attribute("service.name")}=~"$service"'
    selectors = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)
    # an identifier and its matchers (so identifiers inside matchers are consumed with them)
    for match in re.finditer(r"([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?", selectors):
        if match.group(1) in sdk_series():
            assert service in (match.group(2) or ""), match.group(0)


def prometheus_targets() -> list[dict[str, Any]]:
    return [
        t
        for d in dashboards()
        for p in d["panels"]
        for t in p["targets"]
        if t["datasource"] == gen.PROM_DS
    ]


@pytest.mark.parametrize("target", prometheus_targets(), ids=lambda t: t["expr"][:60])
def test_exemplars_are_requested_only_on_quantiles_of_histogram_buckets(
    target: dict[str, Any],
) -> None:
    """Ratio, mean and gauge panels never carry exemplars in their axis' unit."""
    quantile = "histogram_quantile" in target["expr"] and "_bucket" in target["expr"]
    assert target["exemplar"] is quantile


def test_every_latency_quantile_panel_requests_exemplars() -> None:
    assert any(t["exemplar"] for t in prometheus_targets())


def test_rate_windows_span_at_least_four_sdk_exports() -> None:
    """Grafana's $__rate_interval is >= 4 x the datasource's scrape interval: with it set to
    the SDK's export interval, a window holds a new series' start-time 0 and its first value."""
    import ragsight

    prom = gen.grafana_datasources()["datasources"][0]
    assert prom["type"] == "prometheus"
    interval = prom["jsonData"]["timeInterval"]
    assert interval == f"{int(ragsight.Settings().batch.metric_export_interval)}s"


def test_trace_to_metrics_error_ratio_is_zero_filled() -> None:
    queries = {q["name"]: q["query"] for q in gen.traces_to_metrics_queries("$__tags")}
    ratio = queries["Stage error ratio"]
    assert "\nor\n" in ratio
    assert "* 0)" in ratio


def test_ottl_paths_carry_their_context_prefix() -> None:
    transform = gen.collector_config()["processors"]["transform/drop_content"]
    for group in transform["trace_statements"] + transform["log_statements"]:
        for statement in group["statements"]:
            assert statement.startswith(f"delete_key({group['context']}.attributes, "), statement


def test_the_logs_panel_reads_the_provisioned_log_datasource() -> None:
    provisioned = {d["uid"]: d["type"] for d in gen.grafana_datasources()["datasources"]}
    (panel,) = [p for p in gen.overview_dashboard()["panels"] if p["type"] == "logs"]
    assert provisioned[panel["datasource"]["uid"]] == panel["datasource"]["type"]
    assert "$service" in panel["targets"][0]["expr"]
