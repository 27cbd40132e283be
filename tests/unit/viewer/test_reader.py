"""One reader for summary, view and report: it skips what it cannot read, and counts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from otlp_files import T0, spans_line, stage_span, write_lines

from ragsight._viewer.reader import read_directory, telemetry_files

RUN = "run-a"
GOOD = spans_line(RUN, [stage_span("t1", "s1", "retrieval", "search", T0, 0.01)])

UNREADABLE_LINES = {
    "torn last line": GOOD[: len(GOOD) // 2].encode(),
    "a JSON array": b"[]",
    "a signal that is not a list": b'{"resourceSpans": 5}',
    "a byte that is not UTF-8": b'{"resourceSpans": []}\xff',
    "a foreign JSON line": b'{"level": "info", "msg": "hello"}',
    "a JSON string": b'"resourceSpans"',
    "null": b"null",
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("line", UNREADABLE_LINES.values(), ids=UNREADABLE_LINES.keys())
def test_an_unreadable_line_is_skipped_and_counted(tmp_path: Path, line: bytes) -> None:
    (tmp_path / "traces.jsonl").write_bytes(GOOD.encode() + b"\n" + line + b"\n")
    recording = read_directory(tmp_path)
    assert len(recording.spans) == 1
    assert recording.skipped.lines == 1
    assert recording.skipped.describe() == "skipped 1 unreadable line (in traces.jsonl)"


MALFORMED_SPANS = {
    "no trace id": {"spanId": "ab", "startTimeUnixNano": "1", "endTimeUnixNano": "2"},
    "a start time that is not a number": {
        "traceId": "aa",
        "spanId": "ab",
        "startTimeUnixNano": "soon",
        "endTimeUnixNano": "2",
    },
    "attributes that are not a list": {
        "traceId": "aa",
        "spanId": "ab",
        "startTimeUnixNano": "1",
        "endTimeUnixNano": "2",
        "attributes": {"k": "v"},
    },
    "a span that is a number": 7,
    "a start time before the epoch": {
        "traceId": "aa",
        "spanId": "ab",
        "startTimeUnixNano": "-5000000000",
        "endTimeUnixNano": "2",
    },
    "an end time beyond 64 bits (a 10**22 s span in view)": {
        "traceId": "aa",
        "spanId": "ab",
        "startTimeUnixNano": "1",
        "endTimeUnixNano": str(10**30),
    },
    "an event time beyond 64 bits": {
        "traceId": "aa",
        "spanId": "ab",
        "startTimeUnixNano": "1",
        "endTimeUnixNano": "2",
        "events": [{"name": "e", "timeUnixNano": str(10**30)}],
    },
    "events that are not objects": {
        "traceId": "aa",
        "spanId": "ab",
        "startTimeUnixNano": "1",
        "endTimeUnixNano": "2",
        "events": [3],
    },
}


@pytest.mark.parametrize("bad", MALFORMED_SPANS.values(), ids=MALFORMED_SPANS.keys())
def test_a_malformed_span_is_skipped_alone(tmp_path: Path, bad: object) -> None:
    good = json.loads(GOOD)
    good["resourceSpans"][0]["scopeSpans"][0]["spans"].append(bad)
    write_lines(tmp_path / "traces.jsonl", json.dumps(good))
    recording = read_directory(tmp_path)
    assert [s.span_id for s in recording.spans] == ["s1".ljust(16, "0")]
    assert (recording.skipped.lines, recording.skipped.items) == (0, 1)


def test_malformed_metric_points_and_log_records_are_skipped_alone(tmp_path: Path) -> None:
    line = {
        "resourceMetrics": [
            {
                "resource": {},
                "scopeMetrics": [
                    {
                        "metrics": [
                            {"name": "m", "sum": {"dataPoints": [{"asInt": "1"}, "x"]}},
                            {"name": "h", "histogram": {"dataPoints": [
                                {"timeUnixNano": "5", "count": "2", "bucketCounts": ["1"],
                                 "explicitBounds": [1.0, 2.0]},
                            ]}},
                        ]
                    }
                ],
            }
        ],
        "resourceLogs": [{"resource": {}, "scopeLogs": [{"logRecords": [5, {"body": {}}]}]}],
    }  # fmt: skip
    write_lines(tmp_path / "metrics.jsonl", json.dumps(line))
    recording = read_directory(tmp_path)
    assert len(recording.logs) == 1
    # a point without timeUnixNano, a string, a histogram whose buckets do not fit its bounds
    assert recording.points == []
    assert recording.skipped.items == 4


def test_points_and_records_with_numbers_beyond_64_bits_are_skipped_alone(
    tmp_path: Path,
) -> None:
    # an asInt of 400 digits crashed summary, view and report (OverflowError: int too large
    # to convert to float); timestamps beyond fixed64 or before the epoch are not readable
    huge = "1" + "0" * 400
    line = {
        "resourceMetrics": [
            {
                "resource": {},
                "scopeMetrics": [
                    {
                        "metrics": [
                            {"name": "g", "gauge": {"dataPoints": [
                                {"timeUnixNano": "5", "asInt": huge},
                                {"timeUnixNano": str(1 << 64), "asInt": "1"},
                                {"timeUnixNano": "5", "asInt": "3"},
                            ]}},
                            {"name": "h", "histogram": {"dataPoints": [
                                {"timeUnixNano": "5", "count": huge, "bucketCounts": ["1"],
                                 "explicitBounds": []},
                            ]}},
                        ]
                    }
                ],
            }
        ],
        "resourceLogs": [{"resource": {}, "scopeLogs": [{"logRecords": [
            {"timeUnixNano": "-1", "body": {"stringValue": "before the epoch"}},
            {"timeUnixNano": "7", "body": {"stringValue": "kept"}},
        ]}]}],
    }  # fmt: skip
    write_lines(tmp_path / "metrics.jsonl", json.dumps(line))
    recording = read_directory(tmp_path)
    assert [p.value for p in recording.points] == [3.0]
    assert [r.body for r in recording.logs] == ["kept"]
    assert recording.skipped.items == 4


def test_rotated_files_are_read_oldest_first(tmp_path: Path) -> None:
    for name in ("traces.jsonl", "traces.2.jsonl", "traces.1.jsonl", "metrics.jsonl"):
        (tmp_path / name).write_text("")
    names = [p.name for p in telemetry_files(tmp_path)]
    assert names.index("traces.2.jsonl") < names.index("traces.1.jsonl")
    assert names.index("traces.1.jsonl") < names.index("traces.jsonl")


def _cli(command: str, directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}
    return subprocess.run(
        [sys.executable, "-m", "ragsight.cli", command, str(directory), *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("command", "args"), [("summary", ()), ("view", ()), ("report", ("-o", "r.html"))]
)
def test_every_command_says_how_much_it_skipped(
    tmp_path: Path, command: str, args: tuple[str, ...]
) -> None:
    with (tmp_path / "traces.jsonl").open("wb") as fh:
        fh.write(GOOD.encode() + b"\n")
        for line in UNREADABLE_LINES.values():
            fh.write(line + b"\n")
    result = _cli(command, tmp_path, *args)
    assert result.returncode == 0, result.stderr
    said = result.stdout + result.stderr
    assert f"skipped {len(UNREADABLE_LINES)} unreadable lines (in traces.jsonl)" in said
