"""Events go through the Logs API, parented to the span they are about, and are mirrored as
span events unless ``events.span_events`` is off (ragsight.testing shows both)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

import ragsight
from ragsight import names
from ragsight._core import events as _events
from ragsight._core import policy as _policy
from ragsight._core.policy import ContentPolicy
from ragsight.resilience_testing import FakeClock, no_wait
from ragsight.testing import Telemetry, capture_telemetry


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    _events.reset_for_tests()
    try:
        with capture_telemetry() as captured:
            yield captured
    finally:
        _events.reset_for_tests()
        _policy.set_content_policy(_policy.DEFAULT_CONTENT_POLICY)


@pytest.fixture
def span_events_off(telemetry: Telemetry) -> Iterator[None]:
    """What configure(events_span_events="off") applies (configure's own test: below)."""
    _events.set_span_events(names.SPAN_EVENTS_OFF)
    yield
    _events.set_span_events(names.SPAN_EVENTS_MIRROR)


@ragsight.generation(provider="openai", model="m")
def answer(messages: list[dict[str, str]], system: str | None = None) -> str:
    return "Paris"


@ragsight.retrieval(data_source="kb")
def search(query: str) -> list[dict[str, Any]]:
    return [{"id": "d1", "score": 0.9}, {"id": "d2", "score": 0.4}]


@ragsight.pipeline("qa")
def qa(question: str) -> str:
    search(question)
    return answer([{"role": "user", "content": question}])


# ------------------------------------------------------------------------ evaluation --
def test_an_evaluation_given_a_stage_is_parented_to_that_stage_span(telemetry: Telemetry) -> None:
    with ragsight.stage("pipeline", "judged") as judged:
        pass
    ragsight.record_evaluation("relevance", 0.8, label="pass", judged=judged)
    event = telemetry.log_event(names.EVENT_GEN_AI_EVALUATION_RESULT)
    assert event.parented_to(telemetry.span("invoke_workflow judged"))
    assert event.attributes == {
        names.GEN_AI_EVALUATION_NAME: "relevance",
        names.GEN_AI_EVALUATION_SCORE_VALUE: 0.8,
        names.GEN_AI_EVALUATION_SCORE_LABEL: "pass",
    }


def test_an_evaluation_given_a_span_context_is_parented_to_it(telemetry: Telemetry) -> None:
    qa("capital of France?")
    judged = telemetry.span("chat m").get_span_context()
    ragsight.record_evaluation("faithfulness", 0.5, judged=judged)
    assert telemetry.log_event(names.EVENT_GEN_AI_EVALUATION_RESULT).parented_to(
        telemetry.span("chat m")
    )


def test_an_evaluation_inside_a_stage_judges_that_stage_by_default(telemetry: Telemetry) -> None:
    @ragsight.generation(model="inner")
    def generate() -> str:
        ragsight.record_evaluation("toxicity", 0.0)
        return "ok"

    generate()
    event = telemetry.log_event(names.EVENT_GEN_AI_EVALUATION_RESULT)
    assert event.parented_to(telemetry.span("chat inner"))


def test_an_evaluation_after_the_pipeline_returned_judges_that_pipeline(
    telemetry: Telemetry,
) -> None:
    qa("capital of France?")
    ragsight.record_evaluation("answer_relevance", 0.9)
    event = telemetry.log_event(names.EVENT_GEN_AI_EVALUATION_RESULT)
    assert event.parented_to(telemetry.span("invoke_workflow qa"))


def test_an_evaluation_under_an_application_span_judges_the_last_inference_of_its_trace(
    telemetry: Telemetry,
) -> None:
    tracer = TracerProvider().get_tracer("app")
    with tracer.start_as_current_span("request"):
        answer([{"role": "user", "content": "q"}])
        ragsight.record_evaluation("relevance", 0.7)
    event = telemetry.log_event(names.EVENT_GEN_AI_EVALUATION_RESULT)
    assert event.parented_to(telemetry.span("chat m"))


def test_concurrent_pipelines_of_one_trace_each_judge_their_own_call(
    telemetry: Telemetry,
) -> None:
    @ragsight.pipeline("concurrent")
    async def concurrent(question: str, delay: float) -> int:
        await asyncio.sleep(delay)
        return ragsight.current_stage().span.get_span_context().span_id

    async def handle(question: str, delay: float, judge_after: float) -> int:
        span_id = await concurrent(question, delay)
        await asyncio.sleep(judge_after)  # the other pipeline ends in between
        ragsight.record_evaluation("relevance", 0.5, label=question)
        return span_id

    async def request() -> dict[str, int]:
        # q2's pipeline ends first; q1's ends while q2 is still judging
        first, second = await asyncio.gather(handle("q1", 0.02, 0.0), handle("q2", 0.0, 0.2))
        return {"q1": first, "q2": second}

    tracer = TracerProvider().get_tracer("app")
    with tracer.start_as_current_span("request"):  # one trace for both pipelines
        judged = asyncio.run(request())
    parents = {
        e.attributes[names.GEN_AI_EVALUATION_SCORE_LABEL]: e.span_id
        for e in telemetry.log_events
        if e.name == names.EVENT_GEN_AI_EVALUATION_RESULT
    }
    assert parents == judged


def test_an_evaluation_with_nothing_to_judge_has_no_parent(telemetry: Telemetry) -> None:
    ragsight.record_evaluation("relevance", 0.7, response_id="chatcmpl-1")
    event = telemetry.log_event(names.EVENT_GEN_AI_EVALUATION_RESULT)
    assert (event.trace_id, event.span_id) == (None, None)
    assert event.attributes[names.GEN_AI_RESPONSE_ID] == "chatcmpl-1"


def test_an_evaluation_carries_the_judged_span_response_id_and_its_error_type(
    telemetry: Telemetry,
) -> None:
    with ragsight.stage("pipeline", "judged") as judged:
        judged.set_attribute(names.GEN_AI_RESPONSE_ID, "resp-7")
        ragsight.record_evaluation("relevance", 0.0, error_type="timeout")
    attributes = telemetry.log_event(names.EVENT_GEN_AI_EVALUATION_RESULT).attributes
    assert attributes[names.GEN_AI_RESPONSE_ID] == "resp-7"
    assert attributes[names.ERROR_TYPE] == "timeout"


def test_a_failed_evaluation_needs_no_score_and_stays_out_of_the_score_metric(
    telemetry: Telemetry,
) -> None:
    # a judge that timed out has no score: a made-up 0.0 would read as a quality drop
    qa("capital of France?")
    ragsight.record_evaluation("relevance", None, error_type="TimeoutError")
    event = telemetry.log_event(names.EVENT_GEN_AI_EVALUATION_RESULT)
    assert event.attributes == {
        names.GEN_AI_EVALUATION_NAME: "relevance",
        names.ERROR_TYPE: "TimeoutError",
    }
    assert event.parented_to(telemetry.span("invoke_workflow qa"))
    assert telemetry.histogram_count(names.RAG_EVALUATION_SCORE.name) == 0


def test_a_score_given_with_an_error_type_is_on_the_event_but_not_in_the_metric(
    telemetry: Telemetry,
) -> None:
    ragsight.record_evaluation("relevance", 0.0, error_type="TimeoutError")
    event = telemetry.log_event(names.EVENT_GEN_AI_EVALUATION_RESULT)
    assert event.attributes[names.GEN_AI_EVALUATION_SCORE_VALUE] == 0.0
    assert telemetry.histogram_count(names.RAG_EVALUATION_SCORE.name) == 0


def test_a_label_only_evaluation_is_an_event_without_a_score(telemetry: Telemetry) -> None:
    ragsight.record_evaluation("toxicity", None, label="not_toxic")
    event = telemetry.log_event(names.EVENT_GEN_AI_EVALUATION_RESULT)
    assert event.attributes == {
        names.GEN_AI_EVALUATION_NAME: "toxicity",
        names.GEN_AI_EVALUATION_SCORE_LABEL: "not_toxic",
    }
    assert telemetry.histogram_count(names.RAG_EVALUATION_SCORE.name) == 0


def test_an_evaluation_with_neither_score_label_nor_error_is_an_internal_error(
    telemetry: Telemetry,
) -> None:
    before = telemetry.internal_errors().get("evaluation", 0)
    ragsight.record_evaluation("relevance", None)
    assert telemetry.log_events == []
    assert telemetry.internal_errors().get("evaluation", 0) == before + 1


def test_an_evaluation_score_may_be_any_real_number_type(telemetry: Telemetry) -> None:
    # a cross-encoder judge returns numpy float32 scores; Fraction stands for any Real
    ragsight.record_evaluation("relevance", Fraction(3, 4))
    event = telemetry.log_event(names.EVENT_GEN_AI_EVALUATION_RESULT)
    value = event.attributes[names.GEN_AI_EVALUATION_SCORE_VALUE]
    assert (type(value), value) == (float, 0.75)
    assert telemetry.histogram_count(names.RAG_EVALUATION_SCORE.name) == 1


def test_an_evaluation_given_a_finished_span_record_is_parented_to_it(
    telemetry: Telemetry,
) -> None:
    # what an exporter or SpanProcessor.on_end hands a background judge: a ReadableSpan
    qa("capital of France?")
    finished = telemetry.span("chat m")
    ragsight.record_evaluation("faithfulness", 0.5, judged=finished)
    assert telemetry.log_event(names.EVENT_GEN_AI_EVALUATION_RESULT).parented_to(finished)


def test_an_evaluation_explanation_is_redacted_and_bounded(telemetry: Telemetry) -> None:
    # an LLM judge's reasoning can be as long as the answer it quotes
    _policy.set_content_policy(ContentPolicy(max_length=200))
    secret = "sk-proj-" + "a1B2c3D4e5" * 4
    ragsight.record_evaluation("faithfulness", 0.4, explanation=f"key {secret} " + "x" * 50_000)
    text = telemetry.log_event(names.EVENT_GEN_AI_EVALUATION_RESULT).attributes[
        names.GEN_AI_EVALUATION_EXPLANATION
    ]
    assert secret not in text
    assert text.startswith("key ")
    assert len(text) < 300


def test_an_evaluation_of_an_open_span_is_mirrored_on_it(telemetry: Telemetry) -> None:
    with ragsight.stage("pipeline", "judged"):
        ragsight.record_evaluation("relevance", 0.8)
    (mirrored,) = telemetry.span("invoke_workflow judged").events
    assert mirrored.name == names.EVENT_GEN_AI_EVALUATION_RESULT
    assert dict(mirrored.attributes or {})[names.GEN_AI_EVALUATION_SCORE_VALUE] == 0.8


def test_an_evaluation_of_an_ended_span_is_mirrored_on_the_open_span_of_its_trace(
    telemetry: Telemetry,
) -> None:
    with ragsight.stage("pipeline", "outer"):
        answer([{"role": "user", "content": "q"}])
        judged = telemetry.span("chat m").get_span_context()
        ragsight.record_evaluation("relevance", 0.8, judged=judged)
    assert telemetry.span("chat m").events == ()
    (mirrored,) = telemetry.span("invoke_workflow outer").events
    assert mirrored.name == names.EVENT_GEN_AI_EVALUATION_RESULT
    assert telemetry.log_event(names.EVENT_GEN_AI_EVALUATION_RESULT).parented_to(
        telemetry.span("chat m")
    )


def test_an_evaluation_with_no_parent_is_not_mirrored_on_an_unrelated_span(
    telemetry: Telemetry,
) -> None:
    tracer = TracerProvider().get_tracer("app")
    with tracer.start_as_current_span("request") as request:
        ragsight.record_evaluation("relevance", 0.7)
    assert request.events == ()  # type: ignore[attr-defined]
    assert telemetry.log_event(names.EVENT_GEN_AI_EVALUATION_RESULT).trace_id is None


@pytest.mark.usefixtures("span_events_off")
def test_with_span_events_off_an_evaluation_is_a_log_record_only(telemetry: Telemetry) -> None:
    with ragsight.stage("pipeline", "judged"):
        ragsight.record_evaluation("relevance", 0.8)
    assert telemetry.span("invoke_workflow judged").events == ()
    assert telemetry.log_event(names.EVENT_GEN_AI_EVALUATION_RESULT).parented_to(
        telemetry.span("invoke_workflow judged")
    )


def test_a_judged_value_of_the_wrong_type_is_an_internal_error_not_a_raise(
    telemetry: Telemetry,
) -> None:
    ragsight.record_evaluation("relevance", 0.8, judged="chat m")  # type: ignore[arg-type]
    assert telemetry.internal_errors().get("evaluation", 0) >= 1
    assert telemetry.log_events == []


# --------------------------------------------------------------------------- content --
def capture(to: str) -> None:
    _policy.set_content_policy(ContentPolicy(capture=True, capture_to=to))  # type: ignore[arg-type]


def test_captured_inference_content_is_the_details_event_with_structured_messages(
    telemetry: Telemetry,
) -> None:
    capture("event")
    answer([{"role": "user", "content": "capital of France?"}], system="be brief")
    event = telemetry.log_event(names.EVENT_GEN_AI_INFERENCE_DETAILS)
    assert event.parented_to(telemetry.span("chat m"))
    assert event.severity == "DEBUG"
    assert event.attributes[names.GEN_AI_INPUT_MESSAGES] == [
        {"role": "user", "parts": [{"type": "text", "content": "capital of France?"}]}
    ]
    assert event.attributes[names.GEN_AI_OUTPUT_MESSAGES] == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Paris"}],
            "finish_reason": "stop",
        }
    ]
    assert event.attributes[names.GEN_AI_SYSTEM_INSTRUCTIONS] == [
        {"type": "text", "content": "be brief"}
    ]


