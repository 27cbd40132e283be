"""Files written by ragsight's embedded default (no OTLP endpoint) replay through the
Collector's otlp_json_file receiver into the same Prometheus and trace backend."""

from __future__ import annotations

from typing import Any

import pytest
from otlp_sink import attrs
from stackbackends import Jaeger
from stackprocs import prom_query, wait_until

from ragsight import names
from ragsight.names import RAG_OPERATION_DURATION, prometheus_name

SERVICE = "e2e-replay"


@pytest.fixture(scope="module")
def replayed(prometheus: Any, collector: Any, launch_app: Any) -> Any:
    app = launch_app(SERVICE, "healthy", file_sink=collector.replay_dir)
    app.wait_iterations(20, "healthy")
    app.stop()  # shutdown flushes the last metrics and spans into the files
    return prometheus


def test_replayed_files_are_otlp_json_lines_from_the_sdk(replayed: Any, collector: Any) -> None:
    written = sorted(p.name for p in collector.replay_dir.glob("*.jsonl"))
    assert {"traces.jsonl", "metrics.jsonl"} <= set(written)


def test_replayed_metrics_reach_prometheus(replayed: Any) -> None:
    selector = f'{prometheus_name(RAG_OPERATION_DURATION)}_count{{service_name="{SERVICE}"}}'
    found = wait_until(
        lambda: prom_query(replayed.url, selector), timeout=30, what=f"{selector} in Prometheus"
    )
    stages = {r["metric"]["rag_stage"] for r in found}
    assert names.STAGE_RETRIEVAL in stages


def test_replayed_spans_reach_jaeger(replayed: Any, jaeger: Jaeger) -> None:
    def spans() -> list[Any]:
        return [
            span
            for resource, _, span in jaeger.spans(SERVICE)
            if attrs(resource.attributes).get(names.SERVICE_NAME) == SERVICE
            and attrs(span.attributes).get(names.RAG_STAGE) == names.STAGE_PIPELINE
        ]

    wait_until(spans, timeout=30, what=f"replayed pipeline spans of {SERVICE}")
