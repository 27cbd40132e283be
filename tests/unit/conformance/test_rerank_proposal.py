"""The rerank stage follows semantic-conventions-genai #253 as far as it goes (docs/rerank.md)."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import ragsight
from ragsight import names
from ragsight.testing import capture_telemetry

RERANK_DOC = Path(__file__).parents[3] / "docs" / "rerank.md"
DOCUMENTS = ["Paris is in France.", "Lyon is in France.", "Rome is in Italy."]


@ragsight.rerank(provider="cohere", model="rerank-v3.5", top_n=2)
def cohere_rerank(query: str, documents: list[str]) -> Any:
    """The Cohere SDK's response shape: results with an index and a relevance score."""
    return SimpleNamespace(
        results=[
            SimpleNamespace(index=0, relevance_score=0.93),
            SimpleNamespace(index=1, relevance_score=0.41),
        ]
    )


@ragsight.rerank
def plain_rerank(query: str, documents: list[str]) -> list[str]:
    return documents[:1]


def _rerank_span(call: Any, *, capture: bool = False) -> Any:
    from ragsight._core import policy as _policy

    if capture:
        _policy.set_content_policy(_policy.ContentPolicy(capture=True))
    try:
        with capture_telemetry() as telemetry:
            call("capital of France", DOCUMENTS)
        (span,) = telemetry.spans
        return span
    finally:
        _policy.set_content_policy(_policy.DEFAULT_CONTENT_POLICY)


def test_the_operation_is_the_proposal_value_and_names_the_span(mode: str) -> None:
    span = _rerank_span(cohere_rerank)
    assert span.attributes[names.GEN_AI_OPERATION_NAME] == "rerank"
    assert span.name == "rerank rerank-v3.5"
    assert span.kind.name == "CLIENT"


def test_the_proposed_attributes_are_mirrored_under_rag_rerank(mode: str) -> None:
    attributes = dict(_rerank_span(cohere_rerank).attributes or {})
    assert attributes[names.RAG_RERANK_CANDIDATE_COUNT] == len(DOCUMENTS)
    assert attributes[names.RAG_RERANK_TOP_N] == 2
    assert attributes[names.GEN_AI_PROVIDER_NAME] == "cohere"
    assert attributes[names.GEN_AI_REQUEST_MODEL] == "rerank-v3.5"


@pytest.mark.parametrize("capture", [False, True], ids=["content off", "content on"])
def test_no_gen_ai_rerank_name_is_emitted_while_the_proposal_is_open(
    capture: bool, mode: str
) -> None:
    attributes = dict(_rerank_span(cohere_rerank, capture=capture).attributes or {})
    assert [k for k in attributes if k.startswith("gen_ai.rerank.")] == []


def _documented_names() -> set[str]:
    return set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`", RERANK_DOC.read_text()))


@pytest.mark.parametrize("capture", [False, True], ids=["content off", "content on"])
def test_the_rerank_doc_names_every_attribute_a_rerank_span_carries(
    capture: bool, mode: str
) -> None:
    documented = _documented_names()
    for call in (cohere_rerank, plain_rerank):
        attributes = dict(_rerank_span(call, capture=capture).attributes or {})
        # rag.stage, rag.operation.name and the captured rag.input/rag.output are on every
        # stage's span (README: telemetry contract), not rerank names
        own = {
            k
            for k in attributes
            if k
            not in {names.RAG_STAGE, names.RAG_OPERATION_NAME, names.RAG_INPUT, names.RAG_OUTPUT}
        }
        assert own - documented == set(), f"{call.__name__}: not in docs/rerank.md"


def test_the_conformance_table_marks_the_proposal_rows() -> None:
    rows = [c for c in names.CONVENTIONS if names.SRC_GENAI_RERANK_PROPOSAL in c.defined_in]
    assert {c.name for c in rows} == {
        names.OP_RERANK,
        names.RAG_RERANK_CANDIDATE_COUNT,
        names.RAG_RERANK_TOP_N,
    }
