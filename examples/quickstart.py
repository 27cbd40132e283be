"""The README's quick start as a program you can run: ``python examples/quickstart.py``.

With nothing configured it writes OTLP JSON Lines to ./ragsight-telemetry (read them with
``ragsight summary``); set OTEL_EXPORTER_OTLP_ENDPOINT to send to a Collector instead.
The stand-ins below (a keyword "vector store", a hash "embedding", a template "LLM") keep
it dependency-free; swap in your own clients, the decorators stay the same.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass

import ragsight


@dataclass(frozen=True)
class Doc:
    id: str
    text: str
    score: float  # read by @retrieval / @rerank for rag.retrieval.score


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage  # OpenAI-style: read by @generation for the token usage metrics


KB = [
    Doc("refunds", "Refunds are issued within 14 days of purchase.", 0.0),
    Doc("sso", "SSO is included in the Business and Enterprise plans.", 0.0),
    Doc("export", "Export your data from Settings, then Data.", 0.0),
]
_answers: dict[str, str] = {}

vector_store = ragsight.CircuitBreaker("vector-store", profile="vector_store")


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


@ragsight.embedding(provider="local", model="hash-embed-8")
def embed(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255 for b in digest[:8]]


@ragsight.retry(attempts=3)
@vector_store
@ragsight.retrieval(data_source="kb-main", top_k=2)
def search(query: str) -> list[Doc]:
    words = _words(query)
    scored = [Doc(d.id, d.text, len(words & _words(d.text)) / max(len(words), 1)) for d in KB]
    return sorted(scored, key=lambda d: d.score, reverse=True)[:2]


@ragsight.rerank(model="overlap-reranker")
def rerank(query: str, documents: list[Doc]) -> list[Doc]:
    return [d for d in documents if d.score > 0] or documents[:1]


@ragsight.generation(provider="local", model="template-llm")
async def answer(question: str, docs: list[Doc]) -> Completion:
    await asyncio.sleep(0)
    text = f"{docs[0].text} (source: {docs[0].id})"
    return Completion(text, Usage(len(question.split()) + 20, len(text.split())))


@ragsight.pipeline("answer_question")
async def handle(question: str) -> str:
    with ragsight.cache("answers") as lookup:
        if (hit := _answers.get(question)) is not None:
            lookup.hit()
            return hit
        lookup.miss()
    embed(question)
    docs = rerank(question, search(question))
    reply = await answer(question, docs)
    ragsight.record_evaluation(
        "answer_grounded", score=1.0 if docs[0].score > 0 else 0.0, label="grounded"
    )
    _answers[question] = reply.text
    return reply.text


async def main() -> None:
    for question in ("Which plans include SSO?", "How are refunds issued?") * 2:
        print(f"{question} -> {await handle(question)}")


if __name__ == "__main__":
    ragsight.configure(service_name="quickstart")
    try:
        asyncio.run(main())
    finally:
        ragsight.shutdown()
