"""``ragsight demo``: an instrumented example RAG pipeline that lives through an outage.

Embed, cache lookup, retrieve (from a vector store behind a circuit breaker and a retry),
rerank, generate, evaluate: every stage is a ragsight decorator or context manager, so
the demo is also the shortest complete example of the API.

The story, in question order: the vector store works (an occasional timeout is retried
with backoff); then it goes down for a stretch, answering ``503`` with a ``Retry-After``
that the retry honours; the breaker opens, rejects calls while open, probes, re-opens
while the outage lasts, and closes once probes succeed again. Meanwhile answers degrade
to "no documents" and their evaluation scores dip, then recover; the answer cache warms
over the run. The demo counts what it did itself, at the call sites, so ``ragsight
summary`` can be checked against an independent tally (a test does exactly that).

Time is paced: question ``i`` starts at ``i * pace`` seconds, and every breaker and retry
duration is a multiple of the pace, so the story is the same at full speed (``pace``
0.1 s) and in ``--fast`` mode.
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
POPULARITY = (8, 6, 5, 4, 3, 2, 2, 1)  # some questions are asked far more than others
VARIANTS = 3  # wordings per question: the first repeat of each wording misses the cache
KB = tuple(f"doc-{i}: answer snippet number {i}" for i in range(40))
OUTAGE = (0.3, 0.55)  # the vector store is down for this share of the questions
TIMEOUT_RATE = 0.08  # outside the outage: an occasional timeout, retried with backoff
PACE = 0.1  # seconds per question at full speed
FAST_PACE = 0.01  # and with --fast


class VectorStoreTimeout(TimeoutError):
    """The vector store did not answer in time (transient: retried with backoff)."""


class VectorStoreUnavailable(Exception):
    """A ``503 Service Unavailable`` with a ``Retry-After``, shaped like an HTTP client's
    error (``status_code``, ``headers``) so ragsight classifies it as a real one."""

    status_code = 503

    def __init__(self, retry_after: float) -> None:
        super().__init__("vector store unavailable (HTTP 503)")
        self.headers = {"Retry-After-Ms": str(round(retry_after * 1000))}


@dataclass
class DemoTally:
    """What the demo did, counted at the call sites (keys: (stage, operation name))."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    cache: Counter[str] = field(default_factory=Counter)
    evaluations: Counter[str] = field(default_factory=Counter)
    store_calls: int = 0  # attempts that reached the vector store
    store_failures: int = 0
    degraded: Counter[str] = field(default_factory=Counter)  # why an answer had no documents
    questions: int = 0
    last_score: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": {f"{s}/{o}": n for (s, o), n in sorted(self.calls.items())},
            "errors": {f"{s}/{o}": n for (s, o), n in sorted(self.errors.items())},
            "cache": dict(self.cache),
            "evaluations": dict(self.evaluations),
            "store_calls": self.store_calls,
            "store_failures": self.store_failures,
            "degraded": dict(self.degraded),
            "questions": self.questions,
        }


EMBED = (names.STAGE_EMBEDDING, "embed_query")
RETRIEVE = (names.STAGE_RETRIEVAL, "search_kb")
RERANK = (names.STAGE_RERANK, "rerank_docs")
GENERATE = (names.STAGE_GENERATION, "answer")
PIPELINE = (names.STAGE_PIPELINE, "answer_question")
CACHE = (names.STAGE_CACHE, "answers")


@dataclass(frozen=True)
class Outage:
    """The question indexes during which the vector store answers 503."""

    first: int
    last: int  # exclusive

    @classmethod
    def for_questions(cls, questions: int) -> Outage:
        return cls(round(OUTAGE[0] * questions), round(OUTAGE[1] * questions))

    def __contains__(self, question: int) -> bool:
        return self.first <= question < self.last


@dataclass
class Pipeline:
    """The instrumented pipeline and the resilience objects a dashboard may read."""

    ask: Callable[[str], str | None]
    breaker: ragsight.CircuitBreaker
    current_question: list[int]  # one cell: the question now asked (the outage reads it)


