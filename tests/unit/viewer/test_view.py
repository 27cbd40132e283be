"""ragsight view: traces as trees with a shared time axis, events inline, filters."""

from __future__ import annotations

from pathlib import Path

from otlp_files import T0, event, spans_line, stage_span, write_lines

from ragsight import names
from ragsight._viewer.console import to_text
from ragsight._viewer.view import ViewOptions, view

RUN = "run-a"
MS = 10**6


def _trace(trace: str, start: int, retrieval_s: float, *, failed: bool = False) -> list[dict]:
    """pipeline > (retrieval with a retry and a rejection, generation with tokens)."""
    root = f"{trace}r"
    events = [
        event(names.EVENT_RETRY_SCHEDULED, start + 2 * MS, **{
            names.RESILIENCE_NAME: "store", names.RETRY_ATTEMPT: 1,
            names.RETRY_DELAY_S: 0.25, names.RETRY_DELAY_SOURCE: "retry_after",
            names.ERROR_TYPE: "app.Unavailable"}),
        event(names.EVENT_CB_CALL_REJECTED, start + 3 * MS, **{
            names.RESILIENCE_NAME: "store", names.CB_STATE: "open"}),
    ]  # fmt: skip
    total = retrieval_s + 0.05
    return [
        stage_span(trace, root, "pipeline", "answer", start, total,
                   events=[event(names.EVENT_GEN_AI_EVALUATION_RESULT, start + 1, **{
                       names.GEN_AI_EVALUATION_NAME: "relevance",
                       names.GEN_AI_EVALUATION_SCORE_VALUE: 0.31})]),
        stage_span(trace, f"{trace}a", "retrieval", "search", start + MS, retrieval_s,
                   parent=root, events=events, error=failed,
                   attrs={names.RAG_RETRIEVAL_DOCUMENTS_COUNT: 5,
                          names.RAG_RETRIEVAL_TOP_SCORE: 0.87}),
        stage_span(trace, f"{trace}b", "generation", "llm", start + round(retrieval_s * 1e9),
                   0.04, parent=root,
                   attrs={names.GEN_AI_REQUEST_MODEL: "gpt-x",
                          names.GEN_AI_USAGE_INPUT_TOKENS: 120,
                          names.GEN_AI_USAGE_OUTPUT_TOKENS: 30}),
    ]  # fmt: skip


def _directory(tmp_path: Path) -> Path:
    spans = []
    for i, (seconds, failed) in enumerate([(0.1, False), (0.9, False), (0.2, True), (0.3, False)]):
        spans += _trace(f"{i}abc", T0 + i * 10**9, seconds, failed=failed)
    spans.append(stage_span("5abc", "5r", "rerank", "sort", T0 + 9 * 10**9, 2.0))  # slowest
    write_lines(tmp_path / "traces.jsonl", spans_line(RUN, spans))
    return tmp_path


def _shown(directory: Path, **options: object) -> str:
    return to_text(view(directory, ViewOptions(**options)), width=160)  # type: ignore[arg-type]


def _trace_ids(text: str) -> list[str]:
    return [line.split()[1][:4] for line in text.splitlines() if line.startswith("trace ")]


def test_default_shows_the_slowest_and_the_failing_traces(tmp_path: Path) -> None:
    text = _shown(_directory(tmp_path), limit=1)
    assert _trace_ids(text) == ["5abc", "2abc"]
    assert "1 slowest and 1 latest failing of 5 traces" in text


def test_a_span_row_has_stage_bar_duration_status_and_key_attributes(tmp_path: Path) -> None:
    text = _shown(_directory(tmp_path), trace_id="2abc")
    row = next(line for line in text.splitlines() if "retrieval" in line and "search" in line)
    assert "200.0 ms" in row
    assert "error" in row
    assert "docs 5" in row
    assert "top 0.87" in row
    assert any(ch in row for ch in "█▌▐")  # the duration bar
    generation = next(line for line in text.splitlines() if "generation" in line)
    assert "model gpt-x" in generation
    assert "tokens 120/30" in generation


def test_events_are_shown_inline_with_their_meaning(tmp_path: Path) -> None:
    text = _shown(_directory(tmp_path), trace_id="0abc")
    assert "retry 1 scheduled in 250.0 ms (retry_after) after Unavailable" in text
    assert "breaker store rejected the call (open)" in text
    assert "relevance = 0.31" in text


def test_filters_by_stage_and_errors(tmp_path: Path) -> None:
    directory = _directory(tmp_path)
    assert _trace_ids(_shown(directory, errors_only=True)) == ["2abc"]
    # ranked by the stage's own span: the 2 s rerank-only trace has no retrieval
    assert _trace_ids(_shown(directory, stage="retrieval", limit=1)) == ["1abc", "2abc"]
    assert _trace_ids(_shown(directory, stage="rerank")) == ["5abc"]
    assert "no trace matches" in _shown(directory, stage="tool")


def test_a_span_whose_parent_is_missing_is_still_shown(tmp_path: Path) -> None:
    orphan = stage_span("9f", "o1", "rerank", "sort", T0, 0.01, parent="gone")
    write_lines(tmp_path / "traces.jsonl", spans_line(RUN, [orphan]))
    assert "rerank sort" in _shown(tmp_path)


def test_a_parent_cycle_does_not_hang(tmp_path: Path) -> None:
    a = stage_span("9f", "a1", "retrieval", "x", T0, 0.01, parent="b1")
    b = stage_span("9f", "b1", "rerank", "y", T0, 0.01, parent="a1")
    write_lines(tmp_path / "traces.jsonl", spans_line(RUN, [a, b]))
    text = _shown(tmp_path)
    assert "9f" in text
