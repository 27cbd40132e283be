"""One app replica for the scale-out tests: a breaker (and a budget) shared through Redis.

Reads commands on stdin, one per line, answers one JSON line each:
  fail N    N calls that raise ConnectionError (the dependency fails for this replica)
  ok N      N calls that succeed
  state     the breaker's state, the store's mode and how many fresh replicas (this one
            included) the breaker's last fleet view held (0: no view, local mode)
  others    the other replicas' budget window as this replica last saw it
  spend N   try to take N retries from the fleet-wide budget; answers how many were granted
Every call's outcome is one of ok / failed / rejected; anything else reaching the app is
reported as "unexpected" with its type (the tests assert there is none).
"""

from __future__ import annotations

import json
import sys

import ragsight
from ragsight import CircuitOpenError


def main() -> None:
    url, interval = sys.argv[1], float(sys.argv[2])
    store = ragsight.RedisState(
        url,
        prefix="test:",
        config=ragsight.SharedConfig(publish_interval=interval, timeout=1.0, stale_after=5.0),
    )
    breaker = ragsight.CircuitBreaker(
        "dep", minimum_calls=10, failure_rate_threshold=0.5, open_duration=600.0,
        consecutive_failures=0, shared=store,
    )  # fmt: skip
    budget = ragsight.RetryBudget("dep", ratio=0.1, min_per_second=0.1, shared=store)

    def failing() -> None:
        raise ConnectionError("dependency down")

    for line in sys.stdin:
        cmd, *rest = line.split()
        result: dict[str, object] = {}
        if cmd in ("fail", "ok"):
            counts = {"ok": 0, "failed": 0, "rejected": 0, "unexpected": []}
            for _ in range(int(rest[0])):
                try:
                    breaker.call(failing if cmd == "fail" else (lambda: None))
                    counts["ok"] += 1  # type: ignore[operator]
                except ConnectionError:
                    counts["failed"] += 1  # type: ignore[operator]
                except CircuitOpenError:
                    counts["rejected"] += 1  # type: ignore[operator]
                except BaseException as err:
                    counts["unexpected"].append(type(err).__name__)  # type: ignore[attr-defined]
            result = counts
        elif cmd == "state":
            verdict = breaker._shared.verdict if breaker._shared is not None else None
            result = {
                "state": breaker.state,
                "mode": store.mode,
                "replicas": 0 if verdict is None else verdict.replicas,
            }
        elif cmd == "others":  # the other replicas' (calls, retries) as this one sees them
            link = budget._shared
            result = {"others": None if link is None else link.fleet_others()}
        elif cmd == "spend":
            result = {"granted": sum(budget.try_spend() for _ in range(int(rest[0])))}
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
