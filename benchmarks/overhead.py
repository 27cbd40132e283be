"""Per-call overhead of ragsight's stage decorators, side by side with hand-written OTel.

A script, not a test: timings never gate CI. Run ``python benchmarks/overhead.py``
(``--rounds``/``--calls`` to change the sample). Method:

* every case times ``--calls`` calls of the same trivial function; cases are interleaved
  in a shuffled order within each round, so drift (CPU frequency, noisy neighbours) hits
  all of them alike; reported: median over rounds, the interquartile range and the best
  round (on a shared machine the best round is the cost with the least interference);
* overhead = case - bare call; ratios are overheads divided by the raw span's overhead
  (``tracer.start_as_current_span`` through a BatchSpanProcessor with a null exporter),
  computed from the medians and, in the last column, from the best rounds;
* with an SDK: ragsight's metric bookkeeping is drained by the metric reader's collection,
  which runs between rounds (as a periodic reader or a Prometheus scrape would, off the
  request path). The row "all-in" puts one collection per round inside the timed region,
  so it charges the drain to the calls: that is the total CPU per call, not the latency;
* "no SDK" cases run in a fresh subprocess whose global providers were never set, against
  OTel's own no-op span (``trace.get_tracer(...).start_as_current_span``) in that process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

Case = Callable[[int], float]  # runs n calls, returns elapsed seconds


def timed_loop(fn: Callable[[], Any]) -> Case:
    def run(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return time.perf_counter() - t0

    return run


def timed_async(fn: Callable[[], Any]) -> Case:
    async def loop(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            await fn()
        return time.perf_counter() - t0

    def run(n: int) -> float:
        return asyncio.run(loop(n))

    return run


def measure(
    cases: dict[str, Case], rounds: int, calls: int, between: Callable[[], None] | None = None
) -> dict[str, list[float]]:
    """Nanoseconds per call, one sample per round per case."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    order = list(cases)
    for case in cases.values():  # warm-up
        case(calls // 10 or 1)
    for _ in range(rounds):
        random.shuffle(order)
        for name in order:
            samples[name].append(cases[name](calls) / calls * 1e9)
            if between is not None:
                between()
    return samples


def summary(values: Sequence[float]) -> tuple[float, float, float, float]:
    q = statistics.quantiles(values, n=4)
    return statistics.median(values), q[0], q[2], min(values)


def openai_generation() -> Callable[[], Any] | None:
    """A ``@generation`` given a real openai client, returning a real ``ChatCompletion``
    (provider, server, request parameters, usage and response read); None without openai."""
    try:
        import openai
        from openai.types.chat import ChatCompletion
    except ImportError:
        return None
    import ragsight

    client = openai.OpenAI(api_key="sk-bench", base_url="https://api.openai.com/v1")
    completion = ChatCompletion.model_validate(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-4o-2024-08-06",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "ok"},
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
        }
    )
    messages = [{"role": "user", "content": "hi"}]

    @ragsight.generation
    def chat(client: Any, **request: Any) -> Any:
        return completion

    def call() -> Any:
        return chat(client, model="gpt-4o", messages=messages, temperature=0.2, max_tokens=64)

    return call


