"""ragsight report: one self-contained HTML page whose data says what the charts draw."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from otlp_files import T0, attributes, event, resource, spans_line, stage_span, write_lines

from ragsight import names
from ragsight._viewer.reader import read_directory
from ragsight._viewer.report import CHARTS, render_html, report_data
from ragsight._viewer.runs import select

RUN = "run-a"
S = 10**9
HOSTILE = "</script><script>alert(1)</script>"


def _transition(at: int, old: str, new: str) -> dict[str, Any]:
    attrs = {names.RESILIENCE_NAME: "store", names.CB_FROM_STATE: old, names.CB_TO_STATE: new}
    return event(names.EVENT_CB_STATE_CHANGED, at, **attrs)


def _directory(tmp_path: Path) -> Path:
    spans = [
        stage_span("t1", "a", "retrieval", HOSTILE, T0, 0.5, error=True,
                   events=[_transition(T0 + S // 10, "closed", "open")],
                   attrs={names.RAG_RETRIEVAL_TOP_SCORE: 0.42}),
        stage_span("t2", "b", "retrieval", "search", T0 + 2 * S, 0.1,
                   events=[_transition(T0 + 2 * S, "open", "half_open"),
                           _transition(T0 + 2 * S + 5, "half_open", "closed")]),
        stage_span("t3", "c", "cache", "answers", T0 + 3 * S, 0.001,
                   attrs={names.RAG_CACHE_NAME: "answers", names.RAG_CACHE_RESULT: "hit"}),
        stage_span("t4", "d", "generation", "llm", T0 + 4 * S, 2.0,
                   attrs={names.GEN_AI_USAGE_INPUT_TOKENS: 50,
                          names.GEN_AI_USAGE_OUTPUT_TOKENS: 5}),
    ]  # fmt: skip
    write_lines(tmp_path / "traces.jsonl", spans_line(RUN, spans))
    return tmp_path


def _data(directory: Path) -> dict[str, Any]:
    return report_data(select(read_directory(directory), None, all_runs=False))


def _embedded(page: str) -> dict[str, Any]:
    match = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S
    )
    assert match is not None
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def test_the_page_loads_nothing_from_anywhere(tmp_path: Path) -> None:
    page = render_html(_data(_directory(tmp_path)))
    markup = re.sub(r"(<script[^>]*>).*?(</script>)", r"\1\2", page, flags=re.S)  # tags only
    assert markup.count("<script") == 3  # the data, ECharts and the page's code: all inline
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=", markup, re.I)
    assert "default-src 'none'" in page  # and the browser is told so
    assert "echarts" in page


def test_span_names_cannot_break_out_of_the_data(tmp_path: Path) -> None:
    page = render_html(_data(_directory(tmp_path)))
    assert HOSTILE not in page
    assert HOSTILE in json.dumps(_embedded(page))  # still there, as data


def test_the_breaker_timeline_follows_its_transitions(tmp_path: Path) -> None:
    steps = _data(_directory(tmp_path))["breaker"]["states"]["store"]
    corners = [(round(t - T0 / 1e6), state) for t, state in steps]
    assert corners == [
        (0, "closed"),
        (100, "closed"),
        (100, "open"),
        (2000, "open"),
        (2000, "half_open"),
        (2000, "half_open"),
        (2000, "closed"),
        (round(steps[-1][0] - T0 / 1e6), "closed"),
    ]


def test_charts_get_their_figures(tmp_path: Path) -> None:
    data = _data(_directory(tmp_path))
    assert [c["id"] for c in data["charts"]] == [cid for cid, _t in CHARTS]
    assert sum(data["tokens"]["input"]) == 50
    assert sum(data["scores"][f"retrieval/{HOSTILE}"]) == 1
    assert data["cache"]["answers"][-1] == 1.0
    latency = data["latency"]["generation/llm"]["p50"]
    assert max(v for v in latency if v is not None) == 2000.0
    assert any(rate == 1.0 for rate in data["errors"][f"retrieval/{HOSTILE}"])


def test_waterfalls_of_the_slowest_and_the_failing_traces(tmp_path: Path) -> None:
    falls = _data(_directory(tmp_path))["waterfalls"]
    kinds = {(w["kind"], w["trace_id"][:2]) for w in falls}
    assert ("slowest", "t4") in kinds
    assert ("failing", "t1") in kinds or ("slowest", "t1") in kinds
    failing = next(w for w in falls if w["trace_id"].startswith("t1"))
    assert failing["failed"]
    assert failing["rows"][0]["events"][0]["text"].startswith("breaker store: closed → open")


def test_report_command_writes_the_file_and_says_where(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}
    out = tmp_path / "out" / "r.html"
    out.parent.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "ragsight.cli", "report", str(_directory(tmp_path)), "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert str(out.resolve()) in result.stdout
    assert _embedded(out.read_text())["spans"] == 4


def _event_record(name: str, at: int, **attrs: Any) -> dict[str, Any]:
    """A Logs-API event as the file sink writes one emitted outside any span."""
    return {"timeUnixNano": str(at), "eventName": name, "attributes": attributes(attrs)}


def test_a_breaker_used_outside_any_span_is_charted_from_its_log_events(tmp_path: Path) -> None:
    breaker = {names.RESILIENCE_NAME: "store"}
    moved = {**breaker, names.CB_FROM_STATE: "closed", names.CB_TO_STATE: "open"}
    records = [
        _event_record(names.EVENT_CB_STATE_CHANGED, T0 + S // 10, **moved),
        _event_record(names.EVENT_CB_CALL_REJECTED, T0 + S // 5, **breaker),
        _event_record(names.EVENT_CB_CALL_REJECTED, T0 + S // 4, **breaker),
    ]
    logs = {"resourceLogs": [{"resource": resource(RUN), "scopeLogs": [{"logRecords": records}]}]}
    write_lines(
        tmp_path / "traces.jsonl",
        spans_line(RUN, [stage_span("t1", "a", "retrieval", "search", T0, 0.5)]),
    )
    write_lines(tmp_path / "logs.jsonl", json.dumps(logs))
    chart = _data(tmp_path)["breaker"]
    assert [state for _t, state in chart["states"]["store"]] == ["closed", "closed", "open", "open"]
    assert sum(chart["rejected"]["store"]) == 2


def test_the_time_axis_reaches_a_breaker_event_after_the_last_span(tmp_path: Path) -> None:
    moved = {
        names.RESILIENCE_NAME: "store",
        names.CB_FROM_STATE: "closed",
        names.CB_TO_STATE: "open",
    }
    records = [_event_record(names.EVENT_CB_STATE_CHANGED, T0 + 3 * S, **moved)]
    logs = {"resourceLogs": [{"resource": resource(RUN), "scopeLogs": [{"logRecords": records}]}]}
    write_lines(
        tmp_path / "traces.jsonl",
        spans_line(RUN, [stage_span("t1", "a", "retrieval", "search", T0, 0.5)]),
    )
    write_lines(tmp_path / "logs.jsonl", json.dumps(logs))
    data = _data(tmp_path)
    times = [t for t, _state in data["breaker"]["states"]["store"]]
    assert times == sorted(times)
    assert data["end"] >= (T0 + 3 * S) / 1e6


def test_latency_and_error_charts_count_a_retried_calls_attempts_like_its_table(
    tmp_path: Path,
) -> None:
    call = stage_span("t0", "c0", "retrieval", "search", T0, 2.0)  # attempts plus backoff
    attempts = [
        stage_span("t0", f"a{i}", "retrieval", "search", T0 + i * S // 100, 0.01, parent="c0",
                   error=i < 2, attrs={names.RETRY_ATTEMPT: i + 1,
                                       **({names.ERROR_TYPE: "Timeout"} if i < 2 else {})})
        for i in range(3)
    ]  # fmt: skip
    write_lines(tmp_path / "traces.jsonl", spans_line(RUN, [call, *attempts]))
    data = _data(tmp_path)
    (row,) = data["summary"]
    assert (row["calls"], row["errors"]) == (3, 2)
    rates = [r for r in data["errors"]["retrieval/search"] if r is not None]
    assert rates == [round(2 / 3, 4)]
    p95 = [v for v in data["latency"]["retrieval/search"]["p95"] if v is not None]
    assert max(p95) <= row["max"]


def test_events_of_a_sampled_out_span_are_charted_from_their_log_records(tmp_path: Path) -> None:
    breaker = {names.RESILIENCE_NAME: "store"}
    judged = {"traceId": "77" * 16, "spanId": "88" * 8}  # a span the sampler dropped
    records = [
        {**judged, **_event_record(names.EVENT_CB_CALL_REJECTED, T0 + S // 5, **breaker)},
        {**judged, **_event_record(
            names.EVENT_GEN_AI_EVALUATION_RESULT, T0 + S // 4,
            **{names.GEN_AI_EVALUATION_NAME: "relevance",
               names.GEN_AI_EVALUATION_SCORE_VALUE: 0.4})},
    ]  # fmt: skip
    logs = {"resourceLogs": [{"resource": resource(RUN), "scopeLogs": [{"logRecords": records}]}]}
    write_lines(
        tmp_path / "traces.jsonl",
        spans_line(RUN, [stage_span("t1", "a", "retrieval", "search", T0, 0.5)]),
    )
    write_lines(tmp_path / "logs.jsonl", json.dumps(logs))
    data = _data(tmp_path)
    assert sum(data["breaker"]["rejected"]["store"]) == 1
    assert [score for _t, score in data["evaluations"]["relevance"]] == [0.4]


def test_a_log_event_mirrored_on_a_span_is_charted_once(tmp_path: Path) -> None:
    breaker = {names.RESILIENCE_NAME: "store"}
    at = T0 + S // 5
    record = {"traceId": "t1".ljust(32, "0"), "spanId": "gone".ljust(16, "0"), **_event_record(
        names.EVENT_CB_CALL_REJECTED, at, **breaker)}  # fmt: skip
    logs = {"resourceLogs": [{"resource": resource(RUN), "scopeLogs": [{"logRecords": [record]}]}]}
    mirror = event(names.EVENT_CB_CALL_REJECTED, at, **breaker)
    write_lines(
        tmp_path / "traces.jsonl",
        spans_line(RUN, [stage_span("t1", "a", "retrieval", "search", T0, 0.5, events=[mirror])]),
    )
    write_lines(tmp_path / "logs.jsonl", json.dumps(logs))
    assert sum(_data(tmp_path)["breaker"]["rejected"]["store"]) == 1
