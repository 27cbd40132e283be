"""summary reads cumulative metric points correctly: latest per series, summed across series."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragsight import names
from ragsight._export.summary import Histogram, summarize

BOUNDS = [0.1, 1.0]


def _request(service: str, start: int, time: int, count: int, errors: int = 0) -> str:
    def point(error: bool, n: int) -> dict[str, object]:
        attributes = [
            {"key": names.RAG_STAGE, "value": {"stringValue": "retrieval"}},
            {"key": names.RAG_OPERATION_NAME, "value": {"stringValue": "search"}},
        ]
        if error:
            attributes.append({"key": names.ERROR_TYPE, "value": {"stringValue": "Timeout"}})
        return {
            "attributes": attributes,
            "startTimeUnixNano": str(start),
            "timeUnixNano": str(time),
            "count": str(n),
            "sum": 0.05 * n,
            "bucketCounts": [str(n), "0", "0"],
            "explicitBounds": BOUNDS,
        }

    points = [point(False, count - errors)] + ([point(True, errors)] if errors else [])
    return json.dumps(
        {
            "resourceMetrics": [
                {
                    "resource": {
                        "attributes": [{"key": "service.name", "value": {"stringValue": service}}]
                    },
                    "scopeMetrics": [
                        {
                            "metrics": [
                                {
                                    "name": names.RAG_OPERATION_DURATION.name,
                                    "histogram": {
                                        "dataPoints": points,
                                        "aggregationTemporality": 2,
                                    },
                                }
                            ]
                        }
                    ],
                }
            ]
        }
    )


def test_repeated_cumulative_exports_count_once(tmp_path: Path) -> None:
    lines = [_request("a", 1, t, count=t * 10) for t in (1, 2, 3)]
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    (row,) = summarize(tmp_path).stages.values()
    assert row.calls.count == 30


def test_two_processes_and_rotated_files_add_up(tmp_path: Path) -> None:
    (tmp_path / "metrics.1.jsonl").write_text(_request("a", 1, 5, count=4, errors=1) + "\n")
    (tmp_path / "metrics.jsonl").write_text(
        _request("a", 1, 9, count=6, errors=2) + "\n" + _request("b", 7, 8, count=10) + "\n"
    )
    (row,) = summarize(tmp_path).stages.values()
    assert row.calls.count == 16
    assert row.errors == 2
    assert row.error_rate == pytest.approx(2 / 16)


def test_a_truncated_last_line_is_skipped(tmp_path: Path) -> None:
    good = _request("a", 1, 2, count=3)
    (tmp_path / "metrics.jsonl").write_text(good + "\n" + good[: len(good) // 2])
    (row,) = summarize(tmp_path).stages.values()
    assert row.calls.count == 3


def test_quantiles_interpolate_within_buckets() -> None:
    hist = Histogram()
    hist.add({"count": "4", "sum": 1.0, "bucketCounts": ["2", "2", "0"], "explicitBounds": BOUNDS})
    assert hist.quantile(0.5) == pytest.approx(0.1)
    assert hist.quantile(0.75) == pytest.approx(0.55)
    assert hist.mean == pytest.approx(0.25)
