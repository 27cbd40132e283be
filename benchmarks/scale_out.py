"""Shared breaker state through Redis, side by side with a local breaker, in one run.

Starts Debian's redis-server on 127.0.0.1 at a free port and prints:
  * the closed-state success path per call: local breaker vs the same breaker with
    shared=RedisState (goal <= 1.5x local), and Redis round trips per call (goal <= 0.1);
  * fleet trip latency: one replica (own store, own replica id) trips on its failures, the
    time until the other replica's breaker is open (stated bound: 2 x publish_interval
    + 2 x round trip).

    .venv/bin/python benchmarks/scale_out.py [--calls 200000] [--interval 0.1]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time

import ragsight


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def per_call_ns(breaker: ragsight.CircuitBreaker, calls: int) -> float:
    fn = breaker(lambda: None)
    for _ in range(1000):
        fn()
    start = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - start) / calls


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--interval", type=float, default=0.1)
    args = ap.parse_args()
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp],
            stdout=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.5)
            run(f"redis://127.0.0.1:{port}/0", args.calls, args.interval)
        finally:
            proc.kill()
            proc.wait()


def run(url: str, calls: int, interval: float) -> None:
    cfg = ragsight.SharedConfig(publish_interval=interval)
    local = ragsight.CircuitBreaker("bench-local")
    store = ragsight.RedisState(url, prefix="bench:", config=cfg)
    shared = ragsight.CircuitBreaker("bench-shared", shared=store)
    local_ns = per_call_ns(local, calls)
    rt0, t0 = store.round_trips, time.perf_counter()
    shared_ns = per_call_ns(shared, calls)
    elapsed = time.perf_counter() - t0
    trips = store.round_trips - rt0
    print("| path | ns/call | ratio | Redis round trips/call |")
    print("|---|---|---|---|")
    print(f"| local breaker | {local_ns:.0f} | 1.00x | 0 |")
    print(
        f"| shared=RedisState (interval {interval}s) | {shared_ns:.0f} | "
        f"{shared_ns / local_ns:.2f}x | {trips / (calls + 1000):.5f} ({trips} in {elapsed:.2f}s) |"
    )

    # fleet trip latency: two replicas, each with its own store and replica id
    a_store = ragsight.RedisState(url, prefix="trip:", config=cfg, replica_id="a")
    b_store = ragsight.RedisState(url, prefix="trip:", config=cfg, replica_id="b")
    kw = {"minimum_calls": 10, "failure_rate_threshold": 0.5, "consecutive_failures": 0}
    a = ragsight.CircuitBreaker("dep", shared=a_store, **kw)  # type: ignore[arg-type]
    b = ragsight.CircuitBreaker("dep", shared=b_store, **kw)  # type: ignore[arg-type]
    time.sleep(interval * 3)

    def boom() -> None:
        raise ConnectionError("down")

    while a.state == "closed":
        with contextlib.suppress(ConnectionError, ragsight.CircuitOpenError):
            a.call(boom)
    tripped = time.perf_counter()
    while b.state == "closed":
        time.sleep(0.001)
    latency = time.perf_counter() - tripped
    print()
    print("| fleet trip | seconds | stated bound |")
    print("|---|---|---|")
    print(f"| replica a trips -> replica b open | {latency:.3f} | {2 * interval:.3f} + 2 RTT |")
    for s in (store, a_store, b_store):
        s.close()


if __name__ == "__main__":
    main()
