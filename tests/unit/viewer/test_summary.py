"""ragsight summary: counts from metrics, percentiles that stay inside what was observed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from otlp_files import (
    T0,
    attributes,
    counter,
    event,
    gauge,
    histogram,
    histogram_point,
    metrics_line,
    resource,
    spans_line,
    stage_durations,
    stage_span,
    sum_point,
    write_lines,
)

from ragsight import names
from ragsight._viewer.console import to_text
from ragsight._viewer.stats import Figure, Stats
from ragsight._viewer.summary import Summary, render, summarize

RUN = "run-a"
BOUNDS = [0.1, 1.0]


def _cumulative(service: str, start: int, time: int, count: int, errors: int = 0) -> str:
    attrs = {names.RAG_STAGE: "retrieval", names.RAG_OPERATION_NAME: "search"}
    points = [
        histogram_point([0.05] * (count - errors), BOUNDS, attrs, start=start, time=time),
    ]
    if errors:
        points.append(
            histogram_point(
                [0.05] * errors,
                BOUNDS,
                {**attrs, names.ERROR_TYPE: "Timeout"},
                start=start,
                time=time,
            )
        )
    return metrics_line(RUN, [histogram(names.RAG_OPERATION_DURATION.name, *points)], service)


def test_repeated_cumulative_exports_count_once(tmp_path: Path) -> None:
    write_lines(tmp_path / "metrics.jsonl", *(_cumulative("a", 1, t, t * 10) for t in (1, 2, 3)))
    row = summarize(tmp_path).stage("retrieval", "search")
    assert row is not None
    assert row.calls == 30


def test_two_processes_of_one_run_and_rotated_files_add_up(tmp_path: Path) -> None:
    write_lines(tmp_path / "metrics.1.jsonl", _cumulative("a", 1, 5, count=4, errors=1))
    write_lines(
        tmp_path / "metrics.jsonl",
        _cumulative("a", 1, 9, count=6, errors=2),
        _cumulative("b", 7, 8, count=10),
    )
    row = summarize(tmp_path).stage("retrieval", "search")
    assert row is not None
    assert (row.calls, row.errors) == (16, 2)
    assert row.error_rate == pytest.approx(2 / 16)


def _metric_only(tmp_path: Path, values: list[float], *, min_max: bool = True) -> Stats:
    spec = names.RAG_OPERATION_DURATION
    point = histogram_point(
        values,
        spec.buckets or (),
        {names.RAG_STAGE: "generation", names.RAG_OPERATION_NAME: "llm"},
        min_max=min_max,
    )
    write_lines(tmp_path / "metrics.jsonl", metrics_line(RUN, [histogram(spec.name, point)]))
    row = summarize(tmp_path).stage("generation", "llm")
    assert row is not None
    return row.latency


def _value(figure: Figure | None) -> float:
    assert figure is not None
    return figure.value


def test_identical_values_give_exactly_that_value(tmp_path: Path) -> None:
    latency = _metric_only(tmp_path, [0.3] * 50)
    assert _value(latency.p50) == 0.3
    assert _value(latency.p95) == 0.3


def test_p95_never_exceeds_the_largest_observation(tmp_path: Path) -> None:
    # 10.7 s sits in the (10, 30] bucket: interpolating to the bucket's edge said 21.7 s
    latency = _metric_only(tmp_path, [0.2] * 15 + [10.7] * 5)
    assert _value(latency.p95) <= 10.7
    assert _value(latency.p50) >= 0.2


def test_a_value_past_the_last_bucket_is_not_printed_as_the_bound(tmp_path: Path) -> None:
    latency = _metric_only(tmp_path, [228.0] * 3)
    assert _value(latency.p50) == 228.0
    spread = _metric_only(tmp_path / "spread", [70.0, 150.0, 228.0])
    assert 60.0 < _value(spread.p50) <= 228.0


def test_past_the_last_bucket_without_a_maximum_is_shown_as_a_lower_bound(
    tmp_path: Path,
) -> None:
    _metric_only(tmp_path, [228.0] * 3, min_max=False)
    text = to_text(render(summarize(tmp_path)))
    assert ">60000.0" in text


def _write_searches(tmp_path: Path, spans: list[dict[str, Any]], durations: list[float]) -> None:
    """A run's ``spans`` and its retrieval/search duration histogram of ``durations``."""
    write_lines(tmp_path / "traces.jsonl", spans_line(RUN, spans))
    write_lines(
        tmp_path / "metrics.jsonl",
        metrics_line(RUN, [stage_durations("retrieval", "search", durations)]),
    )


