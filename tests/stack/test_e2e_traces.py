"""Traces reach Jaeger v2 through the Collector, read back through Jaeger's /api/v3: stage
spans with breaker and retry events on them, and content attributes removed unless the
Collector is told to keep them."""

from __future__ import annotations

from typing import Any

import pytest
from otlp_sink import OtlpSink, attrs
from stackbackends import Jaeger, VictoriaLogs
from stackenv import post_span_with_content
from stackprocs import wait_until

from ragsight import names

SERVICE = "e2e-traces"


@pytest.fixture(scope="module")
def traced(jaeger: Jaeger, launch_app: Any) -> Jaeger:
    app = launch_app(SERVICE, "healthy")
    app.wait_iterations(20, "healthy")
    app.set_mode("outage")  # opens the breaker: rejections, give-ups, state changes
    app.wait_breaker(names.CB_STATE_OPEN)
    app.wait_iterations(10, "outage")
    app.set_mode("healthy")
    app.wait_breaker(names.CB_STATE_CLOSED)
    return jaeger


def spans_of(backend: Jaeger | OtlpSink, service: str) -> list[tuple[dict[str, Any], Any]]:
    found = backend.spans(service) if isinstance(backend, Jaeger) else backend.spans()
    return [
        (attrs(span.attributes), span)
        for resource, _, span in found
        if attrs(resource.attributes).get(names.SERVICE_NAME) == service
    ]


@pytest.mark.parametrize(
    "stage",
    [
        names.STAGE_PIPELINE,
        names.STAGE_CACHE,
        names.STAGE_EMBEDDING,
        names.STAGE_RETRIEVAL,
        names.STAGE_RERANK,
        names.STAGE_GENERATION,
    ],
)
def test_every_stage_arrives_as_a_span(traced: Jaeger, stage: str) -> None:
    wait_until(
        lambda: [s for a, s in spans_of(traced, SERVICE) if a.get(names.RAG_STAGE) == stage],
        timeout=30,
        what=f"a {stage} span from {SERVICE}",
    )


def test_stage_spans_are_children_of_the_pipeline_span(traced: Jaeger) -> None:
    def retrieval_with_parent() -> bool:
        spans = spans_of(traced, SERVICE)
        pipelines = {s.span_id for a, s in spans if a.get(names.RAG_STAGE) == names.STAGE_PIPELINE}
        return any(
            a.get(names.RAG_STAGE) == names.STAGE_RETRIEVAL and s.parent_span_id in pipelines
            for a, s in spans
        )

    wait_until(retrieval_with_parent, timeout=30, what="a retrieval span under its pipeline")


@pytest.mark.parametrize(
    "event",
    [
        names.EVENT_RETRY_SCHEDULED,
        names.EVENT_RETRY_GAVE_UP,
        names.EVENT_CB_STATE_CHANGED,
        names.EVENT_CB_CALL_REJECTED,
    ],
)
def test_resilience_events_land_on_the_retrieval_span(traced: Jaeger, event: str) -> None:
    def found() -> bool:
        return any(
            a.get(names.RAG_STAGE) == names.STAGE_RETRIEVAL
            and any(e.name == event for e in s.events)
            for a, s in spans_of(traced, SERVICE)
        )

    wait_until(found, timeout=30, what=f"{event} on a retrieval span")


def test_an_evaluation_is_mirrored_on_the_pipeline_span_it_judges(traced: Jaeger) -> None:
    """events.span_events=mirror (the default): Jaeger shows the Logs-API event too."""

    def found() -> bool:
        return any(
            a.get(names.RAG_STAGE) == names.STAGE_PIPELINE
            and any(e.name == names.EVENT_GEN_AI_EVALUATION_RESULT for e in s.events)
            for a, s in spans_of(traced, SERVICE)
        )

    wait_until(found, timeout=30, what="an evaluation event on a pipeline span")


def test_an_evaluation_reaches_the_log_store_parented_to_a_pipeline_span(
    traced: Jaeger, victorialogs: VictoriaLogs
) -> None:
    query = f'{names.SERVICE_NAME}:"{SERVICE}" event_name:"{names.EVENT_GEN_AI_EVALUATION_RESULT}"'
    events = wait_until(
        lambda: victorialogs.query(query),
        timeout=30,
        what=f"the evaluation events of {SERVICE} in VictoriaLogs",
    )
    pipelines = {
        (s.trace_id.hex(), s.span_id.hex())  # protobuf bytes; VictoriaLogs stores hex
        for a, s in spans_of(traced, SERVICE)
        if a.get(names.RAG_STAGE) == names.STAGE_PIPELINE
    }
    assert any((e["trace_id"], e["span_id"]) in pipelines for e in events)
    assert all(e[names.GEN_AI_EVALUATION_NAME] == "faithfulness" for e in events)


def test_failed_retrieval_span_records_the_error_type(traced: Jaeger) -> None:
    def found() -> bool:
        return any(
            a.get(names.RAG_STAGE) == names.STAGE_RETRIEVAL
            and a.get(names.ERROR_TYPE)
            and s.status.code == 2  # STATUS_CODE_ERROR
            for a, s in spans_of(traced, SERVICE)
        )

    wait_until(found, timeout=30, what="an ERROR retrieval span with error.type")


def received_span(sink: Jaeger | OtlpSink, service: str) -> tuple[dict[str, Any], Any]:
    found = wait_until(lambda: spans_of(sink, service), timeout=30, what=f"the span of {service}")
    return found[0]


def test_collector_drops_content_attributes_by_default(collector: Any, jaeger: Jaeger) -> None:
    post_span_with_content(collector.otlp_http, "e2e-content-default")
    attributes, span = received_span(jaeger, "e2e-content-default")
    assert attributes == {names.RAG_STAGE: names.STAGE_GENERATION}
    assert [attrs(e.attributes) for e in span.events] == [{}]


def test_collector_keeps_content_when_allowed(collector_factory: Any) -> None:
    with (
        OtlpSink(http_enabled=False) as backend,
        collector_factory(
            backend, name="otelcol-keep", extra_env={"RAGSIGHT_COLLECTOR_KEEP_CONTENT": "true"}
        ) as keeping,
    ):
        post_span_with_content(keeping.otlp_http, "e2e-content-kept")
        attributes, _ = received_span(backend, "e2e-content-kept")
    assert set(names.CONTENT_ATTRIBUTES) <= set(attributes)
