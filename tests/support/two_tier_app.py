"""A RAG service for the two-tier Collector test, run as its own process.

    python tests/support/two_tier_app.py --out <manifest.json> --traces N --slow-seconds S

Configured like a user's service (``ragsight.configure()`` reading OTEL_* from the
environment: service name, OTLP endpoint). It serves N requests, one trace each, of these
kinds, in a seeded shuffled order:

- ``ordinary``: embed, search, generate under the pipeline span; nothing special;
- ``error``: the generation raises, so the generation and pipeline spans are errors;
- ``slow``: the search sleeps ``S`` seconds (past the samplers' latency threshold);
- ``retry``: the vector store fails once and ragsight's retry succeeds (a
  ``resilience.retry.scheduled`` span event, no error status);
- ``breaker``: a request whose failing search opens the breaker (an error trace), then,
  once the breaker's open time has passed, a request whose successful probe closes it
  (``resilience.circuit_breaker.state_changed`` events, no error status).

What the test compares the backends with is what the process really produced: a span
processor on ragsight's tracer provider records every ended span (trace id, status,
events, times). After ``ragsight.shutdown()`` (which flushes the export) it writes
``{trace_id: {"kind", "spans", "error", "duration_s", "events"}}`` to ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

import ragsight

# Share of each kind among the N traces (the rest are ordinary).
KIND_SHARES = {"error": 0.1, "slow": 0.06, "retry": 0.08, "breaker": 0.06}
BREAKER_OPEN_SECONDS = 0.1


class SpanLedger(SpanProcessor):
    """Every span the process ended, by trace id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.traces: dict[str, dict[str, Any]] = {}

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return

    def on_end(self, span: ReadableSpan) -> None:
        context = span.get_span_context()
        assert context is not None
        assert span.start_time is not None
        assert span.end_time is not None
        trace_id = format(context.trace_id, "032x")
        with self._lock:
            entry = self.traces.setdefault(
                trace_id, {"spans": 0, "error": False, "start": span.start_time, "end": 0}
            )
            entry["spans"] += 1
            entry["error"] = entry["error"] or span.status.status_code is StatusCode.ERROR
            entry["start"] = min(entry["start"], span.start_time)
            entry["end"] = max(entry["end"], span.end_time)
            entry.setdefault("events", []).extend(e.name for e in span.events)

    def shutdown(self) -> None:
        return

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class VectorStoreError(ConnectionError):
    """What the simulated vector store raises."""


class App:
    def __init__(self, slow_seconds: float) -> None:
        self.slow_seconds = slow_seconds
        self.kind = "ordinary"
        self.trace_id = ""
        self.flaky_calls = 0
        self.breaker = ragsight.CircuitBreaker(
            "two-tier-vector-store",
            consecutive_failures=1,
            open_duration=BREAKER_OPEN_SECONDS,
            max_open_duration=BREAKER_OPEN_SECONDS,
            open_jitter=0.0,
            half_open_probes=1,
            probe_successes_to_close=1,
        )
        self.flaky_query = ragsight.retry(
            name="two-tier-flaky-store",
            attempts=3,
            on=(VectorStoreError,),
            base_delay=0.001,
            max_delay=0.002,
            budget=False,
        )(self._flaky_query)

    def _flaky_query(self) -> list[dict[str, Any]]:
        self.flaky_calls += 1
        if self.flaky_calls == 1:
            raise VectorStoreError("connection reset")
        return [{"id": "doc-0", "score": 0.8}]

    @staticmethod
    def _down() -> list[dict[str, Any]]:
        raise VectorStoreError("vector store unreachable")

    @staticmethod
    def _up() -> list[dict[str, Any]]:
        return [{"id": "doc-0", "score": 0.8}]

    @ragsight.embedding("embed_query", provider="local", model="minilm", local=True)
    def embed(self, question: str) -> list[float]:
        return [0.1] * 8

    @ragsight.retrieval("search", data_source="kb-main", top_k=5)
    def search(self, vector: list[float]) -> list[dict[str, Any]]:
        if self.kind == "slow":
            time.sleep(self.slow_seconds)
        if self.kind == "retry":
            self.flaky_calls = 0
            return list(self.flaky_query())
        if self.kind == "breaker-trip":
            return list(self.breaker.call(self._down))
        if self.kind == "breaker":
            return list(self.breaker.call(self._up))
        return [{"id": "doc-0", "score": 0.8}]

    @ragsight.generation("answer", provider="openai", model="gpt-4o-mini")
    def generate(self, question: str, docs: list[dict[str, Any]]) -> str:
        ragsight.current_stage().set_usage(input_tokens=120, output_tokens=40)
        if self.kind == "error":
            raise RuntimeError("the model's API answered 500")
        return "an answer"

    @ragsight.pipeline("answer_question")
    def handle(self, question: str) -> str:
        self.trace_id = format(trace.get_current_span().get_span_context().trace_id, "032x")
        return self.generate(question, self.search(self.embed(question)))

    def request(self, kind: str) -> str:
        """Serve one request of ``kind``; return its trace id."""
        self.kind = kind
        self.trace_id = ""
        with contextlib.suppress(Exception):  # a failed request is data here
            self.handle(f"question of kind {kind}")
        return self.trace_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--traces", type=int, required=True)
    parser.add_argument("--slow-seconds", type=float, required=True)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    ragsight.configure()
    ledger = SpanLedger()
    trace.get_tracer_provider().add_span_processor(ledger)  # type: ignore[attr-defined]
    app = App(args.slow_seconds)

    kinds = [k for k, share in KIND_SHARES.items() for _ in range(max(1, int(share * args.traces)))]
    kinds += ["ordinary"] * (args.traces - len(kinds))
    random.Random(args.seed).shuffle(kinds)
    intended: dict[str, str] = {}
    for kind in kinds:
        if kind == "breaker":
            intended[app.request("breaker-trip")] = "breaker-trip"
            assert app.breaker.state == "open", app.breaker.state
            time.sleep(BREAKER_OPEN_SECONDS * 1.5)
        intended[app.request(kind)] = kind
        if kind == "breaker":
            assert app.breaker.state == "closed", app.breaker.state
    ragsight.shutdown()

    manifest = {
        trace_id: {
            "kind": intended[trace_id],
            "spans": entry["spans"],
            "error": entry["error"],
            "duration_s": (entry["end"] - entry["start"]) / 1e9,
            "events": sorted(set(entry.get("events", []))),
        }
        for trace_id, entry in ledger.traces.items()
    }
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
