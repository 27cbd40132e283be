"""current_stage(), stage(...) blocks, record_evaluation, and containment of our failures."""

from __future__ import annotations

import asyncio
import threading

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

import ragsight
from ragsight import names
from ragsight._core import safety as _safety


def test_current_stage_adds_attributes_and_results_from_inside(otel):
    @ragsight.retrieval(data_source="kb")
    def search() -> str:
        stage = ragsight.current_stage()
        stage.set_attribute("db.collection.name", "faq")
        stage.set_result([{"score": 0.4}, {"score": 0.8}])
        return "opaque handle the readers cannot understand"

    search()
    span = otel.span("retrieval kb").attributes
    assert span["db.collection.name"] == "faq"
    assert span[names.RAG_RETRIEVAL_DOCUMENTS_COUNT] == 2
    assert span[names.RAG_RETRIEVAL_TOP_SCORE] == 0.8


def test_current_stage_outside_any_stage_is_a_harmless_noop(otel):
    stage = ragsight.current_stage()
    stage.set_attribute("k", "v")
    stage.set_usage(1, 2)
    stage.set_result([1])
    assert not stage.span.is_recording()
    assert otel.spans() == []


def test_set_usage_feeds_token_metrics(otel):
    @ragsight.generation(provider="p", model="m")
    def answer() -> str:
        ragsight.current_stage().set_usage(input_tokens=11, output_tokens=4)
        return "text"

    answer()
    span = otel.span("chat m").attributes
    assert (span[names.GEN_AI_USAGE_INPUT_TOKENS], span[names.GEN_AI_USAGE_OUTPUT_TOKENS]) == (
        11,
        4,
    )
    sums = sorted(
        p.sum
        for spec in (
            names.GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS,
            names.GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS,
        )
        for p in otel.points(spec.name)
    )
    assert sums == [4, 11]


def test_stage_block_is_a_child_span_with_its_results(otel):
    @ragsight.pipeline("qa")
    def handle() -> None:
        with ragsight.stage("retrieval", "bm25", data_source="lexical") as s:
            s.set_result([{"score": 0.3}])

    handle()
    child = otel.span("retrieval lexical")
    assert child.parent.span_id == otel.span("invoke_workflow qa").context.span_id
    assert child.attributes[names.RAG_OPERATION_NAME] == "bm25"
    assert child.attributes[names.RAG_RETRIEVAL_TOP_SCORE] == 0.3


def test_async_stage_block_records_errors(otel):
    async def main() -> None:
        async with ragsight.stage("tool", "lookup"):
            raise LookupError("nope")

    with pytest.raises(LookupError):
        asyncio.run(main())
    span = otel.span("execute_tool lookup")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[names.ERROR_TYPE] == "LookupError"


def test_unknown_stage_is_rejected():
    with pytest.raises(ValueError, match="unknown stage"):
        ragsight.stage("retreival")


def test_record_evaluation_emits_event_on_current_span_and_histogram(otel):
    @ragsight.generation(model="m")
    def answer() -> str:
        ragsight.record_evaluation("relevance", 0.75, label="pass", explanation="cites doc 3")
        return "a"

    answer()
    (event,) = otel.span("chat m").events
    assert event.name == names.EVENT_GEN_AI_EVALUATION_RESULT
    assert event.attributes[names.GEN_AI_EVALUATION_NAME] == "relevance"
    assert event.attributes[names.GEN_AI_EVALUATION_SCORE_VALUE] == 0.75
    assert event.attributes[names.GEN_AI_EVALUATION_SCORE_LABEL] == "pass"
    (point,) = otel.points(names.RAG_EVALUATION_SCORE.name)
    assert dict(point.attributes) == {
        names.GEN_AI_EVALUATION_NAME: "relevance",
        names.GEN_AI_EVALUATION_SCORE_LABEL: "pass",
    }
    assert point.sum == 0.75


@pytest.mark.parametrize("score", [float("nan"), "high", True])
def test_invalid_evaluation_is_counted_not_raised(otel, score):
    ragsight.record_evaluation("relevance", score)
    assert _safety.internal_error_counts() == {"evaluation": 1}
    assert otel.points(names.RAG_EVALUATION_SCORE.name) == []


def test_raising_extract_hook_leaves_the_result_untouched_and_is_counted(otel):
    def bad_hook(result: object) -> dict:
        raise RuntimeError("hook bug")

    sentinel = object()

    @ragsight.retrieval(data_source="kb", extract=bad_hook)
    def search() -> object:
        return sentinel

    assert search() is sentinel
    assert search() is sentinel
    assert _safety.internal_error_counts() == {"extract.hook": 2}
    assert len(otel.spans()) == 2
    (point,) = [
        p
        for p in otel.points(names.RAGSIGHT_INTERNAL_ERRORS.name)
        if p.attributes[names.RAGSIGHT_COMPONENT] == "extract.hook"
    ]
    assert point.value == 2


def test_raising_extract_hook_leaves_the_users_exception_untouched(otel):
    def bad_hook(result: object) -> dict:
        raise RuntimeError("hook bug")

    error = KeyError("user's own")

    @ragsight.retrieval(data_source="kb", extract=bad_hook)
    def search() -> None:
        ragsight.current_stage().set_result([1])
        raise error

    with pytest.raises(KeyError) as info:
        search()
    assert info.value is error
    assert _safety.internal_error_counts() == {"extract.hook": 1}