# ---------------------------------------------------------------------------------------
def with_sdk(rounds: int, calls: int) -> dict[str, list[float]]:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    import ragsight
    from ragsight import names

    class NullExporter(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    # a queue large enough that no span is dropped: dropping would flatter every case
    tracer_provider.add_span_processor(BatchSpanProcessor(NullExporter(), max_queue_size=1 << 17))
    trace.set_tracer_provider(tracer_provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    tracer = trace.get_tracer("bench")
    histogram = metrics.get_meter("bench").create_histogram("bench.duration", unit="s")
    labels = {names.RAG_STAGE: "stage", names.RAG_OPERATION_NAME: "work"}

    def work() -> int:
        return 1

    async def awork() -> int:
        return 1

    def raw_span() -> int:
        with tracer.start_as_current_span("work"):
            return work()

    def raw_span_attrs() -> int:
        with tracer.start_as_current_span("work", attributes=labels):
            return work()

    def floor() -> int:
        t0 = time.perf_counter()
        with tracer.start_as_current_span("work"):
            result = work()
        histogram.record(time.perf_counter() - t0, labels)
        return result

    genai_hist = metrics.get_meter("bench").create_histogram("bench.genai", unit="s")
    docs_hist = metrics.get_meter("bench").create_histogram("bench.docs")
    score_hist = metrics.get_meter("bench").create_histogram("bench.score")
    start_attrs = {
        names.RAG_STAGE: "retrieval",
        names.RAG_OPERATION_NAME: "search",
        names.GEN_AI_OPERATION_NAME: "retrieval",
        names.GEN_AI_DATA_SOURCE_ID: "kb",
    }
    genai_labels = {names.GEN_AI_OPERATION_NAME: "retrieval"}

    def search() -> list[dict[str, float]]:
        return [{"score": 0.9}, {"score": 0.4}]

    def hand_written_retrieval() -> list[dict[str, float]]:
        """What @retrieval does, written by hand with the OTel API (inline metrics)."""
        t0 = time.perf_counter()
        with tracer.start_as_current_span(
            "retrieval kb", kind=trace.SpanKind.CLIENT, attributes=start_attrs
        ) as span:
            docs = search()
            scores = [d["score"] for d in docs]
            span.set_attributes(
                {
                    names.RAG_RETRIEVAL_DOCUMENTS_COUNT: len(docs),
                    names.RAG_RETRIEVAL_TOP_SCORE: max(scores),
                    names.RAG_RETRIEVAL_MEAN_SCORE: sum(scores) / len(scores),
                }
            )
        elapsed = time.perf_counter() - t0
        histogram.record(elapsed, labels)
        genai_hist.record(elapsed, genai_labels)
        docs_hist.record(len(docs), labels)
        score_hist.record(max(scores), labels)
        return docs

    stage = ragsight.instrument(work)
    astage = ragsight.instrument(awork)
    retrieval = ragsight.retrieval(data_source="kb")(search)

    def collect() -> None:
        reader.get_metrics_data()

    def all_in(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            stage()
        collect()
        return time.perf_counter() - t0

    cases: dict[str, Case] = {
        "bare call": timed_loop(work),
        "bare await": timed_async(awork),
        "raw OTel span": timed_loop(raw_span),
        "raw OTel span + 2 attributes": timed_loop(raw_span_attrs),
        "raw span + 1 histogram record (floor)": timed_loop(floor),
        "ragsight @instrument (sync)": timed_loop(stage),
        "ragsight @instrument (async)": timed_async(astage),
        "hand-written retrieval span + its 4 metrics": timed_loop(hand_written_retrieval),
        "ragsight @retrieval (same span + 4 metrics)": timed_loop(retrieval),
        "ragsight @instrument, all-in (drain timed)": all_in,
    }
    generation = openai_generation()
    if generation is not None:
        cases["ragsight @generation (openai client, ChatCompletion)"] = timed_loop(generation)
    return measure(cases, rounds, calls, between=collect)


def without_sdk(rounds: int, calls: int) -> dict[str, list[float]]:
    from opentelemetry import trace

    import ragsight

    tracer = trace.get_tracer("bench")  # a ProxyTracer: no SDK was ever configured

    def work() -> int:
        return 1

    async def awork() -> int:
        return 1

    def noop_span() -> int:
        with tracer.start_as_current_span("work"):
            return work()

    cases: dict[str, Case] = {
        "bare call": timed_loop(work),
        "bare await": timed_async(awork),
        "OTel no-op span": timed_loop(noop_span),
        "ragsight @instrument, no SDK (sync)": timed_loop(ragsight.instrument(work)),
        "ragsight @instrument, no SDK (async)": timed_async(ragsight.instrument(awork)),
    }
    result = measure(cases, rounds, calls)
    assert "opentelemetry.sdk.trace" not in sys.modules
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--no-sdk-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.no_sdk_child:
        print(json.dumps(without_sdk(args.rounds, args.calls)))
        return

    child = subprocess.run(
        [sys.executable, __file__, "--no-sdk-child", f"--rounds={args.rounds}",
         f"--calls={args.calls}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    no_sdk = json.loads(child.stdout)
    sdk = with_sdk(args.rounds, args.calls)

    def table(title: str, samples: dict[str, list[float]], ref: str, bare: str) -> None:
        bare_sync, _, _, best_sync = summary(samples["bare call"])
        bare_async, _, _, best_async = summary(samples["bare await"])
        ref_med, _, _, ref_best = summary(samples[ref])
        ref_over, ref_best_over = ref_med - bare_sync, ref_best - best_sync
        print(f"\n### {title}\n")
        print(f"| case | ns/call (median) | IQR | overhead ns | x {ref} overhead "
              "| best round: overhead ns | x |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, values in samples.items():
            med, lo, hi, best = summary(values)
            is_async = "async" in name or name == "bare await"
            over = med - (bare_async if is_async else bare_sync)
            best_over = best - (best_async if is_async else best_sync)
            print(f"| {name} | {med:,.0f} | {lo:,.0f}-{hi:,.0f} | {over:,.0f} | "
                  f"{over / ref_over:.2f} | {best_over:,.0f} | "
                  f"{best_over / ref_best_over:.2f} |")  # fmt: skip

    print(f"rounds={args.rounds} calls/round={args.calls} python={sys.version.split()[0]}")
    table("With the SDK (BatchSpanProcessor, null exporter)", sdk, "raw OTel span", "bare call")
    table("No SDK configured (fresh process)", no_sdk, "OTel no-op span", "bare call")


if __name__ == "__main__":
    main()