def build_pipeline(
    tally: DemoTally, *, latency: float, pace: float, outage: Outage, seed: int
) -> Pipeline:
    """The instrumented pipeline; ``latency`` scales the simulated work (0: no sleeping)."""
    rng = random.Random(seed)
    answers: dict[str, str] = {}
    now_asked = [0]

    def work(seconds: float) -> None:
        if latency:
            time.sleep(seconds * latency * rng.uniform(0.5, 1.5))

    @ragsight.embedding("embed_query", provider="demo", model="hash-embed-8")
    def embed(text: str) -> list[float]:
        work(0.004)
        digest = hashlib.sha256(text.encode()).digest()
        return [b / 255 for b in digest[:8]]

    # A dependency behind a breaker and a retry: their events land on the retrieval span
    # (the current span when they run) and their metrics on resilience.* instruments.
    # Every duration is a multiple of the pace, so the story is the same at any speed.
    breaker = ragsight.CircuitBreaker(
        "vector-store",
        minimum_calls=4,
        failure_rate_threshold=0.5,
        consecutive_failures=3,
        window=8 * pace,
        buckets=4,
        open_duration=3 * pace,
        max_open_duration=6 * pace,
        open_jitter=0.0,
        probe_successes_to_close=2,
        probe_timeout=20 * pace,
    )

    def raw_query(vector: list[float]) -> list[dict[str, Any]]:
        tally.store_calls += 1
        work(0.010)
        if now_asked[0] in outage:
            tally.store_failures += 1
            raise VectorStoreUnavailable(retry_after=pace / 2)
        if rng.random() < TIMEOUT_RATE:
            tally.store_failures += 1
            raise VectorStoreTimeout("vector store did not answer in time")
        start = int(vector[0] * 30)
        return [
            {
                "id": f"doc-{start + i}",
                "text": KB[(start + i) % len(KB)],
                "score": round(0.95 - 0.1 * i - rng.uniform(0, 0.08), 3),
            }
            for i in range(5)
        ]

    query_vector_store: Callable[[list[float]], list[dict[str, Any]]] = ragsight.retry(
        name="vector-store",
        attempts=3,
        deadline=2 * pace,
        base_delay=pace / 20,
        max_delay=pace / 4,
        on=(VectorStoreTimeout, VectorStoreUnavailable),
        budget=ragsight.RetryBudget("vector-store", ratio=0.5, min_per_second=1 / pace),
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
        ragsight.current_stage().set_usage(
            input_tokens=40 + 12 * len(docs), output_tokens=24 if docs else 12
        )
        if not docs:
            return "I could not look that up right now; please try again shortly."
        return f"Based on {docs[0]['id']}: {docs[0]['text']}"

    def counted(key: tuple[str, str], fn: Any, *args: Any) -> Any:
        tally.calls[key] += 1
        try:
            return fn(*args)
        except Exception:
            tally.errors[key] += 1
            raise

    def evaluate(score: float, passed: bool) -> None:
        ragsight.record_evaluation("answer_relevance", score, label="pass" if passed else "fail")
        tally.evaluations["answer_relevance"] += 1
        tally.last_score = score

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
        except ragsight.CircuitOpenError:
            tally.degraded["breaker open"] += 1
            docs = []
        except (VectorStoreTimeout, VectorStoreUnavailable, ragsight.ResilienceError) as exc:
            tally.degraded[type(exc).__name__] += 1
            docs = []
        if not docs:
            # degrade: answer without documents (not cached), and the evaluation says so
            # (the query is redacted (e-mail) and truncated in exported logs, like on spans)
            log.warning("no documents for %r: answering without them", question)
            text: str = counted(GENERATE, generate, question, [])
            evaluate(round(rng.uniform(0.15, 0.35), 2), passed=False)
            return text
        top = counted(RERANK, rerank, question, docs)
        text = counted(GENERATE, generate, question, top)
        answers[question] = text
        evaluate(round(top[0]["score"], 2), passed=True)
        log.info("answered %r from %d documents", question, len(top))
        return text

    def ask(question: str) -> str | None:
        result: str | None = counted(PIPELINE, answer, question)
        return result

    return Pipeline(ask, breaker, now_asked)


@dataclass
class DemoRun:
    """A finished demo: its tally, and the pipeline (keep it until shutdown() so the
    breaker's state gauge is still observed at the last export)."""

    tally: DemoTally
    pipeline: Pipeline


def run_demo(
    *,
    questions: int = 40,
    latency: float = 1.0,
    pace: float = PACE,
    seed: int = 7,
    on_question: Callable[[DemoTally, Pipeline, int], None] | None = None,
) -> DemoRun:
    """Ask ``questions`` questions, one every ``pace`` seconds, through an outage.

    ``on_question(tally, pipeline, total)`` runs after each question (the live dashboard).
    """
    tally = DemoTally()
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)
    outage = Outage.for_questions(questions)
    pipeline = build_pipeline(tally, latency=latency, pace=pace, outage=outage, seed=seed)
    rng = random.Random(seed + 1)
    started = time.monotonic()
    for index in range(questions):
        delay = started + index * pace - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        pipeline.current_question[0] = index
        # repeats of a wording hit the answer cache; popular questions repeat most
        question = rng.choices(QUESTIONS, weights=POPULARITY)[0]
        variant = rng.randrange(VARIANTS)
        pipeline.ask(question if variant == 0 else f"{question} (variant {variant})")
        tally.questions += 1
        if on_question is not None:
            on_question(tally, pipeline, questions)
    return DemoRun(tally, pipeline)