def test_percentiles_are_exact_from_the_spans_when_every_call_has_one(tmp_path: Path) -> None:
    durations = [0.011, 0.012, 0.013, 0.014, 0.9]
    spans = [
        stage_span(f"t{i}", f"s{i}", "retrieval", "search", T0 + i * 10**9, d)
        for i, d in enumerate(durations)
    ]
    _write_searches(tmp_path, spans, durations)
    row = summarize(tmp_path).stage("retrieval", "search")
    assert row is not None
    assert row.latency.exact
    assert row.latency.p50 is not None
    assert row.latency.p50.value == pytest.approx(0.013)
    assert row.latency.maximum is not None
    assert row.latency.maximum.value == pytest.approx(0.9)


def _retried_call(durations: list[float], failed_attempts: int) -> list[dict[str, Any]]:
    """One call span and, under it, one attempt span per duration (the way retry records them)."""
    call = stage_span("t0", "c0", "retrieval", "search", T0, sum(durations) + 0.1)
    attempts = []
    for i, d in enumerate(durations):
        failed = i < failed_attempts
        attrs: dict[str, Any] = {names.RETRY_ATTEMPT: i + 1}
        if failed:
            attrs[names.ERROR_TYPE] = "Timeout"
        start = T0 + i * 10**8
        attempt = stage_span(
            "t0", f"a{i}", "retrieval", "search", start, d, parent="c0", error=failed, attrs=attrs
        )
        attempts.append(attempt)
    return [call, *attempts]


def test_a_retried_call_counts_its_attempts_like_the_duration_metric(tmp_path: Path) -> None:
    write_lines(tmp_path / "traces.jsonl", spans_line(RUN, _retried_call([0.01, 0.02, 0.03], 2)))
    row = summarize(tmp_path).stage("retrieval", "search")
    assert row is not None
    assert (row.calls, row.errors) == (3, 2)


def test_a_retried_call_keeps_percentiles_exact_when_every_attempt_has_its_span(
    tmp_path: Path,
) -> None:
    durations = [0.01, 0.02, 0.03]
    _write_searches(tmp_path, _retried_call(durations, 2), durations)
    row = summarize(tmp_path).stage("retrieval", "search")
    assert row is not None
    assert row.latency.exact
    assert row.latency.maximum is not None
    assert row.latency.maximum.value == pytest.approx(0.03)


def test_sampled_spans_fall_back_to_the_histogram_and_say_so(tmp_path: Path) -> None:
    durations = [0.011] * 8 + [0.2, 0.3]
    sampled = [stage_span("t0", "s0", "retrieval", "search", T0, 0.011)]
    _write_searches(tmp_path, sampled, durations)
    summary = summarize(tmp_path)
    row = summary.stage("retrieval", "search")
    assert row is not None
    assert row.calls == 10
    assert not row.latency.exact
    assert "~" in to_text(render(summary))


def _summary_of(
    tmp_path: Path, spec: names.MetricSpec, values: Sequence[float], attrs: dict[str, Any]
) -> Summary:
    """The summary of a run whose only metric is ``spec``'s histogram of ``values``."""
    metric = histogram(spec.name, histogram_point(values, spec.buckets or (), attrs))
    write_lines(tmp_path / "metrics.jsonl", metrics_line(RUN, [metric]))
    return summarize(tmp_path)


