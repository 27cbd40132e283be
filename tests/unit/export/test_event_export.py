"""configure() sends events through its LoggerProvider: the embedded file sink stores them as
log records with their event name and span, and summary/view/report read them from there
(each run in a fresh interpreter: OpenTelemetry's global providers are set once)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ragsight import ConfigError, names
from ragsight._config.validation import load_settings
from ragsight._viewer.reader import read_directory
from ragsight._viewer.stats import Figure
from ragsight._viewer.summary import summarize

APP = """
import ragsight

ragsight.configure(exporter="file", file_sink_directory={directory!r}, **{arguments!r})

def judge():
    ragsight.record_evaluation("faithfulness", 0.25, label="fail")

@ragsight.pipeline("qa")
def qa(question: str) -> str:
    if {inside!r}:
        judge()  # the pipeline span is still open: a mirror can go on it
    return "Paris"

qa("capital of France?")
if not {inside!r}:
    judge()  # after the pipeline returned: the default rule judges that pipeline
ragsight.shutdown()
"""


def run_app(directory: Path, *, inside: bool = False, **arguments: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}
    code = textwrap.dedent(APP).format(directory=str(directory), arguments=arguments, inside=inside)
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def evaluation_events(directory: Path) -> list[dict[str, object]]:
    (pipeline,) = [s for s in read_directory(directory).spans if s.stage == names.STAGE_PIPELINE]
    return [
        dict(e.attributes)
        for e in pipeline.events
        if e.name == names.EVENT_GEN_AI_EVALUATION_RESULT
    ]


def test_the_file_sink_stores_an_evaluation_as_a_log_record_of_the_judged_span(
    tmp_path: Path,
) -> None:
    run_app(tmp_path, events_span_events="off")
    recording = read_directory(tmp_path)
    (record,) = [r for r in recording.logs if r.event_name == names.EVENT_GEN_AI_EVALUATION_RESULT]
    (pipeline,) = [s for s in recording.spans if s.stage == names.STAGE_PIPELINE]
    assert (record.trace_id, record.span_id) == (pipeline.trace_id, pipeline.span_id)
    assert record.attributes[names.GEN_AI_EVALUATION_SCORE_VALUE] == 0.25


def test_the_viewer_reads_an_evaluation_that_is_a_log_record_only(tmp_path: Path) -> None:
    run_app(tmp_path, events_span_events="off")
    assert evaluation_events(tmp_path) == [
        {
            names.GEN_AI_EVALUATION_NAME: "faithfulness",
            names.GEN_AI_EVALUATION_SCORE_VALUE: 0.25,
            names.GEN_AI_EVALUATION_SCORE_LABEL: "fail",
        }
    ]


def test_summary_shows_the_exact_score_of_a_log_record_evaluation(tmp_path: Path) -> None:
    run_app(tmp_path, events_span_events="off")
    stats = summarize(tmp_path).evaluations["faithfulness"]
    assert (stats.count, stats.p50, stats.exact) == (1, Figure(0.25), True)


def test_the_viewer_counts_a_mirrored_evaluation_once(tmp_path: Path) -> None:
    run_app(tmp_path, inside=True)  # events.span_events=mirror, the default
    (trace_file,) = tmp_path.glob("traces*.jsonl")
    assert names.EVENT_GEN_AI_EVALUATION_RESULT in trace_file.read_text()  # the mirror
    assert len(evaluation_events(tmp_path)) == 1


def test_span_events_accepts_mirror_and_off_from_the_environment() -> None:
    environ = {"RAGSIGHT_EVENTS_SPAN_EVENTS": "OFF"}
    assert load_settings(environ=environ).events.span_events == names.SPAN_EVENTS_OFF
    assert load_settings(environ={}).events.span_events == names.SPAN_EVENTS_MIRROR


def test_span_events_rejects_other_values_naming_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={}, events_span_events="sometimes")
    assert "events.span_events" in str(info.value)
    assert "mirror, off" in str(info.value)


def test_the_logs_jsonl_line_names_the_event(tmp_path: Path) -> None:
    """What other tools reading the sink's files (the Collector's replay) see."""
    run_app(tmp_path, events_span_events="off")
    lines = (tmp_path / "logs.jsonl").read_text().splitlines()
    records = [
        record
        for line in lines
        for rl in json.loads(line)["resourceLogs"]
        for sl in rl["scopeLogs"]
        for record in sl["logRecords"]
    ]
    assert [r["eventName"] for r in records if "eventName" in r] == [
        names.EVENT_GEN_AI_EVALUATION_RESULT
    ]


def test_span_events_can_change_on_a_configured_process(tmp_path: Path) -> None:
    code = f"""