def test_the_details_event_repeats_the_inference_span_attributes(telemetry: Telemetry) -> None:
    capture("event")
    answer([{"role": "user", "content": "q"}])
    attributes = telemetry.log_event(names.EVENT_GEN_AI_INFERENCE_DETAILS).attributes
    assert attributes[names.GEN_AI_OPERATION_NAME] == names.OP_CHAT
    assert attributes[names.GEN_AI_REQUEST_MODEL] == "m"
    assert attributes[names.GEN_AI_PROVIDER_NAME] == "openai"


def test_captured_retrieval_documents_are_a_structured_retrieval_event(
    telemetry: Telemetry,
) -> None:
    capture("event")
    search("refunds")
    event = telemetry.log_event(names.EVENT_RAG_RETRIEVAL_DETAILS)
    assert event.parented_to(telemetry.span("retrieval kb"))
    assert event.attributes[names.GEN_AI_RETRIEVAL_DOCUMENTS] == [
        {"id": "d1", "score": 0.9},
        {"id": "d2", "score": 0.4},
    ]
    assert event.attributes[names.GEN_AI_RETRIEVAL_QUERY_TEXT] == "refunds"


def test_mirrored_content_is_json_text_on_the_span_event(telemetry: Telemetry) -> None:
    capture("event")
    answer([{"role": "user", "content": "q"}])
    span = telemetry.span("chat m")
    assert names.GEN_AI_INPUT_MESSAGES not in (span.attributes or {})
    (mirrored,) = [e for e in span.events if e.name == names.EVENT_GEN_AI_INFERENCE_DETAILS]
    text = dict(mirrored.attributes or {})[names.GEN_AI_INPUT_MESSAGES]
    assert isinstance(text, str)
    assert json.loads(text) == [{"role": "user", "parts": [{"type": "text", "content": "q"}]}]