def test_tokens_in_and_out_per_model(tmp_path: Path) -> None:
    spec = names.GEN_AI_CLIENT_TOKEN_USAGE
    model = {names.GEN_AI_REQUEST_MODEL: "gpt-x", names.GEN_AI_OPERATION_NAME: "chat"}
    metric = histogram(
        spec.name,
        histogram_point(
            [100, 120], spec.buckets or (), {**model, names.GEN_AI_TOKEN_TYPE: "input"}
        ),
        histogram_point([7, 9], spec.buckets or (), {**model, names.GEN_AI_TOKEN_TYPE: "output"}),
    )
    write_lines(tmp_path / "metrics.jsonl", metrics_line(RUN, [metric]))
    (row,) = summarize(tmp_path).tokens
    assert (row.model, row.calls, row.input, row.output) == ("gpt-x", 2, 220, 16)


def test_tokens_in_and_out_from_the_latest_conventions_histograms_without_spans(
    tmp_path: Path,
) -> None:
    model = {names.GEN_AI_REQUEST_MODEL: "gpt-x", names.GEN_AI_OPERATION_NAME: "chat"}
    spec_in = names.GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS
    spec_out = names.GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS
    metrics = [
        histogram(spec_in.name, histogram_point([100, 120, 30], spec_in.buckets or (), model)),
        histogram(spec_out.name, histogram_point([7, 9, 1], spec_out.buckets or (), model)),
    ]
    write_lines(tmp_path / "metrics.jsonl", metrics_line(RUN, metrics))
    (row,) = summarize(tmp_path).tokens
    assert (row.model, row.calls, row.input, row.output) == ("gpt-x", 3, 250, 17)


def test_tokens_of_a_call_whose_request_model_was_not_seen_are_listed_under_the_model_that_answered(
    tmp_path: Path,
) -> None:
    answered = {
        names.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024-08-06",
        names.GEN_AI_OPERATION_NAME: "chat",
    }
    spec = names.GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS
    (row,) = _summary_of(tmp_path, spec, [10, 20], answered).tokens
    assert (row.model, row.calls, row.input) == ("gpt-4o-2024-08-06", 2, 30)


def test_embedding_input_tokens_count_as_tokens_in(tmp_path: Path) -> None:
    spec = names.GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS
    attrs = {names.GEN_AI_REQUEST_MODEL: "embed-x", names.GEN_AI_OPERATION_NAME: "embeddings"}
    (row,) = _summary_of(tmp_path, spec, [12, 8], attrs).tokens
    assert (row.model, row.calls, row.input, row.output) == ("embed-x", 2, 20, 0)


def test_time_to_first_chunk_from_the_latest_conventions_histogram_without_spans(
    tmp_path: Path,
) -> None:
    spec = names.GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK
    attrs = {names.GEN_AI_REQUEST_MODEL: "gpt-x", names.GEN_AI_OPERATION_NAME: "chat"}
    stats = _summary_of(tmp_path, spec, [0.2, 0.3, 0.4], attrs).time_to_first_chunk["gpt-x"]
    assert stats.count == 3
    assert stats.maximum is not None
    assert stats.maximum.value == pytest.approx(0.4)


def test_retrieval_scores_and_time_to_first_chunk_statistics(tmp_path: Path) -> None:
    spans = [
        stage_span("t1", "a", "retrieval", "search", T0, 0.01,
                   attrs={names.RAG_RETRIEVAL_TOP_SCORE: 0.9}),
        stage_span("t2", "b", "retrieval", "search", T0, 0.01,
                   attrs={names.RAG_RETRIEVAL_TOP_SCORE: 0.5}),
        stage_span("t3", "c", "generation", "llm", T0, 0.5,
                   attrs={names.GEN_AI_REQUEST_MODEL: "m",
                          names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: 0.25}),
    ]  # fmt: skip
    write_lines(tmp_path / "traces.jsonl", spans_line(RUN, spans))
    summary = summarize(tmp_path)
    scores = summary.scores["retrieval/search"]
    assert scores.count == 2
    assert scores.minimum is not None
    assert scores.minimum.value == 0.5
    assert scores.p50 is not None
    assert scores.p50.value == pytest.approx(0.7)
    ttfc = summary.time_to_first_chunk["m"]
    assert ttfc.p50 is not None
    assert ttfc.p50.value == 0.25


