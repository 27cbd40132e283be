"""A service that has exactly one rare event in its life, for the stack tests.

    python tests/support/one_event_app.py --control <file> --event NAME [--warmup N]

It serves steady healthy traffic through ragsight's public API (a retrieval stage behind a
cache lookup, a circuit breaker and a retry with a budget), and after ``--warmup`` requests
makes exactly one of these happen, once:

- ``error``: the retrieval stage raises ``VectorStoreTimeout`` (a type never seen before);
- ``cache_hit``: the cache, which otherwise always misses, hits;
- ``outage``: the dependency fails until the breaker opens, then recovers, so the breaker
  goes open -> half_open -> closed once and records one outage duration;
- ``give_up``: one call fails every attempt, so the retry gives up once;
- ``budget_exhaustion``: one call fails, and its retry is refused by the (empty) budget.

Each of these is the first sample of a new series, the case Prometheus misses without
start-time zero ingestion. After each request it writes ``{"iterations": n, "event_done":
bool}`` to ``<control>.status``; it exits when the control file says ``{"mode": "stop"}``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import ragsight
from ragsight import names

EVENTS = ("error", "cache_hit", "outage", "give_up", "budget_exhaustion")
DEPENDENCY = "vector-store"
CACHE = "answers"


class VectorStoreTimeout(TimeoutError):
    """The one error of the ``error`` event."""


class VectorStoreDown(ConnectionError):
    """What the dependency raises while it is down."""


class OneEventApp:
    def __init__(self, event: str) -> None:
        self.event = event
        self.failing = False  # the dependency is down
        self.breaker = ragsight.CircuitBreaker(
            DEPENDENCY,
            failure_rate_threshold=0.5,
            minimum_calls=2,
            window=5.0,
            open_duration=0.3,
        )
        self.call_dependency = ragsight.retry(
            name=DEPENDENCY, attempts=2, on=(VectorStoreDown,), base_delay=0.001, max_delay=0.002
        )(self._dependency)
        self.guarded = self.breaker(self._dependency)

    def _dependency(self) -> str:
        if self.failing:
            raise VectorStoreDown("vector store unreachable")
        return "docs"

    @ragsight.retrieval("search", data_source="kb-main", top_k=3)
    def search(self, fail_with: Exception | None) -> str:
        if fail_with is not None:
            raise fail_with
        if self.event == "outage":
            return self.guarded()
        return self.call_dependency()

    def request(self, *, eventful: bool) -> None:
        """One request; ``eventful`` makes it the request with the event."""
        with ragsight.cache(CACHE) as lookup:
            if eventful and self.event == "cache_hit":
                lookup.hit()
                return
            lookup.miss()
        error = VectorStoreTimeout("timed out") if eventful and self.event == "error" else None
        self.failing = eventful and self.event in ("give_up", "budget_exhaustion")
        try:
            self.search(error)
        except Exception:  # a failed request is the data the tests look at
            pass
        finally:
            self.failing = False

    def outage(self) -> None:
        """Fail until the breaker opens, then recover until a probe closes it again."""
        self.failing = True
        while self.breaker.state != names.CB_STATE_OPEN:
            with contextlib.suppress(VectorStoreDown, ragsight.CircuitOpenError):
                self.guarded()
        self.failing = False
        while self.breaker.state != names.CB_STATE_CLOSED:
            time.sleep(0.05)
            with contextlib.suppress(ragsight.CircuitOpenError):
                self.guarded()


def _mode(control: Path) -> str:
    try:
        return str(json.loads(control.read_text())["mode"])
    except (OSError, ValueError, KeyError):
        return "run"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--control", type=Path, required=True)
    parser.add_argument("--event", choices=EVENTS, required=True)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.02)
    args = parser.parse_args(argv)
    if args.event == "budget_exhaustion":  # no retry is ever affordable
        ragsight.configure(retry_budget_ratio=0.0, retry_budget_min_per_second=0.0)
    else:
        ragsight.configure()
    app = OneEventApp(args.event)
    status = args.control.with_suffix(".status")
    done = False
    i = 0
    while _mode(args.control) != "stop":
        i += 1
        if i > args.warmup and not done:
            if args.event == "outage":
                app.outage()
            else:
                app.request(eventful=True)
            done = True
        else:
            app.request(eventful=False)
        status.write_text(json.dumps({"iterations": i, "event_done": done}))
        time.sleep(args.interval)
    ragsight.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
