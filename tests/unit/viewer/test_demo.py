"""The demo, as a user runs it: its files summarise to its own tally, and they tell the
outage story (the breaker opens, probes and closes; retries honour Retry-After; the cache
warms; evaluation scores dip and recover)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ragsight import names
from ragsight._viewer.reader import read_directory
from ragsight._viewer.summary import Summary, summarize


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}


def _demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "ragsight.cli", "demo", "--fast", *args],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """One demo run (60 questions, --json): its directory and its own tally."""
    cwd = tmp_path_factory.mktemp("demo")
    result = _demo(cwd, "--json", "--questions", "60")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return cwd / "ragsight-telemetry", report


@pytest.fixture(scope="module")
def summary(demo_run: tuple[Path, dict[str, object]]) -> Summary:
    return summarize(demo_run[0])


def test_demo_files_summarise_to_the_demo_tally(
    demo_run: tuple[Path, dict[str, object]], summary: Summary
) -> None:
    directory, report = demo_run
    tally = report["tally"]
    assert isinstance(tally, dict)
    assert {p.name for p in directory.iterdir()} >= {
        "traces.jsonl",
        "metrics.jsonl",
        "logs.jsonl",
    }
    counted = {f"{r.stage}/{r.operation}": r.calls for r in summary.stages}
    errors = {f"{r.stage}/{r.operation}": r.errors for r in summary.stages if r.errors}
    assert counted == tally["calls"]
    assert errors == tally["errors"]
    (cache,) = summary.cache
    assert (cache.hits, cache.misses) == (tally["cache"]["hit"], tally["cache"]["miss"])
    assert {k: s.count for k, s in summary.evaluations.items()} == tally["evaluations"]
    assert summary.spans == sum(tally["calls"].values())
    assert summary.log_records > 0
    assert report["dropped"] == {}


def test_token_figures_come_from_the_default_modes_metrics_and_match_the_spans(
    demo_run: tuple[Path, dict[str, object]], summary: Summary
) -> None:
    directory, _ = demo_run
    recording = read_directory(directory)
    emitted = {p.name for p in recording.points}
    assert names.GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS.name in emitted
    with_usage = [s for s in recording.spans if names.GEN_AI_USAGE_INPUT_TOKENS in s.attributes]
    assert with_usage
    tokens_in = sum(int(s.attributes[names.GEN_AI_USAGE_INPUT_TOKENS]) for s in with_usage)
    tokens_out = sum(int(s.attributes.get(names.GEN_AI_USAGE_OUTPUT_TOKENS, 0)) for s in with_usage)
    assert [(r.calls, r.input, r.output) for r in summary.tokens] == [
        (len(with_usage), tokens_in, tokens_out)
    ]


def test_the_breaker_opens_probes_and_closes(summary: Summary) -> None:
    (breaker,) = summary.breakers
    for move in ("closed -> open", "open -> half_open", "half_open -> closed"):
        assert breaker.transitions.get(move, 0) >= 1, breaker.transitions
    assert breaker.rejected > 0
    assert breaker.state == names.CB_STATE_CLOSED


def test_retries_honour_the_servers_retry_after(summary: Summary) -> None:
    (retry,) = summary.retries
    assert retry.delay_sources.get("retry_after", 0) > 0
    assert retry.retries >= retry.delay_sources["retry_after"]


def _in_time_order(directory: Path, event: str, attribute: str) -> list[object]:
    found = []
    for span in read_directory(directory).spans:
        for e in span.events:
            if e.name == event:
                found.append((e.time, e.attributes.get(attribute)))
    return [v for _t, v in sorted(found)]


def test_evaluation_scores_dip_during_the_outage_and_recover(
    demo_run: tuple[Path, dict[str, object]],
) -> None:
    scores = _in_time_order(
        demo_run[0], names.EVENT_GEN_AI_EVALUATION_RESULT, names.GEN_AI_EVALUATION_SCORE_VALUE
    )
    assert all(isinstance(s, float) for s in scores)
    values = [float(s) for s in scores]  # type: ignore[arg-type]
    third = len(values) // 3
    assert min(values[third : 2 * third]) < 0.5  # the dip
    assert min(values[:3]) > 0.8
    assert values[-1] > 0.8  # recovered


def test_the_cache_warms_over_the_run(demo_run: tuple[Path, dict[str, object]]) -> None:
    spans = sorted(
        (s for s in read_directory(demo_run[0]).spans if s.stage == names.STAGE_CACHE),
        key=lambda s: s.start,
    )
    results = [s.attributes.get(names.RAG_CACHE_RESULT) for s in spans]
    half = len(results) // 2
    early = results[:half].count(names.CACHE_HIT) / half
    late = results[half:].count(names.CACHE_HIT) / (len(results) - half)
    assert late > early


def test_the_demo_prints_the_summary_and_where_the_report_is(tmp_path: Path) -> None:
    result = _demo(tmp_path, "--questions", "12")
    report = tmp_path / "ragsight-telemetry" / "report.html"
    assert report.is_file()
    assert f"report: {report.resolve()}" in result.stdout
    assert "circuit breakers" in result.stdout
    assert "stages (ms)" in result.stdout


def test_live_mode_draws_the_dashboard(tmp_path: Path) -> None:
    result = _demo(tmp_path, "--live", "--questions", "12")
    assert "question 12/12" in result.stdout
    assert "vector-store" in result.stdout


def test_every_line_is_one_otlp_json_request_with_hex_ids(
    demo_run: tuple[Path, dict[str, object]],
) -> None:
    directory = demo_run[0]
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


def test_the_command_the_demo_suggests_runs_as_typed_without_an_activated_venv(
    tmp_path: Path,
) -> None:
    result = _demo(tmp_path, "--questions", "4")
    (hint,) = re.findall(r"`([^`]*\bview\b[^`]*)`", result.stdout)
    env = _clean_env()
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != bin_dir)
    ran = subprocess.run(
        hint, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, (hint, ran.stderr)
