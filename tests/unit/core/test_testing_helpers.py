"""ragsight.testing and the ragsight_telemetry fixture, as a user would use them."""

from __future__ import annotations

import pytest

import ragsight
from ragsight import names
from ragsight._core import runtime as _runtime
from ragsight.testing import capture_telemetry


@ragsight.pipeline("qa")
def handle(question: str) -> list[dict]:
    return search(question)


@ragsight.retrieval(data_source="kb")
def search(question: str) -> list[dict]:
    return [{"score": 0.6}]


def test_fixture_captures_spans_and_metrics(ragsight_telemetry):
    handle("q")
    ragsight_telemetry.assert_span(
        "retrieval kb",
        attributes={names.RAG_STAGE: "retrieval", names.RAG_RETRIEVAL_DOCUMENTS_COUNT: 1},
        status="unset",
        parent="invoke_workflow qa",
    )
    assert (
        ragsight_telemetry.histogram_count(
            names.RAG_OPERATION_DURATION.name, **{names.RAG_STAGE: "retrieval"}
        )
        == 1
    )
    assert ragsight_telemetry.internal_errors() == {}


def test_assert_span_failures_explain_what_was_found(ragsight_telemetry):
    handle("q")
    with pytest.raises(AssertionError, match="expected exactly one span named 'nope'"):
        ragsight_telemetry.assert_span("nope")
    with pytest.raises(AssertionError, match=r"rag\.stage='retrieval', expected 'pipeline'"):
        ragsight_telemetry.assert_span("retrieval kb", attributes={names.RAG_STAGE: "pipeline"})
    with pytest.raises(AssertionError, match="is not a child of"):
        ragsight_telemetry.assert_span("invoke_workflow qa", parent="retrieval kb")
    with pytest.raises(AssertionError, match="status is UNSET, expected error"):
        ragsight_telemetry.assert_span("retrieval kb", status="error")


def test_counter_and_event_helpers():
    with capture_telemetry() as telemetry:
        with ragsight.cache("answers") as c:
            c.hit()

        @ragsight.generation(model="m")
        def answer() -> str:
            ragsight.record_evaluation("faithfulness", 1.0)
            return "a"

        answer()
    assert (
        telemetry.counter_value(names.RAG_CACHE_REQUESTS.name, **{names.RAG_CACHE_RESULT: "hit"})
        == 1
    )
    assert [e.name for e in telemetry.events] == [names.EVENT_GEN_AI_EVALUATION_RESULT]


def test_assert_no_attribute_value_finds_leaks():
    with capture_telemetry() as telemetry:
        ragsight.instrument("step", attributes={"note": "leaky-value"})(lambda: None)()
    with pytest.raises(AssertionError, match="leaky-value"):
        telemetry.assert_no_attribute_value("leaky-value")
    telemetry.assert_no_attribute_value("absent-value")


def test_capture_restores_the_previous_routing_when_it_ends():
    before = _runtime._override
    with capture_telemetry() as outer:
        with capture_telemetry() as inner:
            ragsight.instrument("inner_step")(lambda: None)()
        ragsight.instrument("outer_step")(lambda: None)()
    assert _runtime._override is before
    assert [s.name for s in inner.spans] == ["inner_step"]
    assert [s.name for s in outer.spans] == ["outer_step"]


def test_an_evaluation_never_judges_a_span_of_an_earlier_capture():
    with capture_telemetry():
        handle("an earlier test's pipeline")
    with capture_telemetry() as telemetry:
        ragsight.record_evaluation("relevance", 0.5)  # nothing of this capture to judge
        event = telemetry.log_event(names.EVENT_GEN_AI_EVALUATION_RESULT)
    assert (event.trace_id, event.span_id) == (None, None)


def _broken_extract(result: object) -> dict[str, object]:
    raise RuntimeError("a bug in the user's extract hook")


@ragsight.retrieval(data_source="kb-broken", extract=_broken_extract)
def broken_search(question: str) -> list[dict]:
    return []


def test_internal_errors_are_those_of_the_capture_not_of_earlier_tests():
    with capture_telemetry() as earlier:
        broken_search("q")  # an earlier test (or capture) provokes a contained failure
        assert earlier.internal_errors() != {}
    with capture_telemetry() as telemetry:
        search("q")
        assert telemetry.internal_errors() == {}
        broken_search("q")
        assert sum(telemetry.internal_errors().values()) == 1