def test_span_and_event_capture_is_not_mirrored_a_second_time(telemetry: Telemetry) -> None:
    capture("span_and_event")
    answer([{"role": "user", "content": "q"}])
    span = telemetry.span("chat m")
    assert names.GEN_AI_INPUT_MESSAGES in (span.attributes or {})
    assert span.events == ()
    telemetry.log_event(names.EVENT_GEN_AI_INFERENCE_DETAILS)


def test_span_only_capture_emits_no_content_event(telemetry: Telemetry) -> None:
    capture("span")
    answer([{"role": "user", "content": "q"}])
    assert telemetry.log_events == []


def test_captured_content_events_are_redacted(telemetry: Telemetry) -> None:
    capture("event")
    secret = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
    answer([{"role": "user", "content": f"my key is {secret}"}])
    telemetry.assert_no_attribute_value(secret)


# ------------------------------------------------------------------------ resilience --
class Unavailable(Exception):
    status_code = 503


def fail() -> None:
    raise Unavailable()


def test_breaker_transitions_and_rejections_are_named_events_on_the_stage_span(
    telemetry: Telemetry,
) -> None:
    breaker = ragsight.CircuitBreaker(
        "events-cb", clock=FakeClock(), consecutive_failures=1, open_jitter=0.0
    )

    @ragsight.retrieval(data_source="kb")
    def guarded(query: str) -> list[dict[str, Any]]:
        breaker.call(fail)
        return []

    for _ in range(2):
        with pytest.raises((Unavailable, ragsight.CircuitOpenError)):
            guarded("q")
    opened, rejected = (
        telemetry.log_event(names.EVENT_CB_STATE_CHANGED),
        telemetry.log_event(names.EVENT_CB_CALL_REJECTED),
    )
    assert opened.attributes[names.CB_TO_STATE] == names.CB_STATE_OPEN
    assert opened.severity == "WARN"
    assert rejected.attributes[names.RESILIENCE_NAME] == "events-cb"
    first, second = sorted(
        (s for s in telemetry.spans if s.name == "retrieval kb"), key=lambda s: s.start_time or 0
    )
    assert opened.parented_to(first)
    assert rejected.parented_to(second)


