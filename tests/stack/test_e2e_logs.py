"""ragsight's log records reach VictoriaLogs through the Collector, queryable with their
trace id, by the dashboard's logs panel, and linked to a trace Jaeger has.

The process gives up one retry inside its retrieval stage; ragsight logs that give-up on
the "ragsight" logger and exports the record over OTLP with the stage span's context.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from grafana_like import service_value
from stackbackends import Jaeger, VictoriaLogs
from stackgen import load_generator
from stackprocs import http_get, wait_until

import ragsight
from ragsight import names

gen = load_generator()
SERVICE = "e2e-logs"
GAVE_UP = "gave up"


@pytest.fixture(scope="module")
def give_up_record(run_one_event: Any, victorialogs: VictoriaLogs) -> Iterator[dict[str, Any]]:
    with run_one_event(SERVICE, "give_up"):
        query = f'{names.SERVICE_NAME}:"{SERVICE}" "{GAVE_UP}"'
        (record, *_) = wait_until(
            lambda: victorialogs.query(query),
            timeout=30,
            what=f"the give-up log record of {SERVICE} in VictoriaLogs",
        )
        yield record


def test_a_ragsight_log_record_is_stored_with_its_trace_id(give_up_record: dict[str, Any]) -> None:
    assert GAVE_UP in give_up_record["_msg"]
    assert re.fullmatch(r"[0-9a-f]{32}", give_up_record["trace_id"])
    assert re.fullmatch(r"[0-9a-f]{16}", give_up_record["span_id"])


def test_the_log_records_trace_is_in_jaeger(give_up_record: dict[str, Any], jaeger: Jaeger) -> None:
    """What the datasource's derived field links to exists."""
    url = f"{jaeger.query_url}/api/v3/traces/{give_up_record['trace_id']}"
    wait_until(lambda: http_get(url)[0] == 200, timeout=30, what=f"trace {url}")


def test_the_derived_trace_link_reads_the_field_the_record_has(
    give_up_record: dict[str, Any],
) -> None:
    logs_ds = next(
        d for d in gen.grafana_datasources()["datasources"] if d["uid"] == "victorialogs"
    )
    (link,) = logs_ds["jsonData"]["derivedFields"]
    assert link["matcherType"] == "label"
    assert link["matcherRegex"] in give_up_record
    assert link["datasourceUid"] == "jaeger"


@pytest.mark.parametrize("selected", [[SERVICE], ["$__all"]], ids=["service", "All"])
def test_the_logs_panel_shows_the_record(
    give_up_record: dict[str, Any], victorialogs: VictoriaLogs, selected: list[str]
) -> None:
    (panel,) = [p for p in gen.overview_dashboard()["panels"] if p["type"] == "logs"]
    (target,) = panel["targets"]
    query = target["expr"].replace("$service", service_value(selected, ".*"))
    found = wait_until(
        lambda: [
            r for r in victorialogs.query(query) if r["trace_id"] == give_up_record["trace_id"]
        ],
        timeout=30,
        what=f"the record in the logs panel query {query}",
    )
    assert found


@pytest.fixture(scope="module")
def give_up_event(give_up_record: dict[str, Any], victorialogs: VictoriaLogs) -> dict[str, Any]:
    """The Logs-API event of the same give-up (the record above is the message for humans)."""
    query = f'{names.SERVICE_NAME}:"{SERVICE}" event_name:"{names.EVENT_RETRY_GAVE_UP}"'
    (event, *_) = wait_until(
        lambda: victorialogs.query(query),
        timeout=30,
        what=f"the {names.EVENT_RETRY_GAVE_UP} event of {SERVICE} in VictoriaLogs",
    )
    return event


def test_a_ragsight_event_is_stored_on_the_span_it_is_about(
    give_up_record: dict[str, Any], give_up_event: dict[str, Any]
) -> None:
    assert (give_up_event["trace_id"], give_up_event["span_id"]) == (
        give_up_record["trace_id"],
        give_up_record["span_id"],
    )
    assert give_up_event[names.RETRY_STOP_REASON] == "attempts_exhausted"


def test_a_ragsight_event_shows_its_name_as_the_message(give_up_event: dict[str, Any]) -> None:
    """The Collector's transform/event_message: an event has no body of its own."""
    assert give_up_event["_msg"] == names.EVENT_RETRY_GAVE_UP


def captured_details_event() -> dict[str, Any]:
    """The attributes of a real details event: a generation stage with content capture on."""
    from ragsight._core import policy as _policy
    from ragsight._core.policy import ContentPolicy
    from ragsight.testing import capture_telemetry

    @ragsight.generation(provider="openai", model="m")
    def answer(messages: list[dict[str, str]]) -> str:
        return "secret answer"

    _policy.set_content_policy(ContentPolicy(capture=True, capture_to="event"))
    try:
        with capture_telemetry() as telemetry:
            answer([{"role": "user", "content": "secret question"}])
    finally:
        _policy.set_content_policy(_policy.DEFAULT_CONTENT_POLICY)
    return dict(telemetry.log_event(names.EVENT_GEN_AI_INFERENCE_DETAILS).attributes)


def test_the_collector_drops_structured_content_from_events_by_default(
    collector: Any, victorialogs: VictoriaLogs
) -> None:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    service = "e2e-event-content"
    attributes = captured_details_event()
    assert isinstance(attributes[names.GEN_AI_INPUT_MESSAGES], list)  # structured, as sent
    provider = LoggerProvider(resource=Resource({names.SERVICE_NAME: service}))
    exporter = OTLPLogExporter(endpoint=f"{collector.otlp_http}/v1/logs")
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    provider.get_logger("ragsight").emit(
        event_name=names.EVENT_GEN_AI_INFERENCE_DETAILS, attributes=attributes
    )
    provider.shutdown()
    (stored, *_) = wait_until(
        lambda: victorialogs.query(f'{names.SERVICE_NAME}:"{service}"'),
        timeout=30,
        what=f"the details event of {service} in VictoriaLogs",
    )
    assert stored["event_name"] == names.EVENT_GEN_AI_INFERENCE_DETAILS
    assert stored[names.GEN_AI_REQUEST_MODEL] == "m"
    assert not [k for k in stored if k.startswith(tuple(names.CONTENT_ATTRIBUTES))]
    assert "secret" not in json.dumps(stored)
