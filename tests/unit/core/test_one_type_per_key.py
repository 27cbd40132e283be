"""One concept, one name and one value type, on every signal.

A sample pipeline touching every stage kind, a cache, an evaluation, a circuit breaker that
opens and rejects, and a retry that retries and gives up runs under the public in-memory
capture (``ragsight.testing``); then every attribute key on spans, span events, metric
points and Logs-API events (when the capture records them) must carry values of a single
type, and every key ragsight itself names must come from the names contract.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pytest

import ragsight
from ragsight import names
from ragsight.resilience_testing import no_wait
from ragsight.testing import Telemetry, capture_telemetry

# keys the OpenTelemetry SDK or other conventions own (not part of ragsight's contract)
_FOREIGN_PREFIXES = ("telemetry.", "service.", "otel.", "exception.", "code.", "process.")


class Usage:
    prompt_tokens = 120
    completion_tokens = 30


class ChatCompletion:
    model = "gpt-4o-mini-2024-07-18"
    usage = Usage()


class Unavailable(Exception):
    status_code = 503  # retryable by the default classification


def _sample_pipeline() -> None:
    breaker = ragsight.CircuitBreaker("typed-store", consecutive_failures=1)

    @ragsight.embedding(provider="openai", model="text-embedding-3-small")
    def embed(text: str) -> list[float]:
        ragsight.current_stage().set_usage(input_tokens=3)
        return [0.1, 0.2]

    @ragsight.retrieval(data_source="kb", top_k=2)
    def search(text: str) -> list[dict[str, Any]]:
        return [{"id": "a", "score": 0.9}, {"id": "b", "score": 0.4}]

    @ragsight.retrieval("bm25", data_source="kb-bm25", score="unbounded")
    def keywords(text: str) -> list[dict[str, Any]]:
        return [{"id": "a", "score": 7.3}]

    @ragsight.retrieval("l2", data_source="kb-l2", score="distance")
    def nearest(text: str) -> list[dict[str, Any]]:
        return [{"id": "a", "score": 0.31}]

    @ragsight.rerank(model="cross-encoder", top_n=1)
    def rerank(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return docs[:1]

    @ragsight.tool
    def lookup(term: str) -> str:
        return "entry"

    @ragsight.generation(provider="openai", model="gpt-4o-mini")
    def answer(text: str, temperature: float = 0.2, max_tokens: int = 64) -> ChatCompletion:
        return ChatCompletion()

    @ragsight.generation(provider="openai", model="gpt-4o-mini")
    def answer_stream(text: str) -> Iterator[str]:
        ragsight.current_stage().set_usage(input_tokens=10, output_tokens=2)
        yield "a"

    attempts: list[int] = []

    @ragsight.retry(attempts=2, budget=False)
    def flaky_store() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise Unavailable()
        return "ok"

    @ragsight.retry(attempts=2, budget=False)
    def dead_store() -> str:
        raise Unavailable()

    @breaker
    def guarded() -> str:
        raise Unavailable()

    @ragsight.pipeline
    def handle(question: str) -> str:
        with ragsight.cache("answers") as lookup_cache:
            lookup_cache.miss()
        embed(question)
        rerank(search(question))
        keywords(question)
        nearest(question)
        lookup("term")
        flaky_store()
        with pytest.raises(Unavailable):  # gave up after its two attempts
            dead_store()
        for _ in range(2):  # the first failure opens the breaker, the second is rejected
            with pytest.raises((Unavailable, ragsight.CircuitOpenError)):
                guarded()
        answer(question, temperature=0.5, max_tokens=32)
        text = "".join(answer_stream(question))
        ragsight.record_evaluation("faithfulness", 0.8, label="pass")
        return text

    handle("q")


def _kind(value: Any) -> str:
    """The OTel attribute value type of ``value`` (sequences as ``<type>[]``)."""
    if isinstance(value, (list, tuple)):
        inner = {_kind(v) for v in value}
        return f"{'|'.join(sorted(inner)) or 'empty'}[]"
    if isinstance(value, Mapping):
        return "map"
    return type(value).__name__


def _attribute_sets(t: Telemetry) -> Iterable[tuple[str, Mapping[str, Any]]]:
    for span in t.spans:
        yield f"span {span.name}", dict(span.attributes or {})
        for event in span.events:
            yield f"span event {event.name}", dict(event.attributes or {})
    for point in t.collect():
        yield f"metric {point.name}", point.attributes
    for log_event in getattr(t, "log_events", ()):  # Logs-API events, where captured
        yield f"log event {log_event.name}", log_event.attributes


@pytest.fixture(scope="module")
def carriers() -> dict[str, dict[str, set[str]]]:
    """key -> value type -> where it was seen."""
    seen: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    with capture_telemetry() as t, no_wait():
        _sample_pipeline()
        for where, attributes in _attribute_sets(t):
            for key, value in attributes.items():
                seen[key][_kind(value)].add(where)
    return seen


def test_the_sample_reaches_every_signal_kind(carriers):
    places = {w.split(" ")[0] for types in carriers.values() for ws in types.values() for w in ws}
    assert {"span", "metric"} <= places
    assert names.RETRY_ATTEMPT in carriers  # on retry spans or events and on retry metrics


def test_every_attribute_key_has_one_value_type_everywhere(carriers):
    mixed = {
        key: {kind: sorted(where)[:3] for kind, where in types.items()}
        for key, types in carriers.items()
        if len({k for k in types if not k.startswith("empty")}) > 1
    }
    assert mixed == {}


def test_the_retry_attempt_is_an_int_on_spans_events_and_metrics(carriers):
    assert set(carriers[names.RETRY_ATTEMPT]) == {"int"}
    where = {w.split(" ")[0] for w in carriers[names.RETRY_ATTEMPT]["int"]}
    assert "metric" in where
    assert where & {"span", "log"}


def _contract_values() -> set[str]:
    return {
        value
        for key, value in vars(names).items()
        if key.isupper() and isinstance(value, str) and "." in value and " " not in value
    }


def test_every_key_ragsight_names_comes_from_the_names_contract(carriers):
    contract = _contract_values()
    ours = {k for k in carriers if not k.startswith(_FOREIGN_PREFIXES)}
    assert ours - contract == set()


def test_a_resilience_component_is_named_by_one_key(carriers):
    component_names = {k for k in carriers if k.startswith("resilience.") and k.endswith(".name")}
    assert component_names == {names.RESILIENCE_NAME}
