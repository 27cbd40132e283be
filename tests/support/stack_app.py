"""An instrumented RAG service for the stack tests, run as its own process.

    python tests/support/stack_app.py --control <file> [--interval SECONDS]

It is written and configured like a user's service: ragsight's stage decorators, cache
block, evaluation, circuit breaker, retry with a budget and batch processing, and
``ragsight.configure()`` reading the standard OTEL_* environment (service name, OTLP
endpoint, export intervals). Every request it reads ``--control`` (JSON ``{"mode": ...}``)
so a test can inject a fault and take it away while the process keeps running:

- ``healthy``: stages succeed; the answers cache hits every other request; uncached
  requests embed (with usage), call a tool, retrieve, rerank and alternate a plain and a
  streamed generation; one vector
  store call in 20 fails once and is retried; every 10th request ingests a small batch
  with one bad document;
- ``errors``: retrieval raises ``TimeoutError`` on every other uncached request (outside the
  breaker, so only the stage's error rate moves), and an evaluation is recorded with an
  invalid score, which ragsight reports as an internal error instead of raising;
- ``slow``: retrieval takes ``SLOW_SECONDS`` (past the tests' latency budget);
- ``outage``: every vector store call fails, so the breaker opens and rejects calls,
  retries give up and the retry budget runs dry;
- ``stop``: shut telemetry down (flushing it) and exit.

After each request it writes ``{"iterations": n, "mode": m, "breaker": state}`` to
``<control>.status`` so
tests wait for the app to have done something, never for a fixed time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ragsight

SLOW_SECONDS = 0.3
DEPENDENCY = "vector-store"


class VectorStoreError(ConnectionError):
    """What the (simulated) vector store raises when it is down or flaky."""


class App:
    def __init__(self) -> None:
        self.i = 0
        self.mode = "healthy"
        self.breaker = ragsight.CircuitBreaker(
            DEPENDENCY,
            failure_rate_threshold=0.5,
            minimum_calls=4,
            window=5.0,
            open_duration=0.5,
            max_open_duration=1.0,  # repeated failed probes back off, but not for long
        )
        # The retry budget is the process-wide one for DEPENDENCY, sized by configure().
        retry = ragsight.retry(
            name=DEPENDENCY,
            attempts=3,
            on=(VectorStoreError,),
            base_delay=0.005,
            max_delay=0.01,
        )
        self.vector_query = retry(self.breaker(self._vector_query))

    # --- dependencies -----------------------------------------------------------------
    def _vector_query(self, query: str, attempts: list[int]) -> list[dict[str, Any]]:
        attempts[0] += 1
        if self.mode == "outage":
            raise VectorStoreError("vector store unreachable")
        if self.i % 20 == 1 and attempts[0] == 1:
            raise VectorStoreError("connection reset")  # transient: the retry succeeds
        return [
            {"id": f"doc-{k}", "score": score}
            for k, score in enumerate((0.82, 0.75, 0.6, 0.4, 0.3))
        ]

    # --- stages -------------------------------------------------------------------------
    @ragsight.embedding("embed_query", provider="local", model="minilm", local=True)
    def embed(self, question: str) -> list[float]:
        ragsight.current_stage().set_usage(input_tokens=8)  # an embeddings API's usage
        return [0.1] * 8

    @ragsight.tool("lookup_glossary")
    def lookup_glossary(self, question: str) -> str:
        return "a glossary entry"

    @ragsight.retrieval("search", data_source="kb-main", top_k=5)
    def search(self, vector: list[float]) -> list[dict[str, Any]]:
        if self.mode == "errors" and self.i % 4 == 1:  # half of the uncached requests
            raise TimeoutError("retrieval timed out")
        if self.mode == "slow":
            time.sleep(SLOW_SECONDS)
        return self.vector_query("query", [0])

    @ragsight.retrieval("faiss_search", data_source="kb-faiss", score="distance")
    def search_by_distance(self, vector: list[float]) -> list[dict[str, Any]]:
        return [{"id": "doc-0", "score": 0.31}, {"id": "doc-1", "score": 0.58}]

    @ragsight.retrieval("bm25_search", data_source="kb-bm25", score="unbounded")
    def search_by_keywords(self, question: str) -> list[dict[str, Any]]:
        return [{"id": "doc-0", "score": 7.31}, {"id": "doc-1", "score": 2.19}]

    @ragsight.rerank("rerank", provider="local", model="cross-encoder", top_n=3, local=True)
    def rerank(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**d, "relevance_score": d["score"]} for d in docs[:3]]

    @ragsight.generation("answer", provider="openai", model="gpt-4o-mini")
    def generate(self, question: str, docs: list[dict[str, Any]]) -> str:
        ragsight.current_stage().set_usage(input_tokens=120, output_tokens=40)
        return "an answer"

    @ragsight.generation("answer_stream", provider="openai", model="gpt-4o-mini")
    def generate_stream(self, question: str, docs: list[dict[str, Any]]) -> Iterator[str]:
        ragsight.current_stage().set_usage(input_tokens=120, output_tokens=40)
        yield from ("an ", "answer")

    @ragsight.pipeline("answer_question")
    def handle(self, question: str) -> str:
        with ragsight.cache("answers") as lookup:
            if self.i % 2 == 0:
                lookup.hit()
                return "cached answer"
            lookup.miss()
        vector = self.embed(question)
        self.lookup_glossary(question)
        docs = self.rerank(self.search(vector))
        if self.i % 3 == 0:  # other retrievers: distances and unbounded (BM25) scores
            self.search_by_distance(vector)
            self.search_by_keywords(question)
        if self.i % 4 == 1:
            answer = self.generate(question, docs)
        else:  # a streamed generation: the span lasts until the last chunk
            answer = "".join(self.generate_stream(question, docs))
        score: Any = "not-a-score" if self.mode == "errors" else 0.9
        ragsight.record_evaluation("faithfulness", score)
        if self.i % 10 == 1:
            ragsight.process_documents(["a", "b", "bad", "c"], self.ingest, name="ingest")
        return answer

    @staticmethod
    def ingest(document: str) -> str:
        if document == "bad":
            raise ValueError("unparseable document")
        return document.upper()

    def request(self, mode: str) -> None:
        self.i += 1
        self.mode = mode
        try:
            self.handle(f"question {self.i}")
        except Exception:  # a failed request is the data the tests look at
            return


def _read_mode(control: Path) -> str:
    try:
        return str(json.loads(control.read_text())["mode"])
    except (OSError, ValueError, KeyError):
        return "healthy"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--control", type=Path, required=True)
    parser.add_argument("--interval", type=float, default=0.02)
    args = parser.parse_args(argv)
    # Small budget so that an outage exhausts it within the tests' few seconds.
    ragsight.configure(retry_budget_ratio=0.1, retry_budget_min_per_second=0.2)
    app = App()
    status = args.control.with_suffix(".status")
    while (mode := _read_mode(args.control)) != "stop":
        app.request(mode)
        status.write_text(
            json.dumps({"iterations": app.i, "mode": mode, "breaker": app.breaker.state})
        )
        time.sleep(args.interval)
    ragsight.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
