"""SDK -> OTLP -> real Collector -> real Prometheus: every name the stack relies on exists.

One app process ("tour") walks through healthy traffic, failing retrievals, a vector-store
outage that opens its breaker and exhausts the retry budget, and recovery. Then every
series a rule or a dashboard panel queries must exist with its labels, every dashboard
query must return data, and ``prometheus_name()`` must match what was really scraped.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from grafana_like import ALL, QueryTime, interpolate, peak, query_time, range_query, service_value
from stackenv import DATA_RESOLUTION_SECONDS, rule_profile_for_tests
from stackgen import load_generator
from stackprocs import get_json, prom_query, wait_until

from ragsight import names
from ragsight.names import (
    SEMCONV_DEFAULT,
    MetricSpec,
    metrics_of,
    prometheus_attribute,
    prometheus_name,
)

# the tour app runs in the default conventions mode, the generated files' mode
METRICS = metrics_of(SEMCONV_DEFAULT)

gen = load_generator()
SERVICE = "e2e-tour"
SVC_LABEL = prometheus_attribute("service.name")
# Panels are queried as Grafana sends them for the dashboards' default time range (now-1h):
# $__interval and $__rate_interval from the test datasource's scrape interval (1 s).
DASHBOARD_RANGE_SECONDS = 3600


@pytest.fixture(scope="module")
def tour(prometheus: Any, launch_app: Any) -> Iterator[Any]:
    app = launch_app(SERVICE, "healthy")
    app.wait_iterations(20, "healthy")
    # Two outages: a rare-event histogram (outage duration) is first exported at count 1,
    # and rate() only sees data from its second observation on.
    app.set_mode("errors")
    app.wait_iterations(10, "errors")
    for _ in range(2):
        app.set_mode("outage")
        app.wait_breaker(names.CB_STATE_OPEN)
        app.wait_iterations(10, "outage")  # rejections, give-ups, budget exhaustion
        app.set_mode("healthy")
        app.wait_breaker(names.CB_STATE_CLOSED)  # probe succeeded: outage duration recorded
    app.wait_iterations(20, "healthy")
    return prometheus
    # the app keeps serving healthy traffic until the session ends


def series_names(spec: MetricSpec) -> list[str]:
    base = prometheus_name(spec)
    if spec.instrument == "histogram":
        return [f"{base}_bucket", f"{base}_sum", f"{base}_count"]
    return [base]


def scraped_names(url: str) -> set[str]:
    return set(get_json(f"{url}/api/v1/label/__name__/values")["data"])


@pytest.mark.parametrize("spec", METRICS, ids=lambda s: s.name)
def test_prometheus_name_matches_the_series_prometheus_scraped(tour: Any, spec: MetricSpec) -> None:
    expected = set(series_names(spec))
    wait_until(
        lambda: expected <= scraped_names(tour.url),
        timeout=30,
        what=f"{sorted(expected)} in Prometheus",
        diagnose=lambda: (
            "scraped: "
            + ", ".join(sorted(n for n in scraped_names(tour.url) if not n.startswith("otelcol")))
        ),
    )


def labels_used_per_series() -> dict[str, set[str]]:
    """For each SDK series some rule or panel selects, the labels those queries use."""
    exprs = [r["expr"] for g in gen.rules(gen.PRODUCTION)["groups"] for r in g["rules"]]
    exprs += [e for d in (gen.overview_dashboard(), gen.resilience_dashboard()) for e in
              gen.dashboard_exprs(d)]  # fmt: skip
    by_series: dict[str, set[str]] = {}
    for spec in METRICS:
        spec_labels = {prometheus_attribute(a) for a in spec.attributes}
        for name in series_names(spec):
            for expr in exprs:
                if re.search(rf"\b{name}\b", expr):
                    used = set(re.findall(r"\b([a-z_]+)\b", expr)) & spec_labels
                    by_series.setdefault(name, set()).update(used | {SVC_LABEL})
    return by_series


@pytest.mark.parametrize(("series", "labels"), sorted(labels_used_per_series().items()))
def test_every_queried_series_exists_with_the_labels_queries_use(
    tour: Any, series: str, labels: set[str]
) -> None:
    def present() -> set[str]:
        found = prom_query(tour.url, f'{series}{{{SVC_LABEL}="{SERVICE}"}}')
        return {key for result in found for key in result["metric"]}

    wait_until(
        lambda: labels <= present(),
        timeout=30,
        what=f"{series} with labels {sorted(labels)}",
        diagnose=lambda: f"labels seen: {sorted(present())}",
    )


def dashboard_queries() -> list[tuple[str, str]]:
    out = []
    for dashboard in (gen.overview_dashboard(), gen.resilience_dashboard()):
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                if target["datasource"] != gen.PROM_DS:
                    continue  # the logs panel's LogsQL: see test_e2e_logs
                out.append((f"{dashboard['uid']}: {panel['title']}", target["expr"]))
        for var in dashboard["templating"]["list"]:
            if var["type"] == "query":
                out.append((f"{dashboard['uid']}: ${var['name']}", var["query"]["query"]))
    return out


def grafana_time() -> QueryTime:
    now = time.time()
    return query_time(now - DASHBOARD_RANGE_SECONDS, now, DATA_RESOLUTION_SECONDS)


def concrete(expr: str, selected: tuple[str, ...] = (SERVICE,)) -> str:
    """A panel query as Grafana sends it: variables, intervals and ``$service`` filled in."""
    variables = {"service": service_value(list(selected), ".*")}
    return interpolate(expr, grafana_time(), variables)


SELECTIONS = {"service": (SERVICE,), "All": (ALL,)}


@pytest.mark.parametrize("selection", sorted(SELECTIONS))
@pytest.mark.parametrize(
    ("title", "expr"), dashboard_queries(), ids=[t for t, _ in dashboard_queries()]
)
def test_every_dashboard_query_returns_data(
    tour: Any, title: str, expr: str, selection: str
) -> None:
    match = re.fullmatch(r"label_values\((\w+), (\w+)\)", expr)
    if match:  # a variable query: the label must have our service among its values
        url = f"{tour.url}/api/v1/label/{match.group(2)}/values?match[]={match.group(1)}"
        wait_until(lambda: SERVICE in get_json(url)["data"], timeout=30, what=title)
        return
    selected = SELECTIONS[selection]

    def finite_values() -> float:
        when = grafana_time()
        variables = {"service": service_value(list(selected), ".*")}
        return peak(range_query(tour.url, interpolate(expr, when, variables), when))

    wait_until(
        lambda: finite_values() > 0 or None,
        timeout=30,
        what=f"data for {title!r}: {concrete(expr, selected)}",
    )


@pytest.mark.parametrize(
    "record",
    [r["record"] for g in gen.rules(rule_profile_for_tests())["groups"] for r in g["rules"]
     if "record" in r],
)  # fmt: skip
def test_every_recording_rule_produces_series(tour: Any, record: str) -> None:
    selector = f'{record}{{{SVC_LABEL}="{SERVICE}"}}'
    wait_until(lambda: prom_query(tour.url, selector), timeout=30, what=selector)


@pytest.mark.parametrize("series", gen.OTELCOL_RECEIVER_REFUSED)
def test_collector_series_the_rules_query_exist(tour: Any, series: str) -> None:
    """(The send-failure counters exist only after a failure: see test_e2e_collector_failures.)"""
    selector = f'{series}{{job="otel-collector-internal"}}'
    wait_until(lambda: prom_query(tour.url, selector), timeout=30, what=selector)


def test_span_metrics_connector_derives_series_with_the_configured_dimensions(tour: Any) -> None:
    dimensions = {
        prometheus_attribute(d["name"])
        for d in gen.collector_config()["connectors"]["span_metrics"]["dimensions"]
    }
    stage = prometheus_attribute(names.RAG_STAGE)
    selector = (
        f'traces_span_metrics_calls_total{{{SVC_LABEL}="{SERVICE}", '
        f'{stage}="{names.STAGE_RETRIEVAL}"}}'
    )

    def labels() -> set[str]:
        return {key for r in prom_query(tour.url, selector) for key in r["metric"]}

    wait_until(
        lambda: {"span_name", "status_code", stage} <= labels(),
        timeout=30,
        what=selector,
    )
    # gen_ai.* dimensions are set on generation spans only; stage dimensions everywhere
    assert {prometheus_attribute(names.RAG_OPERATION_NAME)} <= labels() & dimensions


def ratio_panel_queries() -> list[tuple[str, str, str]]:
    """(title, query, its denominator) for every panel that divides one rate by another."""
    out = []
    for title, expr in dashboard_queries():
        if "\n/\n" in expr and "_sum" not in expr:  # means (sum / count) always have both
            out.append((title, expr, expr.rsplit("\n/\n", 1)[1]))
    return out


@pytest.mark.parametrize(
    ("title", "expr", "whole"), ratio_panel_queries(), ids=[t for t, _, _ in ratio_panel_queries()]
)
def test_ratio_panels_show_a_line_for_every_group_with_traffic(
    tour: Any, title: str, expr: str, whole: str
) -> None:
    """A stage that never failed is at 0% errors, not missing from the error-ratio panel."""

    def groups(query: str) -> set[tuple[tuple[str, str], ...]]:
        return {tuple(sorted(r["metric"].items())) for r in prom_query(tour.url, concrete(query))}

    wait_until(lambda: groups(whole), timeout=30, what=f"traffic for {title!r}")
    assert groups(expr) == groups(whole)


def test_stage_histogram_exemplars_carry_the_label_grafana_links_to_traces(tour: Any) -> None:
    """Grafana's Prometheus datasource turns this exemplar label into a Jaeger link."""
    (link,) = gen.grafana_datasources()["datasources"][0]["jsonData"]["exemplarTraceIdDestinations"]
    query = f'{prometheus_name(names.RAG_OPERATION_DURATION)}_bucket{{{SVC_LABEL}="{SERVICE}"}}'
    url = f"{tour.url}/api/v1/query_exemplars?" + urllib.parse.urlencode(
        {"query": query, "start": time.time() - 3600, "end": time.time() + 60}
    )

    def exemplar_labels() -> set[str]:
        return {
            key
            for series in get_json(url)["data"]
            for exemplar in series["exemplars"]
            for key in exemplar["labels"]
        }

    labels = wait_until(exemplar_labels, timeout=30, what=f"exemplars of {query}")
    assert link["name"] in labels
    assert re.fullmatch(
        r"[0-9a-f]{32}",
        get_json(url)["data"][0]["exemplars"][0]["labels"][link["name"]],
    )
