"""Breaker state and retry budgets shared through a real redis-server by real app processes.

Bound stated for the fleet trip (docs/scale-out.md): a replica opens at most
2 x publish_interval + 2 x timeout after the replica that sees the failures tripped. The
tests wait for it with a generous deadline and never assert a duration.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis_server import RedisServer

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
    server = RedisServer(tmp_path)
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