def test_retries_and_give_ups_are_named_events(telemetry: Telemetry) -> None:
    policy = ragsight.RetryPolicy(name="events-retry", attempts=2, budget=False)
    with no_wait(), pytest.raises(Unavailable):
        policy.call(fail)
    assert [e.name for e in telemetry.log_events] == [
        names.EVENT_RETRY_SCHEDULED,
        names.EVENT_RETRY_GAVE_UP,
    ]
    gave_up = telemetry.log_event(names.EVENT_RETRY_GAVE_UP)
    assert gave_up.attributes[names.RETRY_STOP_REASON] == "attempts_exhausted"
    assert gave_up.attributes[names.RETRY_ATTEMPT] == 2


@pytest.mark.usefixtures("span_events_off")
def test_with_span_events_off_resilience_events_leave_the_span_alone(
    telemetry: Telemetry,
) -> None:
    policy = ragsight.RetryPolicy(name="events-quiet", attempts=2, budget=False)
    with ragsight.stage("pipeline", "guarded"), no_wait(), pytest.raises(Unavailable):
        policy.call(fail)
    assert telemetry.span("invoke_workflow guarded").events == ()
    assert all(
        e.parented_to(telemetry.span("invoke_workflow guarded")) for e in telemetry.log_events
    )
    assert len(telemetry.log_events) == 2


