"""Success-path overhead of ragsight's breaker and retry, side by side with the peers.

A script, not a test: timings never gate CI. Run ``python benchmarks/resilience.py``
(``--rounds``, ``--calls``; ``--json PATH`` to keep the raw numbers). Method (as in
research/resilience_anchors.md section 6):

* every case makes ``--calls`` calls of the same trivial function (``x + 1``); all cases
  are timed once per round, in a freshly shuffled order, so machine drift hits them alike;
  gc is disabled while timing; reported: the median over rounds, with the interquartile
  range of the added cost;
* "added" = case - bare call (same round); "x REF" = added / the REF breaker's added cost,
  where REF is a ~25-line breaker (a lock, a ring buffer of outcomes, two perf_counter
  calls): the floor a correct closed-state check costs in CPython;
* "+SDK" rows run with a configured OpenTelemetry MeterProvider (in-memory reader) bound
  to ragsight's resilience telemetry: per-call outcomes are plain integers read by
  observable instruments at collection time, so the success path should not change.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import pybreaker
import stamina
import tenacity
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from purgatory import AsyncCircuitBreakerFactory, SyncCircuitBreakerFactory

import ragsight
from ragsight._resilience import telemetry as _resilience_telemetry

Case = Callable[[int], float]


# ------------------------------------------------------------------------- REF breaker --
class RefBreaker:
    """The floor: lock + ring buffer + two perf_counter calls, closed-state success path."""

    def __init__(self, size: int = 100, slow: float = 60.0) -> None:
        self.lock = threading.Lock()
        self.ring = [0] * size
        self.pos = 0
        self.failures = 0
        self.slow = slow
        self.slow_calls = 0
        self.open = False

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if self.open:
                raise RuntimeError("open")
            t0 = time.perf_counter()
            try:
                result = fn(*args, **kwargs)
            except Exception:
                self._record(1, time.perf_counter() - t0)
                raise
            self._record(0, time.perf_counter() - t0)
            return result

        return wrapper

    def _record(self, failed: int, duration: float) -> None:
        with self.lock:
            self.failures += failed - self.ring[self.pos]
            self.ring[self.pos] = failed
            self.pos = (self.pos + 1) % len(self.ring)
            if duration >= self.slow:
                self.slow_calls += 1


def ref_async(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    ref = RefBreaker()

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            result = await fn(*args, **kwargs)
        except Exception:
            ref._record(1, time.perf_counter() - t0)
            raise
        ref._record(0, time.perf_counter() - t0)
        return result

    return wrapper


# ------------------------------------------------------------------------- cases --
def f(x: int) -> int:
    return x + 1


async def af(x: int) -> int:
    return x + 1


def sync_case(fn: Callable[[int], int]) -> Case:
    def run(n: int) -> float:
        t0 = time.perf_counter()
        for i in range(n):
            fn(i)
        return time.perf_counter() - t0

    return run


def async_case(loop: asyncio.AbstractEventLoop, fn: Callable[[int], Awaitable[int]]) -> Case:
    async def many(n: int) -> float:
        t0 = time.perf_counter()
        for i in range(n):
            await fn(i)
        return time.perf_counter() - t0

    def run(n: int) -> float:
        return loop.run_until_complete(many(n))

    return run


def with_sdk(case: Case, provider: MeterProvider) -> Case:
    def run(n: int) -> float:
        with _resilience_telemetry.use_providers(provider):
            return case(n)

    return run


def build_sync(provider: MeterProvider) -> dict[str, Case]:
    breaker = ragsight.CircuitBreaker("bench-sync")
    policy = ragsight.RetryPolicy(name="bench-sync-retry")
    both = ragsight.RetryPolicy(name="bench-sync-both")(ragsight.CircuitBreaker("bench-both")(f))
    pyb = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60)
    purg = SyncCircuitBreakerFactory()
    ours_breaker = sync_case(breaker(f))
    ours_both = sync_case(both)
    return {
        "bare call": sync_case(f),
        "REF breaker (lock+ring+timing)": sync_case(RefBreaker()(f)),
        "ragsight @CircuitBreaker": ours_breaker,
        "ragsight @CircuitBreaker +SDK": with_sdk(ours_breaker, provider),
        "pybreaker @decorator": sync_case(pyb(f)),
        "purgatory @factory (in-memory)": sync_case(purg("bench")(f)),
        "ragsight @retry": sync_case(policy(f)),
        "tenacity @retry(stop 3, exp jitter)": sync_case(
            tenacity.retry(
                stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_exponential_jitter()
            )(f)
        ),
        "stamina @retry(on=Exception)": sync_case(stamina.retry(on=Exception)(f)),
        "ragsight @retry + @CircuitBreaker": ours_both,
        "ragsight @retry + @CircuitBreaker +SDK": with_sdk(ours_both, provider),
    }


def build_async(loop: asyncio.AbstractEventLoop, provider: MeterProvider) -> dict[str, Case]:
    breaker = ragsight.CircuitBreaker("bench-async")
    policy = ragsight.RetryPolicy(name="bench-async-retry")
    both = ragsight.RetryPolicy(name="bench-async-both")(
        ragsight.CircuitBreaker("bench-async-both")(af)
    )
    purg = AsyncCircuitBreakerFactory()
    ours_breaker = async_case(loop, breaker(af))
    ours_both = async_case(loop, both)
    return {
        "bare call": async_case(loop, af),
        "REF breaker (lock+ring+timing)": async_case(loop, ref_async(af)),
        "ragsight @CircuitBreaker": ours_breaker,
        "ragsight @CircuitBreaker +SDK": with_sdk(ours_breaker, provider),
        "purgatory @factory (in-memory)": async_case(loop, purg("bench-async")(af)),
        "ragsight @retry": async_case(loop, policy(af)),
        "tenacity @retry(stop 3, exp jitter)": async_case(
            loop,
            tenacity.retry(
                stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_exponential_jitter()
            )(af),
        ),
        "stamina @retry(on=Exception)": async_case(loop, stamina.retry(on=Exception)(af)),
        "ragsight @retry + @CircuitBreaker": ours_both,
        "ragsight @retry + @CircuitBreaker +SDK": with_sdk(ours_both, provider),
    }


# ------------------------------------------------------------------------- measurement --
def measure(cases: dict[str, Case], rounds: int, calls: int) -> dict[str, dict[str, float]]:
    names = list(cases)
    per_round: dict[str, list[float]] = {name: [] for name in names}
    for case in cases.values():  # warm up (first-call setup, caches, purgatory registry)
        case(max(10, calls // 20))
    for _ in range(rounds):
        order = names[:]
        random.shuffle(order)
        gc.collect()
        gc.disable()
        try:
            for name in order:
                per_round[name].append(cases[name](calls) / calls)
        finally:
            gc.enable()
    bare = per_round["bare call"]
    ref = per_round["REF breaker (lock+ring+timing)"]
    out: dict[str, dict[str, float]] = {}
    for name in names:
        added = [t - b for t, b in zip(per_round[name], bare, strict=True)]
        vs_bare = [t / b for t, b in zip(per_round[name], bare, strict=True)]
        vs_ref = [a / (r - b) for a, r, b in zip(added, ref, bare, strict=True)]
        q = statistics.quantiles(added, n=4) if len(added) >= 2 else [added[0]] * 3
        out[name] = {
            "per_call_us": statistics.median(per_round[name]) * 1e6,
            "added_us": statistics.median(added) * 1e6,
            "added_q1_us": q[0] * 1e6,
            "added_q3_us": q[2] * 1e6,
            "x_bare": statistics.median(vs_bare),
            "x_ref": statistics.median(vs_ref),
        }
    return out


def table(title: str, results: dict[str, dict[str, float]]) -> str:
    lines = [
        f"### {title}",
        "",
        "| case (success path) | added µs/call (IQR) | x bare | x REF |",
        "|---|---:|---:|---:|",
    ]
    for name, r in results.items():
        if name == "bare call":
            lines.append(f"| bare call | {r['per_call_us']:.3f} µs/call | 1.0 | - |")
            continue
        lines.append(
            f"| {name} | {r['added_us']:.2f} ({r['added_q1_us']:.2f}-{r['added_q3_us']:.2f}) "
            f"| {r['x_bare']:.1f} | {r['x_ref']:.2f} |"
        )
    return "\n".join(lines)


def verdict(results: dict[str, dict[str, float]], peers: list[str]) -> list[str]:
    ours = results["ragsight @CircuitBreaker"]["added_us"]
    cheapest = min(results[p]["added_us"] for p in peers if p in results)
    retry = results["ragsight @retry"]["added_us"]
    checks = [
        f"breaker vs cheapest peer breaker: {ours:.2f} vs {cheapest:.2f} µs "
        f"({'OK' if ours <= cheapest else 'ABOVE'})",
    ]
    for peer in ("tenacity @retry(stop 3, exp jitter)", "stamina @retry(on=Exception)"):
        ratio = results[peer]["added_us"] / retry
        checks.append(f"retry vs {peer.split()[0]}: {ratio:.1f}x cheaper")
    return checks


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--json", type=Path, default=None)
    args, _unknown = parser.parse_known_args(argv)  # ./run bench passes args to all scripts

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    loop = asyncio.new_event_loop()
    print(
        f"python {sys.version.split()[0]}, {args.rounds} rounds x {args.calls} calls, "
        "medians over rounds (shuffled order per round)\n"
    )
    sync_results = measure(build_sync(provider), args.rounds, args.calls)
    print(table("sync (plain def)", sync_results))
    for line in verdict(sync_results, ["pybreaker @decorator", "purgatory @factory (in-memory)"]):
        print(f"- {line}")
    print()
    async_results = measure(build_async(loop, provider), args.rounds, args.calls // 2)
    print(table("async (async def, awaited in a loop)", async_results))
    for line in verdict(async_results, ["purgatory @factory (in-memory)"]):
        print(f"- {line}")
    reader.collect()
    loop.close()
    if args.json is not None:
        args.json.write_text(json.dumps({"sync": sync_results, "async": async_results}, indent=2))


if __name__ == "__main__":
    main()