import ragsight
from ragsight._core import events
ragsight.configure(exporter="file", file_sink_directory={str(tmp_path)!r})
before = events.span_events()
ragsight.configure(exporter="file", file_sink_directory={str(tmp_path)!r},
                   events_span_events="off")
print(before, events.span_events())
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [names.SPAN_EVENTS_MIRROR, names.SPAN_EVENTS_OFF]


JUDGE_THE_ENDED_GENERATION = """
import ragsight

ragsight.configure(exporter="file", file_sink_directory={directory!r})

@ragsight.generation(model="m")
def answer(question: str) -> tuple[str, object]:
    return "Paris", ragsight.current_stage()

@ragsight.pipeline("qa")
def qa(question: str) -> str:
    text, generation = answer(question)
    # the generation ended: its mirror goes on the pipeline span, still open
    ragsight.record_evaluation("faithfulness", 0.25, judged=generation)
    return text

qa("capital of France?")
ragsight.shutdown()
"""


def test_an_evaluation_mirrored_on_another_span_of_its_trace_is_counted_once(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}
    code = JUDGE_THE_ENDED_GENERATION.format(directory=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    placed = {
        span.stage: [e.name for e in span.events]
        for span in read_directory(tmp_path).spans
        if span.stage in (names.STAGE_PIPELINE, names.STAGE_GENERATION)
    }
    assert placed == {
        names.STAGE_GENERATION: [names.EVENT_GEN_AI_EVALUATION_RESULT],  # the judged span
        names.STAGE_PIPELINE: [],
    }
    assert summarize(tmp_path).evaluations["faithfulness"].count == 1


FAILED_JUDGE = """
import ragsight

ragsight.configure(exporter="file", file_sink_directory={directory!r})

@ragsight.pipeline("qa")
def qa(question: str) -> str:
    return "Paris"

qa("capital of France?")
ragsight.record_evaluation("faithfulness", 0.25)
qa("capital of Spain?")
ragsight.record_evaluation("faithfulness", 0.0, error_type="TimeoutError")  # the judge failed
ragsight.shutdown()
"""


def test_summary_leaves_a_failed_evaluation_out_of_the_scores(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}
    code = FAILED_JUDGE.format(directory=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    stats = summarize(tmp_path).evaluations["faithfulness"]
    assert (stats.count, stats.p50) == (1, Figure(0.25))


FAILING_APP = """
import ragsight

ragsight.configure(exporter="file", file_sink_directory={directory!r})

@ragsight.generation(provider="openai", model="gpt-4o-mini")
def answer(question: str) -> str:
    raise TimeoutError("the model did not answer")

try:
    answer("capital of France?")
except TimeoutError:
    pass
ragsight.shutdown()
"""


def test_a_failed_generation_is_an_exception_log_record_of_its_span(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}
    code = textwrap.dedent(FAILING_APP).format(directory=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    recording = read_directory(tmp_path)
    (record,) = [
        r for r in recording.logs if r.event_name == names.EVENT_GEN_AI_CLIENT_OPERATION_EXCEPTION
    ]
    (span,) = recording.spans
    assert (record.trace_id, record.span_id) == (span.trace_id, span.span_id)
    assert record.attributes[names.EXCEPTION_TYPE] == "TimeoutError"
    # the viewer shows the failure once: the span's own exception event says the same
    assert [e.name for e in span.events] == [names.EVENT_EXCEPTION]