def test_events_outside_any_span_have_no_trace_ids(telemetry: Telemetry) -> None:
    assert not trace.get_current_span().get_span_context().is_valid
    policy = ragsight.RetryPolicy(name="events-bare", attempts=2, budget=False)
    with no_wait(), pytest.raises(Unavailable):
        policy.call(fail)
    assert {(e.trace_id, e.span_id) for e in telemetry.log_events} == {(None, None)}


SCHEMAS = Path(__file__).parents[2] / "schemas" / "semantic-conventions-v1.41.0"
SCHEMA_OF = {
    names.GEN_AI_INPUT_MESSAGES: "gen-ai-input-messages.json",
    names.GEN_AI_OUTPUT_MESSAGES: "gen-ai-output-messages.json",
    names.GEN_AI_SYSTEM_INSTRUCTIONS: "gen-ai-system-instructions.json",
    names.GEN_AI_RETRIEVAL_DOCUMENTS: "gen-ai-retrieval-documents.json",
}


@pytest.mark.parametrize("key", SCHEMA_OF)
def test_structured_event_content_validates_against_the_conventions_schema(
    telemetry: Telemetry, key: str
) -> None:
    capture("event")
    answer([{"role": "user", "content": "q"}], system="be brief")
    search("refunds")
    (value,) = [e.attributes[key] for e in telemetry.log_events if key in e.attributes]
    schema = json.loads((SCHEMAS / SCHEMA_OF[key]).read_text())
    jsonschema.validate(value, schema, cls=jsonschema.Draft202012Validator)


def test_the_default_judged_span_is_remembered_for_a_bounded_number_of_traces(
    telemetry: Telemetry,
) -> None:
    @ragsight.pipeline("tiny")
    def tiny() -> str:
        return "ok"

    for _ in range(_events._MAX_TRACES + 1):
        tiny()
    first, last = telemetry.spans[0].context, telemetry.spans[-1].context
    assert first is not None
    assert last is not None
    for context in (first, last):
        with trace.use_span(trace.NonRecordingSpan(context)):
            ragsight.record_evaluation("relevance", 0.5)
    forgotten, remembered = telemetry.log_events
    assert (forgotten.trace_id, forgotten.span_id) == (None, None)
    assert (remembered.trace_id, remembered.span_id) == (last.trace_id, last.span_id)


def test_the_default_judged_span_memory_returns_to_its_bound_after_exceeding_it(
    telemetry: Telemetry,
) -> None:
    # concurrent evictions can pop the same oldest trace, leaving the memory one over its
    # bound; the next pipeline brings it back instead of keeping the excess for good
    @ragsight.pipeline("tiny")
    def tiny() -> str:
        return "ok"

    for _ in range(_events._MAX_TRACES):
        tiny()
    stale = telemetry.spans[0].context
    assert stale is not None
    for extra in range(1, 6):  # as if five racing evictions had each been skipped
        _events._ended_by_trace[-extra] = (stale, None)
    tiny()
    assert len(_events._ended_by_trace) == _events._MAX_TRACES
