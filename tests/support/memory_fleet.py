"""An in-memory fleet for the shared-state unit tests: what the Lua script does on Redis
(store a replica's report stamped with the server's time, drop reports older than the
stale bound, return the other replicas' fresh ones), on a fake clock shared by every
replica. Each store gets its own backend (its own connection); a test can take the whole
server down, partition one replica, make the server hang, or make it answer garbage."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from ragsight import CircuitBreaker, CircuitOpenError, RedisState, RetryBudget, SharedConfig
from ragsight.resilience_testing import FakeClock


class MemoryFleet:
    """The server: one reports hash per key, the server's clock, an up/down switch."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.hashes: dict[str, dict[str, tuple[float, str]]] = {}
        self.down: Exception | None = None  # raised by every exchange while set

    def backend(self) -> MemoryBackend:
        return MemoryBackend(self)


class MemoryBackend:
    """One replica's connection to a :class:`MemoryFleet` (a ``FleetBackend``)."""

    def __init__(self, fleet: MemoryFleet) -> None:
        self.fleet = fleet
        self.round_trips = 0
        self.partitioned = False  # this replica cannot reach the server
        self.garbage = False  # the server answers something that is not the script's reply
        self.gate: threading.Event | None = None  # set: exchanges hang until it is set
        self.entered = threading.Event()  # an exchange has started
        self.forked_in: int | None = None  # the pid after_fork was called in
        self.closed = False

    def exchange(
        self, replica: str, stale_ms: int, reports: Sequence[tuple[str, str]]
    ) -> list[dict[str, str]]:
        self.round_trips += 1
        self.entered.set()
        if self.gate is not None:
            self.gate.wait()
        if self.partitioned:
            raise ConnectionError("partitioned from the server")
        if self.fleet.down is not None:
            raise self.fleet.down
        if self.garbage:  # not one reply per report: not the script's answer
            return []
        now_ms = self.fleet.clock.monotonic() * 1000
        replies = []
        for key, payload in reports:
            reports_hash = self.fleet.hashes.setdefault(key, {})
            reports_hash[replica] = (now_ms, payload)
            for name, (stamp, _) in list(reports_hash.items()):
                if abs(now_ms - stamp) > stale_ms:  # stale, or from a clock ahead
                    del reports_hash[name]
            replies.append({n: p for n, (_, p) in reports_hash.items() if n != replica})
        return replies

    def after_fork(self) -> None:
        self.forked_in = os.getpid()

    def close(self) -> None:
        self.closed = True


# ---- replicas on a fleet: a store with no publisher thread (the test runs each exchange),
# a breaker and a budget on the fleet's fake clock
CONFIG = SharedConfig(publish_interval=0.1, timeout=0.25, stale_after=2.0)


@dataclass
class Replica:
    store: RedisState
    backend: MemoryBackend
    breaker: CircuitBreaker
    budget: RetryBudget

    def fail(self, calls: int) -> None:
        def boom() -> None:
            raise ConnectionError("dependency down")

        for _ in range(calls):
            with contextlib.suppress(ConnectionError, CircuitOpenError):
                self.breaker.call(boom)

    def ok(self, calls: int) -> None:
        for _ in range(calls):
            self.breaker.call(lambda: None)


class Fleet:
    def __init__(self, name: str) -> None:
        self.name = name
        self.clock = FakeClock()
        self.server = MemoryFleet(self.clock)
        self.replicas: list[Replica] = []

    def replica(self, replica_id: str, config: SharedConfig = CONFIG) -> Replica:
        backend = self.server.backend()
        store = RedisState(
            backend=backend, clock=self.clock, replica_id=replica_id, config=config,
            background=False,
        )  # fmt: skip
        breaker = CircuitBreaker(
            self.name, minimum_calls=10, failure_rate_threshold=0.5, consecutive_failures=0,
            open_duration=600.0, clock=self.clock, shared=store,
        )  # fmt: skip
        budget = RetryBudget(
            self.name, ratio=0.1, min_per_second=0.1, clock=self.clock, shared=store
        )
        r = Replica(store, backend, breaker, budget)
        self.replicas.append(r)
        return r

    def exchange(self) -> None:
        """One tick on every replica, in order."""
        for r in self.replicas:
            r.store.exchange()