def test_result_whose_properties_raise_is_contained(otel):
    class Hostile:
        @property
        def usage(self) -> None:
            raise RuntimeError("property bug")

    hostile = Hostile()

    @ragsight.generation(model="m")
    def answer() -> Hostile:
        return hostile

    assert answer() is hostile
    assert _safety.internal_error_counts() == {"extract": 1}
    assert otel.span("chat m").status.status_code is StatusCode.UNSET


def test_unserialisable_argument_is_captured_as_its_repr(otel):
    from ragsight._core import policy as _policy
    from ragsight._core.policy import ContentPolicy

    _policy.set_content_policy(ContentPolicy(capture=True))

    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque>"

    @ragsight.instrument
    def step(thing: object) -> None:
        pass

    step(Opaque())
    assert "<Opaque>" in otel.span("step").attributes[names.RAG_INPUT]


def test_argument_whose_repr_raises_is_contained(otel):
    from ragsight._core import policy as _policy
    from ragsight._core.policy import ContentPolicy

    _policy.set_content_policy(ContentPolicy(capture=True))

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("repr bug")

    @ragsight.instrument
    def step(thing: object) -> int:
        return 5

    assert step(Broken()) == 5
    assert _safety.internal_error_counts() == {"content": 1}
    assert names.RAG_INPUT not in otel.span("step").attributes


def test_stage_block_spanning_a_yield_ends_when_the_generator_finishes_in_another_thread(otel):
    # a with-block inside a generator exits in whichever context consumes the last item
    # (Starlette iterates sync generators in a thread pool, one context per item)
    def stream():
        with ragsight.stage("generation", "stream"):
            yield 1
            yield 2

    gen = stream()
    seen: list[int] = []
    errors: list[BaseException] = []

    def consume(take_all: bool) -> None:
        # each thread has its own context; the first one keeps the entered block current
        # (as any with-block suspended at a yield does), so it must not be the test's own
        try:
            seen.extend(gen if take_all else [next(gen)])
        except BaseException as exc:  # pragma: no cover - the failure being tested
            errors.append(exc)

    for take_all in (False, True):
        worker = threading.Thread(target=consume, args=(take_all,))
        worker.start()
        worker.join()
    assert errors == []
    assert seen == [1, 2]
    assert otel.span("chat").status.status_code is StatusCode.UNSET


def test_async_stage_block_spanning_a_yield_exits_cleanly_in_another_task(otel):
    async def stream():
        async with ragsight.stage("generation", "astream"):
            yield 1
            yield 2

    async def main() -> tuple[list[int], bool, bool]:
        agen = stream()
        await agen.__anext__()

        async def rest() -> tuple[list[int], bool, bool]:
            # this task's context was copied while the block was entered
            items = [item async for item in agen]
            still_current = ragsight.current_stage().span.is_recording()
            span_current = trace.get_current_span().is_recording()
            return items, still_current, span_current

        return await asyncio.create_task(rest())

    items, stage_leaked, span_leaked = asyncio.run(main())
    assert items == [2]
    assert not stage_leaked
    assert not span_leaked
    assert otel.span("chat").end_time is not None


KB = ragsight.stage("retrieval", "kb_shared")


def test_a_stage_scope_shared_by_concurrent_tasks_ends_one_span_per_entry(otel):
    async def work(i: int) -> None:
        async with KB as handle:
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            handle.set_attribute("task", i)

    async def main() -> None:
        await asyncio.gather(*(work(i) for i in range(3)))

    asyncio.run(main())
    spans = [s for s in otel.spans() if s.name == "retrieval"]
    assert sorted(s.attributes["task"] for s in spans) == [0, 1, 2]
    assert trace.get_current_span().is_recording() is False


def test_a_stage_scope_nested_in_itself_ends_both_spans_as_parent_and_child(otel):
    with KB, KB:
        pass
    inner, outer = otel.spans()
    assert inner.parent is not None
    assert inner.parent.span_id == outer.context.span_id
    assert not ragsight.current_stage().span.is_recording()


def test_a_reused_cache_handle_does_not_count_the_previous_result_again(otel):
    lookup = ragsight.cache("emb")
    with lookup as c:
        c.hit()
    with lookup:
        pass  # no lookup reported this time: nothing to count
    (point,) = otel.points(names.RAG_CACHE_REQUESTS.name)
    assert point.value == 1


def test_free_text_evaluation_labels_are_folded_past_a_cap(otel, monkeypatch):
    from ragsight._core import evaluation as _evaluation

    monkeypatch.setattr(_evaluation, "_series", {})
    ragsight.record_evaluation("relevance", 0.9, label="pass")
    for i in range(200):  # a judge's sentence used as the label
        ragsight.record_evaluation("relevance", 0.5, label=f"looks fine, reason {i}")
    ragsight.record_evaluation("relevance", 0.9, label="pass")
    points = otel.points(names.RAG_EVALUATION_SCORE.name)
    assert len(points) <= _evaluation._MAX_SERIES + 1
    assert sum(p.count for p in points) == 202  # folded, never dropped
    by_label = {p.attributes.get(names.GEN_AI_EVALUATION_SCORE_LABEL): p for p in points}
    assert by_label["pass"].count == 2
    assert by_label[names.VALUE_OTHER].count == 200 - (_evaluation._MAX_SERIES - 1)
