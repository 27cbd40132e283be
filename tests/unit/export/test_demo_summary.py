"""With nothing configured, the demo leaves OTLP JSON files that summary reads back exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ragsight import names
from ragsight._export.summary import render, summarize


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}


def test_demo_files_summarise_to_the_demo_tally(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ragsight.cli", "demo", "--fast", "--json", "--questions", "60"],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    tally = report["tally"]
    directory = tmp_path / "ragsight-telemetry"
    assert {p.name for p in directory.iterdir()} == {"traces.jsonl", "metrics.jsonl", "logs.jsonl"}

    summary = summarize(directory)
    counted = {f"{s}/{o}": row.calls.count for (s, o), row in summary.stages.items()}
    errors = {f"{s}/{o}": row.errors for (s, o), row in summary.stages.items() if row.errors}
    assert counted == tally["calls"]
    assert errors == tally["errors"]
    assert tally["errors"], "the flaky vector store should have failed at least once"
    assert summary.cache["answers"].get(names.CACHE_HIT, 0) == tally["cache"]["hit"]
    assert summary.cache["answers"].get(names.CACHE_MISS, 0) == tally["cache"]["miss"]
    assert {k: h.count for k, h in summary.evaluations.items()} == tally["evaluations"]
    assert summary.spans == sum(tally["calls"].values())
    assert summary.log_records > 0
    assert report["dropped"] == {}

    text = render(summary, directory)
    assert "retrieval" in text
    assert "answer_relevance" in text


def test_every_line_is_one_otlp_json_request_with_hex_ids(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "ragsight.cli", "demo", "--fast", "--json", "--questions", "3"],
        cwd=tmp_path,
        env=_clean_env(),
        check=True,
        capture_output=True,
        timeout=120,
    )
    directory = tmp_path / "ragsight-telemetry"
    for signal, top in (
        ("traces", "resourceSpans"),
        ("metrics", "resourceMetrics"),
        ("logs", "resourceLogs"),
    ):
        for line in (directory / f"{signal}.jsonl").read_text().splitlines():
            request = json.loads(line)
            assert list(request) == [top]
    span = json.loads((directory / "traces.jsonl").read_text().splitlines()[0])
    first = span["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(first["traceId"]) == 32
    int(first["traceId"], 16)
    assert len(first["spanId"]) == 16
    assert isinstance(first["kind"], int)
