"""Shared breaker state through Redis, side by side with a local breaker, in one run.

Starts Debian's redis-server on 127.0.0.1 at a free port and prints:
  * the closed-state success path per call: local breaker vs the same breaker with
    shared=RedisState (goal <= 1.5x local), and Redis round trips per call (goal <= 0.1),
    counted by the server itself (INFO commandstats: EVALSHA and SCRIPT calls; one store
    with one breaker sends one EVALSHA per round trip);
  * fleet trip latency: one replica (own store, own replica id) trips on its failures, the
    time until the other replica's breaker is open (stated bound: 2 x publish_interval
    + 2 x round trip), over several trials.

    .venv/bin/python benchmarks/scale_out.py [--calls 200000] [--interval 0.1] [--trials 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time

import redis

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
    ap.add_argument("--trials", type=int, default=5)
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
            run(f"redis://127.0.0.1:{port}/0", args.calls, args.interval, args.trials)
        finally:
            proc.kill()
            proc.wait()


def server_commands(admin: redis.Redis) -> int:
    """EVALSHA and SCRIPT commands the server has run since the last CONFIG RESETSTAT."""
    stats = admin.info("commandstats")
    return sum(int(stats.get(k, {}).get("calls", 0)) for k in ("cmdstat_evalsha", "cmdstat_script"))


def run(url: str, calls: int, interval: float, trials: int) -> None:
    admin = redis.Redis.from_url(url)
    cfg = ragsight.SharedConfig(publish_interval=interval)
    local = ragsight.CircuitBreaker("bench-local")
    store = ragsight.RedisState(url, prefix="bench:", config=cfg)
    shared = ragsight.CircuitBreaker("bench-shared", shared=store)
    time.sleep(interval * 3)
    # interleaved rounds, best of each: the machine's load hits both sides alike
    local_runs, shared_runs, trips, measured = [], [], 0, 0
    for _ in range(3):
        local_runs.append(per_call_ns(local, calls))
        admin.config_resetstat()
        shared_runs.append(per_call_ns(shared, calls))
        trips += server_commands(admin)
        measured += calls + 1000
    local_ns, shared_ns = min(local_runs), min(shared_runs)
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs, {calls} calls x 3")
    print()
    print("| path | ns/call (best of 3) | ratio | Redis round trips/call (server count) |")
    print("|---|---|---|---|")
    print(f"| local breaker | {local_ns:.0f} | 1.00x | 0 |")
    print(
        f"| shared=RedisState (interval {interval}s) | {shared_ns:.0f} | "
        f"{shared_ns / local_ns:.2f}x | {trips / measured:.5f} ({trips} in {measured} calls) |"
    )

    # fleet trip latency: two replicas, each with its own store and replica id
    kw = {"minimum_calls": 10, "failure_rate_threshold": 0.5, "consecutive_failures": 0}

    def boom() -> None:
        raise ConnectionError("down")

    latencies = []
    rtts = []
    for trial in range(trials):
        a_store = ragsight.RedisState(url, prefix=f"trip{trial}:", config=cfg, replica_id="a")
        b_store = ragsight.RedisState(url, prefix=f"trip{trial}:", config=cfg, replica_id="b")
        a = ragsight.CircuitBreaker("dep", shared=a_store, **kw)  # type: ignore[arg-type]
        b = ragsight.CircuitBreaker("dep", shared=b_store, **kw)  # type: ignore[arg-type]
        time.sleep(interval * 3)
        while a.state == "closed":
            with contextlib.suppress(ConnectionError, ragsight.CircuitOpenError):
                a.call(boom)
        tripped = time.perf_counter()
        while b.state == "closed":
            time.sleep(0.0005)
        latencies.append(time.perf_counter() - tripped)
        t0 = time.perf_counter()
        admin.ping()
        rtts.append(time.perf_counter() - t0)
        for s in (a_store, b_store):
            s.close()
    bound = 2 * interval + 2 * max(rtts)
    print()
    print("| fleet trip (a trips -> b open) | median s | max s | stated bound s |")
    print("|---|---|---|---|")
    print(
        f"| {trials} trials, interval {interval}s | {statistics.median(latencies):.3f} | "
        f"{max(latencies):.3f} | {bound:.3f} (2 x interval + 2 RTT) |"
    )
    store.close()
    admin.close()


if __name__ == "__main__":
    main()
