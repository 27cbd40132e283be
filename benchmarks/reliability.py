"""App-side cost of a faulty collector: latency, CPU and peak memory, side by side.

A script, not a test: timings never gate CI. Run ``python benchmarks/reliability.py``
(``--calls``, ``--spans-per-call``). Each case runs in a fresh process (OpenTelemetry's
global providers can be set once) that configures ragsight against one collector:

* healthy: an OTLP/HTTP sink that answers 200 at once;
* slow: the same sink answering after 0.5 s (longer than the export interval);
* 503: the sink refusing every request;
* dead: a port with nothing listening;
* outage+spool: the outage spool enabled (``spool.enabled``, in a temporary directory) and
  the sink refusing (503) for the first half of the timed calls, then accepting: batches
  go to disk during the outage and are replayed, in order, during the second half;

then times ``--calls`` calls of a ``@ragsight.retrieval`` function one by one
(``perf_counter_ns`` around each call), and reports the median and p99 latency per call,
the process CPU time per call (user + system, export threads included) and the peak
traced memory (``tracemalloc``) over the run. Goal: every faulty case within 1.1x of the
healthy median. Finally shutdown() is timed (bounded by shutdown_timeout + 0.25 s).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests" / "support")]

CASES = ("healthy", "slow", "503", "dead", "outage+spool")


def run_case(kind: str, calls: int) -> dict[str, Any]:
    """One case in this process: configure, call, measure, shut down."""
    import tempfile
    import tracemalloc

    from otlp_sink import OtlpSink
    from ports import closed_port

    import ragsight

    sink = None
    if kind == "dead":
        endpoint = f"http://127.0.0.1:{closed_port()}"
    else:
        refusing = kind in {"503", "outage+spool"}
        sink = OtlpSink(
            fail_with=503 if refusing else None, delay=0.5 if kind == "slow" else 0.0
        ).start()
        endpoint = sink.http_endpoint
    spool = kind.endswith("+spool")
    directory = tempfile.TemporaryDirectory(prefix="ragsight-bench-spool-")
    ragsight.configure(
        service_name=f"bench-{kind}",
        otlp_endpoint=endpoint,
        otlp_protocol="http/protobuf",
        otlp_timeout=1.0,
        shutdown_timeout=1.0,
        batch_schedule_delay=0.05,
        batch_metric_export_interval=0.5,
        spool_enabled=spool,
        spool_directory=directory.name,
    )

    @ragsight.retrieval
    def search(query: str) -> list[str]:
        return [query]

    for _ in range(calls // 10):  # warm-up
        search("q")
    latencies: list[int] = []
    tracemalloc.start()
    cpu0 = _cpu()
    clock = time.perf_counter_ns
    recover_at = calls // 2 if spool else -1
    for i in range(calls):
        if i == recover_at and sink is not None:
            sink.fail_with = None  # the collector answers again: the spool replays
        t0 = clock()
        search("q")
        latencies.append(clock() - t0)
    cpu = _cpu() - cpu0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    started = time.perf_counter()
    ragsight.shutdown()
    shutdown = time.perf_counter() - started
    if sink is not None:
        sink.stop()
    directory.cleanup()
    from ragsight._export.health import HEALTH

    spooled = sum(c.get("spooled", 0) for c in HEALTH.spool_counts().values())
    replayed = sum(c.get("replayed", 0) for c in HEALTH.spool_counts().values())
    latencies.sort()
    return {
        "case": kind,
        "median_us": statistics.median(latencies) / 1000,
        "p99_us": latencies[int(len(latencies) * 0.99)] / 1000,
        "cpu_us_per_call": cpu / calls * 1e6,
        "peak_mib": peak / (1 << 20),
        "dropped": sum(ragsight.dropped_counts().values()),
        "spooled": spooled,
        "replayed": replayed,
        "shutdown_s": shutdown,
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.calls)))
        return
    print(f"{args.calls} calls per case, one process per case\n")
    print(
        "| collector | median µs | x healthy | p99 µs | CPU µs/call | peak MiB | dropped "
        "| spooled | replayed | shutdown s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|", flush=True)
    healthy = 0.0
    for kind in CASES:
        done = subprocess.run(
            [sys.executable, __file__, "--case", kind, "--calls", str(args.calls)],
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(done.stdout.strip().splitlines()[-1])
        healthy = healthy or row["median_us"]
        print(
            f"| {row['case']} | {row['median_us']:.1f} | {row['median_us'] / healthy:.2f} "
            f"| {row['p99_us']:.1f} | {row['cpu_us_per_call']:.1f} | {row['peak_mib']:.1f} "
            f"| {row['dropped']} | {row['spooled']} | {row['replayed']} "
            f"| {row['shutdown_s']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
