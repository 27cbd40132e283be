"""Jaeger v2 serves what Grafana's Jaeger datasource calls, and the span -> metrics link
Grafana builds from a real span returns its stage's metrics, zero-filled, for its service.

The pinned Grafana's Jaeger datasource reads the v1 JSON API (/api/services,
/api/services/{service}/operations, /api/traces/{id}), which Jaeger's main branch removed;
the pinned Jaeger release must still serve it (see collector/jaeger/config.yaml).
"""

from __future__ import annotations

import math
import urllib.parse
from typing import Any

import pytest
from grafana_like import fill_tags
from stackbackends import Jaeger
from stackgen import load_generator
from stackprocs import get_json, prom_query, wait_until

from ragsight import names

gen = load_generator()
SERVICE = "e2e-links"


@pytest.fixture(scope="module")
def linked(launch_app: Any, prometheus: Any, jaeger: Jaeger) -> dict[str, Any]:
    """One healthy embedding span of SERVICE as Grafana's v1 call returns it, with the
    tags Grafana's link reads: the span's own and its process's."""
    app = launch_app(SERVICE, "healthy")
    app.wait_iterations(20, "healthy")
    url = f"{jaeger.query_url}/api/traces?" + urllib.parse.urlencode(
        {"service": SERVICE, "limit": "20", "lookback": "1h"}
    )

    def embedding_span() -> dict[str, Any] | None:
        for trace in get_json(url)["data"] or []:
            for span in trace["spans"]:
                tags = {t["key"]: t["value"] for t in span["tags"]}
                if tags.get(names.RAG_STAGE) == names.STAGE_EMBEDDING:
                    process = trace["processes"][span["processID"]]
                    return {
                        "trace_id": span["traceID"],
                        "tags": {**{t["key"]: t["value"] for t in process["tags"]}, **tags},
                    }
        return None

    return wait_until(embedding_span, timeout=30, what=f"an embedding span of {SERVICE}")


def test_grafanas_v1_calls_are_served(linked: dict[str, Any], jaeger: Jaeger) -> None:
    assert SERVICE in get_json(f"{jaeger.query_url}/api/services")["data"]
    operations = get_json(f"{jaeger.query_url}/api/services/{SERVICE}/operations")["data"]
    assert operations
    trace = get_json(f"{jaeger.query_url}/api/traces/{linked['trace_id']}")["data"]
    assert trace
    assert trace[0]["traceID"] == linked["trace_id"]


def test_the_v3_api_serves_the_same_trace(linked: dict[str, Any], jaeger: Jaeger) -> None:
    body = get_json(f"{jaeger.query_url}/api/v3/traces/{linked['trace_id']}")
    assert body["result"]["resourceSpans"]


def link_queries(span_tags: dict[str, Any]) -> dict[str, str]:
    jaeger_ds = next(d for d in gen.grafana_datasources()["datasources"] if d["uid"] == "jaeger")
    config = jaeger_ds["jsonData"]["tracesToMetrics"]
    return {
        q["name"]: fill_tags(q["query"].replace("$$", "$"), config["tags"], span_tags)
        for q in config["queries"]
    }


def test_the_link_filters_by_the_spans_stage_and_service_instance(linked: dict[str, Any]) -> None:
    instance = linked["tags"][names.SERVICE_INSTANCE_ID]
    for query in link_queries(linked["tags"]).values():
        assert f'{gen.STAGE}="{names.STAGE_EMBEDDING}"' in query
        assert f'{gen.label(names.SERVICE_INSTANCE_ID)}="{instance}"' in query
        assert "$__tags" not in query


def test_every_link_query_returns_a_value_for_a_healthy_stage(
    linked: dict[str, Any], prometheus: Any
) -> None:
    """A stage that never failed has no error series: its error ratio is 0, not empty."""
    for name, query in link_queries(linked["tags"]).items():
        results = wait_until(
            lambda q=query: prom_query(prometheus.url, q),  # type: ignore[misc]
            timeout=30,
            what=f"{name}: {query}",
        )
        (only,) = results
        value = float(only["value"][1])
        assert not math.isnan(value), name
        if name == "Stage error ratio":
            assert value == 0.0
