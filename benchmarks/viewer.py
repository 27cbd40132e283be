"""How long `ragsight summary`, `view` and `report` take on 10k and 100k spans.

The files are real: the demo pipeline runs (no simulated latency) through the SDK and
the embedded file sink, so lines, attributes and events are what users' files hold.
Each command is timed twice: in-process (read + compute + render, the part ragsight
controls) and as the CLI a user runs (adds interpreter start and imports). Run with
`.venv/bin/python benchmarks/viewer.py [--sizes 10000 100000] [--repeat 3]`.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SPANS_PER_QUESTION = 4  # a first guess; the generator runs again until there are enough

GENERATE = """
import sys
import ragsight
from ragsight._demo import run_demo
ragsight.configure(
    service_name="bench",
    file_sink_directory=sys.argv[1],
    file_sink_max_bytes=1 << 30,
    batch_max_queue_size=1 << 20,
    logs_export=False,
)
run_demo(questions=int(sys.argv[2]), latency=0.0, pace=0.0001, seed=11)
ragsight.shutdown()
"""


def generate(directory: Path, spans: int) -> int:
    """Write at least ``spans`` spans of one run into ``directory``; returns the count."""
    from ragsight._viewer.reader import read_directory

    questions = spans // SPANS_PER_QUESTION
    while True:
        for old in directory.glob("*.jsonl"):
            old.unlink()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}
        subprocess.run(
            [sys.executable, "-c", GENERATE, str(directory), str(questions)],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        count = len(read_directory(directory).spans)
        if count >= spans:
            return count
        questions = int(questions * spans / max(count, 1) * 1.05) + 1


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def in_process(directory: Path, out: Path) -> dict[str, Callable[[], object]]:
    from rich.console import Console

    from ragsight._viewer.report import write_report
    from ragsight._viewer.summary import render, summarize
    from ragsight._viewer.view import ViewOptions, view

    def printed(renderable: object) -> None:
        Console(file=io.StringIO(), width=120).print(renderable)

    return {
        "summary": lambda: printed(render(summarize(directory))),
        "view": lambda: printed(view(directory, ViewOptions())),
        "report": lambda: write_report(directory, out),
    }


def cli(directory: Path, out: Path) -> dict[str, Callable[[], object]]:
    def run(*args: str) -> Callable[[], object]:
        return lambda: subprocess.run(
            [sys.executable, "-m", "ragsight.cli", *args], check=True, stdout=subprocess.DEVNULL
        )

    return {
        "summary": run("summary", str(directory)),
        "view": run("view", str(directory)),
        "report": run("report", str(directory), "-o", str(out)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            directory = Path(tmp) / str(size)
            directory.mkdir()
            count = generate(directory, size)
            megabytes = sum(p.stat().st_size for p in directory.glob("*.jsonl")) / 1e6
            out = Path(tmp) / f"report-{size}.html"
            inside = {k: best_of(args.repeat, f) for k, f in in_process(directory, out).items()}
            outside = {k: best_of(args.repeat, f) for k, f in cli(directory, out).items()}
            report_mb = out.stat().st_size / 1e6
            rows.append((count, megabytes, inside, outside, report_mb))
    print(f"best of {args.repeat}; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")
    print("| spans | files MB | command | in-process s | CLI s |")
    print("|---:|---:|---|---:|---:|")
    for count, megabytes, inside, outside, _report_mb in rows:
        for command in ("summary", "view", "report"):
            print(
                f"| {count:,} | {megabytes:.1f} | {command} | "
                f"{inside[command]:.2f} | {outside[command]:.2f} |"
            )
    print()
    for count, _mb, _i, _o, report_mb in rows:
        print(f"report size for {count:,} spans: {report_mb:.2f} MB")


if __name__ == "__main__":
    main()
