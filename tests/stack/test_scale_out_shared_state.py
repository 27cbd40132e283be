"""Breaker state and retry budgets shared through a real redis-server by real app processes.

Bound stated for the fleet trip (docs/scale-out.md): a replica opens at most
2 x publish_interval + 2 x timeout after the replica that sees the failures tripped. The
tests wait for it with a generous deadline and never assert a duration. The bound for a
slow Redis is semantic: the app's calls complete while the server is blocked.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_py
from redis_server import RedisServer

import ragsight

APP = Path(__file__).resolve().parents[1] / "support" / "scale_out_app.py"
INTERVAL = 0.05
DEADLINE = 90.0  # seconds: far above the stated bound, only against a hang on a loaded machine


class Replica:
    def __init__(self, url: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(APP), url, str(INTERVAL)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, self.proc.stderr.read() if self.proc.stderr else "replica exited"
        return json.loads(line)  # type: ignore[no-any-return]

    def wait_for(self, key: str, value: object) -> None:
        deadline = time.monotonic() + DEADLINE
        while self.ask("state")[key] != value:
            assert time.monotonic() < deadline, f"{key} never became {value}"
            time.sleep(INTERVAL)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path, "--enable-debug-command", "local")  # DEBUG SLEEP
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fleet(redis: RedisServer) -> Iterator[list[Replica]]:
    replicas = [Replica(redis.url) for _ in range(3)]
    for r in replicas:
        r.wait_for("mode", "shared")
    yield replicas
    for r in replicas:
        r.close()


def assert_no_exception_reached_the_app(answer: dict[str, Any]) -> None:
    assert answer["unexpected"] == []


def test_one_replica_failing_opens_every_replica(fleet: list[Replica]) -> None:
    seer, *others = fleet
    answer = seer.ask("fail 20")
    assert answer["failed"] >= 10
    assert answer["rejected"] > 0
    for other in others:
        other.wait_for("state", "open")
        answer = other.ask("ok 5")
        assert answer == {"ok": 0, "failed": 0, "rejected": 5, "unexpected": []}


def test_one_bad_replica_among_busy_healthy_ones_does_not_open_them(
    fleet: list[Replica],
) -> None:
    bad, *healthy = fleet
    for r in healthy:
        r.ask("ok 50")  # their own windows qualify and vote healthy
    for r in healthy:
        r.wait_for("mode", "shared")
    time.sleep(INTERVAL * 4)  # let every healthy report land before the bad one
    bad.ask("fail 20")
    bad.wait_for("state", "open")
    time.sleep(INTERVAL * 10)  # several ticks in which a poisoned fleet would have tripped
    for r in healthy:
        assert r.ask("state")["state"] == "closed"


def test_redis_killed_mid_run_every_replica_carries_on_locally_then_resumes(
    fleet: list[Replica], redis: RedisServer
) -> None:
    seer, *others = fleet
    redis.stop()
    for r in fleet:
        r.wait_for("mode", "local")
    # the others keep serving, below the per-replica minimum (10 calls) so that they do not
    # vote: a busy healthy replica would rightly outvote the seer (the poisoning defence)
    for r in others:
        assert r.ask("ok 5") == {"ok": 5, "failed": 0, "rejected": 0, "unexpected": []}
    assert_no_exception_reached_the_app(seer.ask("ok 20"))
    answer = seer.ask("fail 30")  # after its 20 successes: trips at the 20th failure
    assert_no_exception_reached_the_app(answer)
    assert answer["rejected"] > 0  # its local breaker still trips
    for r in others:
        assert r.ask("state")["state"] == "closed"  # no fleet view while Redis is down
    redis.start()  # a new, empty server on the same port: no keys, no script cache
    for r in fleet:
        r.wait_for("mode", "shared")
        r.wait_for("replicas", 3)  # the fleet's view is rebuilt from every replica
    for r in others:  # the seer's window still fails: once shared again, the fleet trips
        r.wait_for("state", "open")


def test_retry_budget_is_fleet_wide(fleet: list[Replica]) -> None:
    first, second, _third = fleet
    # ratio 0.1, 0.1 retries/s floor over a 10 s TTL: one retry for the whole idle fleet
    assert first.ask("spend 1") == {"granted": 1}
    deadline = time.monotonic() + DEADLINE
    while (second.ask("others")["others"] or [0, 0])[1] < 1:  # first's retry reached it
        assert time.monotonic() < deadline, "the fleet view never showed the retry"
        time.sleep(INTERVAL)
    assert second.ask("spend 1") == {"granted": 0}


def test_retry_budget_falls_back_to_the_replica_alone_when_redis_is_down(
    fleet: list[Replica], redis: RedisServer
) -> None:
    first, second, _third = fleet
    assert first.ask("spend 1") == {"granted": 1}
    redis.stop()
    second.wait_for("mode", "local")
    assert second.ask("spend 1") == {"granted": 1}  # its own floor: no fleet view to honour


# ---- in-process stores against the real server -----------------------------------------
FAST = ragsight.SharedConfig(publish_interval=INTERVAL, timeout=0.25, stale_after=1.0)


def wait_until(condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, f"never: {what}"
        time.sleep(INTERVAL / 2)


def test_a_blocked_redis_never_delays_the_apps_calls(redis: RedisServer) -> None:
    store = ragsight.RedisState(redis.url, prefix="slow:", config=FAST)
    breaker = ragsight.CircuitBreaker("dep", shared=store)
    budget = ragsight.RetryBudget("dep", shared=store)
    admin = redis_py.Redis.from_url(redis.url)
    try:
        wait_until(lambda: store.mode == "shared", "shared mode")
        # DEBUG SLEEP blocks the whole server; its caller's thread is alive exactly as long
        sleeper = threading.Thread(target=admin.execute_command, args=("DEBUG", "SLEEP", 5))
        sleeper.start()
        wait_until(lambda: store.mode == "local" or not sleeper.is_alive(), "local mode")
        assert sleeper.is_alive(), "the machine is too slow to observe the block"
        for _ in range(2000):
            breaker.call(lambda: None)
        assert budget.try_spend()  # its own floor, no fleet view to wait for
        assert sleeper.is_alive()  # every call above completed while Redis was blocked
        assert store.mode == "local"
        sleeper.join()
        wait_until(lambda: store.mode == "shared", "shared mode again after the block")
        assert breaker.counts["success"] == 2000
    finally:
        store.close()
        admin.close()


def test_a_forked_child_reports_through_its_own_connection(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ragsight.resilience.shared")
    store = ragsight.RedisState(redis.url, prefix="fork:", config=FAST)
    breaker = ragsight.CircuitBreaker("dep", shared=store)
    admin = redis_py.Redis.from_url(redis.url, decode_responses=True)
    try:
        wait_until(lambda: store.mode == "shared", "shared mode")
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: exchange alongside the parent, report, leave at once
            code = 1
            try:
                os.close(read_fd)
                end = time.monotonic() + DEADLINE
                while store.mode != "shared" and time.monotonic() < end:
                    time.sleep(INTERVAL / 2)
                good = sum(store.exchange() for _ in range(50))
                with os.fdopen(write_fd, "w") as out:
                    out.write(json.dumps({"id": store.replica_id, "good": good}))
                code = 0
            finally:
                os._exit(code)
        os.close(write_fd)
        for _ in range(50):  # the parent exchanges at the same time, on its own socket
            assert store.exchange()
        with os.fdopen(read_fd) as inp:
            child = json.loads(inp.read())
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert child["good"] == 50
        assert child["id"] != store.replica_id
        reporters = set(admin.hkeys("fork:{cb:dep}:reports"))
        assert {store.replica_id, child["id"]} <= reporters
        assert not [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert breaker.state == "closed"
    finally:
        store.close()
        admin.close()


def test_a_flushed_script_cache_is_reloaded_within_the_exchange(redis: RedisServer) -> None:
    store = ragsight.RedisState(redis.url, prefix="flush:", config=FAST, background=False)
    breaker = ragsight.CircuitBreaker("dep", shared=store)
    admin = redis_py.Redis.from_url(redis.url)
    try:
        assert store.exchange()
        admin.script_flush()  # what a restarted or failed-over server has lost
        assert store.exchange()  # NOSCRIPT, SCRIPT LOAD, the same reports again: no gap
        assert store.mode == "shared"
        assert breaker.state == "closed"
    finally:
        store.close()
        admin.close()


def test_a_report_stamped_in_the_future_is_dropped_like_a_stale_one(redis: RedisServer) -> None:
    # what a failover to a server whose clock is behind leaves: the dead replicas' reports
    # stamped later than the new server's now; they must not vote until its clock catches up
    store = ragsight.RedisState(redis.url, prefix="future:", config=FAST, background=False)
    breaker = ragsight.CircuitBreaker(
        "dep", minimum_calls=10, failure_rate_threshold=0.5, shared=store
    )
    admin = redis_py.Redis.from_url(redis.url, decode_responses=True)
    try:
        seconds, micros = admin.time()
        ahead_ms = seconds * 1000 + micros // 1000 + 60_000  # a minute ahead
        admin.hset("future:{cb:dep}:reports", "ghost", f"{ahead_ms} 20 20 0")
        assert store.exchange()
        assert breaker.state == "closed"  # the ghost's failing window did not trip it
        assert admin.hkeys("future:{cb:dep}:reports") == [store.replica_id]
    finally:
        store.close()
        admin.close()
