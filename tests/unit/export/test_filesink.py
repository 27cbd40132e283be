"""The embedded file sink: OTLP/JSON lines, bounded rotation, a full disk never raises."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from otlp_sink import TRACES, parse_otlp_json

from ragsight._export.exporters import FileSpanExporter
from ragsight._export.filesink import JsonLinesWriter
from ragsight._export.health import ExportHealth


def _spans_into(writer: JsonLinesWriter, count: int) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "fs"}))
    provider.add_span_processor(SimpleSpanProcessor(FileSpanExporter(writer)))
    tracer = provider.get_tracer("t")
    for i in range(count):
        with tracer.start_as_current_span(f"span-{i}"):
            pass
    provider.shutdown()


def test_lines_decode_as_otlp_json_export_requests(tmp_path: Path) -> None:
    writer = JsonLinesWriter(tmp_path, "traces", max_bytes=1 << 20, backups=2)
    _spans_into(writer, 3)
    lines = writer.path.read_text().splitlines()
    assert len(lines) == 3
    for i, line in enumerate(lines):
        request = parse_otlp_json(line, TRACES)
        (span,) = request.resource_spans[0].scope_spans[0].spans
        assert span.name == f"span-{i}"
        assert len(span.trace_id) == 16


def test_rotation_keeps_disk_use_bounded(tmp_path: Path) -> None:
    writer = JsonLinesWriter(tmp_path, "traces", max_bytes=4096, backups=2)
    _spans_into(writer, 200)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["traces.1.jsonl", "traces.2.jsonl", "traces.jsonl"]
    assert all(p.stat().st_size <= 4096 for p in tmp_path.iterdir())


def test_rotated_files_keep_the_newest_data(tmp_path: Path) -> None:
    writer = JsonLinesWriter(tmp_path, "traces", max_bytes=4096, backups=1)
    _spans_into(writer, 100)
    last = parse_otlp_json(writer.path.read_text().splitlines()[-1], TRACES)
    assert last.resource_spans[0].scope_spans[0].spans[0].name == "span-99"


class _FullDiskWriter(JsonLinesWriter):
    @property
    def path(self) -> Path:
        return Path("/dev/full")  # every write fails with ENOSPC


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_full_disk_counts_drops_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    health = ExportHealth()
    writer = _FullDiskWriter("/dev", "traces", max_bytes=1 << 20, backups=1, health=health)
    with caplog.at_level(logging.WARNING, logger="ragsight.export"):
        _spans_into(writer, 5)  # SimpleSpanProcessor: five failing writes, nothing raised
    assert health.dropped_counts() == {"traces": 5}
    warnings = [r for r in caplog.records if r.name == "ragsight.export"]
    assert len(warnings) == 1
    assert "No space left" in warnings[0].getMessage()


def test_request_larger_than_the_file_bound_is_dropped_not_written(tmp_path: Path) -> None:
    health = ExportHealth()
    writer = JsonLinesWriter(tmp_path, "logs", max_bytes=1024, backups=1, health=health)
    assert writer.write("x" * 2000, items=7) is False
    assert health.dropped_counts() == {"logs": 7}
    assert not writer.path.exists()