def test_distances_and_unbounded_scores_have_their_own_figures_never_mixed_with_similarity(
    tmp_path: Path,
) -> None:
    spans = [
        stage_span("t1", "a", "retrieval", "l2", T0, 0.01,
                   attrs={names.RAG_RETRIEVAL_DISTANCE_BEST: 0.42}),
        stage_span("t2", "b", "retrieval", "l2", T0, 0.01,
                   attrs={names.RAG_RETRIEVAL_DISTANCE_BEST: 1.3}),
        stage_span("t3", "c", "retrieval", "bm25", T0, 0.01,
                   attrs={names.RAG_RETRIEVAL_UNBOUNDED_TOP: 7.31}),
    ]  # fmt: skip
    write_lines(tmp_path / "traces.jsonl", spans_line(RUN, spans))
    summary = summarize(tmp_path)
    assert summary.scores == {}
    distance = summary.distances["retrieval/l2"]
    assert distance.count == 2
    assert distance.maximum is not None
    assert distance.maximum.value == pytest.approx(1.3)
    unbounded = summary.unbounded["retrieval/bm25"]
    assert unbounded.maximum is not None
    assert unbounded.maximum.value == pytest.approx(7.31)
    text = to_text(render(summary))
    assert "best distance" in text
    assert "unbounded" in text


def test_distances_come_from_their_histogram_when_spans_are_sampled(tmp_path: Path) -> None:
    spec = names.RAG_RETRIEVAL_DISTANCE
    attrs = {names.RAG_STAGE: "retrieval", names.RAG_OPERATION_NAME: "l2"}
    distance = _summary_of(tmp_path, spec, [0.2, 0.4, 0.9], attrs).distances["retrieval/l2"]
    assert distance.count == 3


def test_breaker_state_rejections_and_retry_counts(tmp_path: Path) -> None:
    name = {names.RESILIENCE_NAME: "store"}
    metrics = [
        gauge(names.CB_STATE_METRIC.name,
              sum_point(0, {**name, names.CB_STATE: "closed"}),
              sum_point(1, {**name, names.CB_STATE: "open"})),
        counter(names.CB_TRANSITIONS.name,
                sum_point(1, {**name, names.CB_FROM_STATE: "closed", names.CB_TO_STATE: "open"})),
        counter(names.CB_CALLS.name,
                sum_point(4, {**name, names.CB_OUTCOME: "rejected"}),
                sum_point(9, {**name, names.CB_OUTCOME: "success"})),
        counter(names.RETRY_ATTEMPTS.name, sum_point(3, {**name, names.RETRY_ATTEMPT: 1})),
        counter(names.RETRY_GIVE_UPS.name,
                sum_point(2, {**name, names.RETRY_STOP_REASON: "circuit_open"})),
    ]  # fmt: skip
    write_lines(tmp_path / "metrics.jsonl", metrics_line(RUN, metrics))
    summary = summarize(tmp_path)
    (breaker,) = summary.breakers
    assert (breaker.state, breaker.rejected) == ("open", 4)
    assert breaker.transitions == {"closed -> open": 1}
    (retry,) = summary.retries
    assert (retry.retries, retry.give_ups) == (3, {"circuit_open": 2})


