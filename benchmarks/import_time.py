"""Cost of ``import ragsight`` in a fresh interpreter.

A script, not a test: timings never gate CI. Run ``python benchmarks/import_time.py``
(``--runs`` fresh processes, ``--top`` modules; ``--module`` to time another import).
Method:

* wall time: each run starts a new interpreter that imports ``ragsight`` and prints the
  ``perf_counter`` difference around the import alone (interpreter start-up excluded);
  reported: median and 90th percentile over ``--runs`` processes;
* self time: one more process runs with ``-X importtime``; the modules with the largest
  self time (their own top-level code, children excluded) are listed, with the number of
  modules the import loads in all, so a regression names its culprit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

SRC = Path(__file__).resolve().parents[1] / "src"

TIMER = "import time; t0 = time.perf_counter(); import {module}; print(time.perf_counter() - t0)"


class ModuleCost(NamedTuple):
    """One line of ``-X importtime``: self and cumulative microseconds."""

    self_us: int
    cumulative_us: int
    name: str


def child_env() -> dict[str, str]:
    """The environment of a fresh interpreter that imports this checkout's ``src``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # measure with warm .pyc files, as users run
    return env


def wall_seconds(module: str) -> float:
    """Seconds one fresh interpreter spends importing ``module``."""
    out = subprocess.run(
        [sys.executable, "-c", TIMER.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
        env=child_env(),
    )
    return float(out.stdout.strip())


def import_costs(module: str) -> list[ModuleCost]:
    """Every module the import of ``module`` loads, from ``-X importtime``."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
        env=child_env(),
    )
    costs = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        costs.append(ModuleCost(int(self_us), int(cumulative_us), name.strip()))
    return costs


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="fresh processes to time")
    parser.add_argument("--top", type=int, default=15, help="modules to list by self time")
    parser.add_argument("--module", default="ragsight", help="the import to measure")
    args = parser.parse_args()

    wall_seconds(args.module)  # warm the .pyc cache and the OS file cache
    times_ms = [wall_seconds(args.module) * 1000 for _ in range(args.runs)]
    print(f"import {args.module}: {args.runs} fresh interpreters")
    print(f"  median {statistics.median(times_ms):7.1f} ms")
    print(f"  p90    {percentile(times_ms, 0.9):7.1f} ms")
    print(f"  min    {min(times_ms):7.1f} ms")

    costs = import_costs(args.module)
    print(f"\n{len(costs)} modules loaded; top {args.top} by self time (one -X importtime run):")
    print(f"  {'self ms':>8} {'cumul ms':>9}  module")
    for cost in sorted(costs, reverse=True)[: args.top]:
        print(f"  {cost.self_us / 1000:8.1f} {cost.cumulative_us / 1000:9.1f}  {cost.name}")


if __name__ == "__main__":
    main()
