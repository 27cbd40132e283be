"""Runs told apart: one process start each, the latest by default, others on request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from otlp_files import T0, metrics_line, spans_line, stage_durations, stage_span, write_lines

from ragsight import Settings, names
from ragsight._config.settings import FileSinkSettings
from ragsight._export.setup import build_providers
from ragsight._viewer.reader import UNKNOWN_RUN, read_directory
from ragsight._viewer.runs import RunError, runs_of, select
from ragsight._viewer.summary import summarize
from ragsight.cli import main

EARLY, LATE = "aaaa1111-early", "bbbb2222-late"


def _two_runs(directory: Path) -> Path:
    """An earlier run with 3 retrieval calls, a later one with 2."""
    for run, start, calls in ((EARLY, T0, 3), (LATE, T0 + 100 * 10**9, 2)):
        spans = [
            stage_span(f"{run[:4]}{i}", f"{i}", "retrieval", "search", start + i, 0.01)
            for i in range(calls)
        ]
        write_lines(directory / "traces.jsonl", spans_line(run, spans))
        write_lines(
            directory / "metrics.jsonl",
            metrics_line(run, [stage_durations("retrieval", "search", [0.01] * calls)]),
        )
    return directory


def _calls(directory: Path, run: str | None = None, *, all_runs: bool = False) -> int:
    row = summarize(directory, run, all_runs=all_runs).stage("retrieval", "search")
    assert row is not None
    return row.calls


def test_the_latest_run_is_shown_by_default(tmp_path: Path) -> None:
    assert _calls(_two_runs(tmp_path)) == 2


def test_all_runs_together_on_request(tmp_path: Path) -> None:
    assert _calls(_two_runs(tmp_path), all_runs=True) == 5


@pytest.mark.parametrize("wanted", ["aaaa", "-2", EARLY])
def test_an_earlier_run_by_id_prefix_or_position(tmp_path: Path, wanted: str) -> None:
    assert _calls(_two_runs(tmp_path), wanted) == 3


@pytest.mark.parametrize("wanted", ["cccc", "-3", "-0"])
def test_a_run_that_is_not_there_is_an_error(tmp_path: Path, wanted: str) -> None:
    with pytest.raises(RunError):
        select(read_directory(_two_runs(tmp_path)), wanted, all_runs=False)


def test_an_ambiguous_prefix_is_an_error_naming_the_matches(tmp_path: Path) -> None:
    _two_runs(tmp_path)
    write_lines(
        tmp_path / "traces.jsonl",
        spans_line("aaaa9999", [stage_span("ff", "1", "retrieval", "search", T0 + 5, 0.01)]),
    )
    with pytest.raises(RunError, match="several runs match"):
        select(read_directory(tmp_path), "aaaa", all_runs=False)


def test_files_without_run_ids_are_one_run(tmp_path: Path) -> None:
    write_lines(
        tmp_path / "traces.jsonl",
        spans_line(None, [stage_span("t1", "1", "retrieval", "search", T0, 0.01)]),
        spans_line(None, [stage_span("t2", "2", "retrieval", "search", T0 + 9, 0.01)]),
    )
    (run,) = runs_of(read_directory(tmp_path))
    assert (run.id, run.spans) == (UNKNOWN_RUN, 2)


def _resource_of(settings: Settings) -> dict[str, object]:
    telemetry = build_providers(settings)
    try:
        return dict(telemetry.tracer_provider.resource.attributes)
    finally:
        telemetry.shutdown()


def test_the_resource_carries_a_run_id(tmp_path: Path) -> None:
    settings = Settings(service_name="s", file_sink=_sink(tmp_path))
    run_id = _resource_of(settings).get(names.SERVICE_INSTANCE_ID)
    assert isinstance(run_id, str)
    assert len(run_id) == 36


def test_a_run_id_the_user_set_is_kept(tmp_path: Path) -> None:
    settings = Settings(
        service_name="s",
        resource_attributes={names.SERVICE_INSTANCE_ID: "pod-7"},
        file_sink=_sink(tmp_path),
    )
    assert _resource_of(settings)[names.SERVICE_INSTANCE_ID] == "pod-7"


def test_ragsight_sets_a_run_id_where_the_sdk_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry.sdk import resources

    detector = getattr(resources, "ServiceInstanceIdResourceDetector", None)
    if detector is not None:  # an SDK that detects one itself: take that away
        monkeypatch.setattr(detector, "detect", lambda self: resources.Resource({}))
    first = _resource_of(Settings(service_name="s", file_sink=_sink(tmp_path)))
    second = _resource_of(Settings(service_name="s", file_sink=_sink(tmp_path)))
    assert isinstance(first.get(names.SERVICE_INSTANCE_ID), str)
    assert first[names.SERVICE_INSTANCE_ID] == second[names.SERVICE_INSTANCE_ID]  # one process


def _sink(directory: Path) -> FileSinkSettings:
    return FileSinkSettings(directory=str(directory / "sink"))


def test_the_demo_run_twice_shows_one_run_not_both(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}
    for _ in range(2):
        subprocess.run(
            [sys.executable, "-m", "ragsight.cli", "demo", "--fast", "--json", "--questions", "9"],
            cwd=tmp_path,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
    directory = tmp_path / "ragsight-telemetry"
    assert len(runs_of(read_directory(directory))) == 2
    latest = summarize(directory).stage(names.STAGE_PIPELINE, "answer_question")
    everything = summarize(directory, all_runs=True).stage(names.STAGE_PIPELINE, "answer_question")
    assert latest is not None
    assert everything is not None
    assert (latest.calls, everything.calls) == (9, 18)


def test_the_hint_for_another_run_names_arguments_the_command_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = _two_runs(tmp_path)
    assert main(["summary", str(directory)]) == 0
    said = " ".join(capsys.readouterr().out.split())  # the console may wrap the header
    assert "--run ID or --run -N for another" in said
    assert main(["summary", str(directory), "--run", "-2"]) == 0
    assert EARLY[:8] in capsys.readouterr().out