def test_a_truncated_last_line_is_skipped_and_reported(tmp_path: Path) -> None:
    good = _cumulative("a", 1, 2, count=3)
    (tmp_path / "metrics.jsonl").write_text(good + "\n" + good[: len(good) // 2])
    summary = summarize(tmp_path)
    row = summary.stage("retrieval", "search")
    assert row is not None
    assert row.calls == 3
    assert "skipped 1 unreadable line" in to_text(render(summary))


def test_numbers_that_are_no_figures_leave_tokens_and_scores_out(tmp_path: Path) -> None:
    # a 400-digit input_tokens crashed summary and report (OverflowError converting it to
    # float); a NaN score made the evaluation's mean, min and percentiles nan
    usage = {
        names.GEN_AI_USAGE_INPUT_TOKENS: 10**400,
        names.GEN_AI_USAGE_OUTPUT_TOKENS: 7,
        names.GEN_AI_REQUEST_MODEL: "m",
    }
    spans = [
        stage_span("t1", "s1", "generation", "llm", T0, 0.01, attrs=usage),
        stage_span(
            "t2", "s2", "generation", "llm", T0, 0.01,
            events=[
                event(names.EVENT_GEN_AI_EVALUATION_RESULT, T0, **{
                    names.GEN_AI_EVALUATION_NAME: "relevance",
                    names.GEN_AI_EVALUATION_SCORE_VALUE: score,
                })
                for score in (float("nan"), float("inf"), 0.5)
            ],
        ),
    ]  # fmt: skip
    write_lines(tmp_path / "traces.jsonl", spans_line(RUN, spans))
    summary = summarize(tmp_path)
    text = to_text(render(summary))
    assert "nan" not in text
    relevance = summary.evaluations["relevance"]
    assert (relevance.count, relevance.mean) == (1, 0.5)


def test_a_breaker_state_without_its_gauge_comes_from_a_log_event_outside_any_span(
    tmp_path: Path,
) -> None:
    name = {names.RESILIENCE_NAME: "store"}
    moved = {**name, names.CB_FROM_STATE: "closed", names.CB_TO_STATE: "open"}
    metrics = [counter(names.CB_TRANSITIONS.name, sum_point(1, moved))]
    record = {
        "timeUnixNano": str(T0),
        "eventName": names.EVENT_CB_STATE_CHANGED,
        "attributes": attributes(moved),
    }
    logs = {"resourceLogs": [{"resource": resource(RUN), "scopeLogs": [{"logRecords": [record]}]}]}
    write_lines(tmp_path / "metrics.jsonl", metrics_line(RUN, metrics))
    write_lines(tmp_path / "logs.jsonl", json.dumps(logs))
    (breaker,) = summarize(tmp_path).breakers
    assert breaker.state == "open"


def test_evaluations_of_sampled_out_spans_are_exact_from_their_log_records(
    tmp_path: Path,
) -> None:
    scores = [0.1, 0.2, 0.9]
    name = {names.GEN_AI_EVALUATION_NAME: "relevance"}
    bounds = [0.0, 0.5, 1.0]
    metrics = [histogram(names.RAG_EVALUATION_SCORE.name, histogram_point(scores, bounds, name))]
    records = [
        {
            "traceId": f"{i:032x}",
            "spanId": f"{i:016x}",  # spans the sampler dropped
            "timeUnixNano": str(T0 + i),
            "eventName": names.EVENT_GEN_AI_EVALUATION_RESULT,
            "attributes": attributes({**name, names.GEN_AI_EVALUATION_SCORE_VALUE: score}),
        }
        for i, score in enumerate(scores, 1)
    ]
    logs = {"resourceLogs": [{"resource": resource(RUN), "scopeLogs": [{"logRecords": records}]}]}
    write_lines(tmp_path / "metrics.jsonl", metrics_line(RUN, metrics))
    write_lines(tmp_path / "logs.jsonl", json.dumps(logs))
    stats = summarize(tmp_path).evaluations["relevance"]
    assert stats.p50 is not None
    assert stats.p50.exact
    assert _value(stats.p50) == pytest.approx(0.2)
