"""``ragsight demo``: an instrumented example RAG pipeline, run against the embedded default.

Embed, cache lookup, retrieve (from a flaky vector store behind a circuit breaker and a
retry), rerank, generate, evaluate: every stage is a
ragsight decorator or context manager, so the demo is also the shortest complete example
of the API. It counts what it did itself, at the call sites, so ``ragsight summary`` can
be checked against an independent tally (a test does exactly that).
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ragsight
from ragsight import names

log = logging.getLogger("ragsight.demo")

QUESTIONS = (
    "How do I reset my password? I am jane.doe@example.com",
    "What is the refund policy?",
    "How do I export my data?",
    "Which plans include SSO?",
    "How do I rotate an API key?",
    "Where are invoices stored?",
    "How do I delete my account?",
    "What regions are supported?",
)
KB = tuple(f"doc-{i}: answer snippet number {i}" for i in range(40))


class VectorStoreTimeout(TimeoutError):
    """The demo's flaky dependency."""


@dataclass
class DemoTally:
    """What the demo did, counted at the call sites (keys: (stage, operation name))."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    cache: Counter[str] = field(default_factory=Counter)
    evaluations: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": {f"{s}/{o}": n for (s, o), n in sorted(self.calls.items())},
            "errors": {f"{s}/{o}": n for (s, o), n in sorted(self.errors.items())},
            "cache": dict(self.cache),
            "evaluations": dict(self.evaluations),
        }


EMBED = (names.STAGE_EMBEDDING, "embed_query")
RETRIEVE = (names.STAGE_RETRIEVAL, "search_kb")
RERANK = (names.STAGE_RERANK, "rerank_docs")
GENERATE = (names.STAGE_GENERATION, "answer")
PIPELINE = (names.STAGE_PIPELINE, "answer_question")
CACHE = (names.STAGE_CACHE, "answers")


def build_pipeline(tally: DemoTally, *, latency: float, failure_rate: float, seed: int) -> Any:
    """The instrumented pipeline; ``latency`` scales the simulated work (0: no sleeping)."""
    rng = random.Random(seed)
    answers: dict[str, str] = {}

    def work(seconds: float) -> None:
        if latency:
            time.sleep(seconds * latency * rng.uniform(0.5, 1.5))

    @ragsight.embedding("embed_query", provider="demo", model="hash-embed-8")
    def embed(text: str) -> list[float]:
        work(0.004)
        digest = hashlib.sha256(text.encode()).digest()
        return [b / 255 for b in digest[:8]]

    # A flaky dependency behind a breaker and a retry: their events land on the retrieval
    # span (the current span when they run) and their metrics on resilience.* instruments.
    breaker = ragsight.CircuitBreaker(
        "vector-store", minimum_calls=10, failure_rate_threshold=0.5, open_duration=0.2
    )

    def raw_query(vector: list[float]) -> list[dict[str, Any]]:
        work(0.010)
        if rng.random() < failure_rate:
            raise VectorStoreTimeout("vector store did not answer in time")
        start = int(vector[0] * 30)
        return [
            {"id": f"doc-{start + i}", "text": KB[(start + i) % len(KB)], "score": 0.95 - 0.1 * i}
            for i in range(5)
        ]

    query_vector_store: Callable[[list[float]], list[dict[str, Any]]] = ragsight.retry(
        name="vector-store", attempts=2, base_delay=0.001, max_delay=0.005, on=VectorStoreTimeout
    )(breaker(raw_query))

    @ragsight.retrieval("search_kb", data_source="kb-demo", top_k=5)
    def retrieve(vector: list[float]) -> list[dict[str, Any]]:
        return query_vector_store(vector)

    @ragsight.rerank("rerank_docs", provider="demo", model="overlap-rerank")
    def rerank(question: str, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        work(0.005)
        return sorted(docs, key=lambda d: -d["score"])[:3]

    @ragsight.generation("answer", provider="demo", model="echo-1")
    def generate(question: str, docs: list[dict[str, Any]]) -> str:
        work(0.030)
        ragsight.current_stage().set_usage(input_tokens=40 + 12 * len(docs), output_tokens=24)
        return f"Based on {docs[0]['id']}: {docs[0]['text']}"

    def counted(key: tuple[str, str], fn: Any, *args: Any) -> Any:
        tally.calls[key] += 1
        try:
            return fn(*args)
        except Exception:
            tally.errors[key] += 1
            raise

    @ragsight.pipeline("answer_question")
    def answer(question: str) -> str | None:
        tally.calls[CACHE] += 1
        with ragsight.cache("answers") as lookup:
            cached = answers.get(question)
            if cached is not None:
                lookup.hit()
                tally.cache[names.CACHE_HIT] += 1
                return cached
            lookup.miss()
            tally.cache[names.CACHE_MISS] += 1
        vector = counted(EMBED, embed, question)
        try:
            docs = counted(RETRIEVE, retrieve, vector)
        except (VectorStoreTimeout, ragsight.ResilienceError):
            # the query is redacted (e-mail) and truncated in exported logs, like on spans
            log.warning("no documents for %r: vector store timed out", question)
            return None  # degrade: no answer rather than a crash
        top = counted(RERANK, rerank, question, docs)
        text: str = counted(GENERATE, generate, question, top)
        answers[question] = text
        relevance = round(top[0]["score"], 2)
        ragsight.record_evaluation("answer_relevance", relevance, label="pass")
        tally.evaluations["answer_relevance"] += 1
        log.info("answered %r from %d documents", question, len(top))
        return text

    def run_one(question: str) -> str | None:
        result: str | None = counted(PIPELINE, answer, question)
        return result

    return run_one


def run_demo(
    *,
    questions: int = 40,
    latency: float = 1.0,
    failure_rate: float = 0.25,
    seed: int = 7,
) -> DemoTally:
    """Run the pipeline ``questions`` times over a small question set (repeats hit the cache)."""
    tally = DemoTally()
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)
    run_one = build_pipeline(tally, latency=latency, failure_rate=failure_rate, seed=seed)
    rng = random.Random(seed + 1)
    for _ in range(questions):
        # repeats of the same wording hit the answer cache; variants miss it
        question = rng.choice(QUESTIONS)
        variant = rng.randrange(4)
        run_one(question if variant == 0 else f"{question} (variant {variant})")
    return tally
