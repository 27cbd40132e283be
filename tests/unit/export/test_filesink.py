"""The embedded file sink: OTLP/JSON lines, bounded rotation, crash- and multi-process-safe,
every dropped item counted exactly once (issue 11, item 4)."""

from __future__ import annotations

import json
import logging
import multiprocessing
from collections.abc import Sequence
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from otlp_sink import TRACES, parse_otlp_json

from ragsight._core.limits import LimitError
from ragsight._export.exporters import ExportCall, FileSpanExporter
from ragsight._export.filesink import JsonLinesWriter
from ragsight._export.health import ExportHealth

SMALL = 64 * 1024  # the smallest file_sink.max_bytes


class _Guarded(SpanExporter):
    """The file exporter behind the export guard, as configure() wires it."""

    def __init__(self, writer: JsonLinesWriter, health: ExportHealth) -> None:
        self._inner = FileSpanExporter(writer)
        self._call = ExportCall("traces", str(writer.path), health)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        ok = self._call.run(self._inner.export, spans)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE


def _spans_into(exporter: SpanExporter, count: int, batch: int = 1) -> None:
    spans = _spans(count)
    for start in range(0, count, batch):
        exporter.export(spans[start : start + batch])


def _spans(count: int, name_size: int = 0) -> list[ReadableSpan]:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "fs"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t")
    for i in range(count):
        with tracer.start_as_current_span(f"span-{i}" + "x" * name_size):
            pass
    return list(memory.get_finished_spans())


def _names_in(directory: Path) -> list[str]:
    names = []
    for path in sorted(directory.glob("traces*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                request = parse_otlp_json(line, TRACES)
            except ValueError:
                continue  # a torn line: readers skip it
            names += [
                s.name for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans
            ]
    return names


def test_lines_decode_as_otlp_json_export_requests(tmp_path: Path) -> None:
    writer = JsonLinesWriter(tmp_path, "traces", max_bytes=1 << 20, backups=2)
    _spans_into(FileSpanExporter(writer), 3)
    lines = writer.path.read_text().splitlines()
    assert len(lines) == 3
    for i, line in enumerate(lines):
        request = parse_otlp_json(line, TRACES)
        (span,) = request.resource_spans[0].scope_spans[0].spans
        assert span.name == f"span-{i}"
        assert len(span.trace_id) == 16


def test_rotation_keeps_every_file_within_max_bytes(tmp_path: Path) -> None:
    writer = JsonLinesWriter(tmp_path, "traces", max_bytes=SMALL, backups=2)
    _spans_into(FileSpanExporter(writer), 1000)
    files = sorted(p.name for p in tmp_path.glob("*.jsonl"))
    assert files == ["traces.1.jsonl", "traces.2.jsonl", "traces.jsonl"]
    assert all(p.stat().st_size <= SMALL for p in tmp_path.glob("*.jsonl"))


def test_rotated_files_keep_the_newest_data(tmp_path: Path) -> None:
    writer = JsonLinesWriter(tmp_path, "traces", max_bytes=SMALL, backups=1)
    _spans_into(FileSpanExporter(writer), 600)
    last = parse_otlp_json(writer.path.read_text().splitlines()[-1], TRACES)
    assert last.resource_spans[0].scope_spans[0].spans[0].name == "span-599"


def test_a_torn_tail_does_not_corrupt_the_next_record(tmp_path: Path) -> None:
    writer = JsonLinesWriter(tmp_path, "traces", max_bytes=1 << 20, backups=1)
    _spans_into(FileSpanExporter(writer), 2)
    with writer.path.open("ab") as fh:
        fh.write(b'{"resourceSpans":[{"resou')  # a crash in the middle of a write
    restarted = JsonLinesWriter(tmp_path, "traces", max_bytes=1 << 20, backups=1)
    _spans_into(FileSpanExporter(restarted), 1)
    lines = writer.path.read_text().splitlines()
    readable = []
    for line in lines:
        try:
            readable.append(json.loads(line))
        except ValueError:
            continue
    assert len(lines) == 4
    assert len(readable) == 3  # only the torn line itself is lost
    assert _names_in(tmp_path)[-1] == "span-0"  # the record after the restart


class _FullDiskWriter(JsonLinesWriter):
    @property
    def path(self) -> Path:
        return Path("/dev/full")  # every write fails with ENOSPC


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_counts_each_dropped_span_exactly_once(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    health = ExportHealth()
    writer = _FullDiskWriter(tmp_path, "traces", max_bytes=1 << 20, backups=1)
    with caplog.at_level(logging.WARNING, logger="ragsight.export"):
        _spans_into(_Guarded(writer, health), 3000, batch=512)
    assert health.dropped_counts() == {"traces": 3000}
    warnings = [r for r in caplog.records if r.name == "ragsight.export"]
    assert len(warnings) == 1
    assert "No space left" in warnings[0].getMessage()


def test_a_batch_larger_than_max_bytes_is_split_not_refused(tmp_path: Path) -> None:
    health = ExportHealth()
    writer = JsonLinesWriter(tmp_path, "traces", max_bytes=SMALL, backups=50)
    _spans_into(_Guarded(writer, health), 2048, batch=2048)
    assert health.dropped_counts() == {}
    assert len(_names_in(tmp_path)) == 2048
    assert all(p.stat().st_size <= SMALL for p in tmp_path.glob("*.jsonl"))


def test_a_single_span_larger_than_max_bytes_is_the_only_one_dropped(tmp_path: Path) -> None:
    health = ExportHealth()
    writer = JsonLinesWriter(tmp_path, "traces", max_bytes=SMALL, backups=1)
    spans = _spans(3) + _spans(1, name_size=SMALL)
    _Guarded(writer, health).export(spans)
    assert health.dropped_counts() == {"traces": 1}
    assert len(_names_in(tmp_path)) == 3


@pytest.mark.parametrize(
    ("max_bytes", "backups"), [(1024, 1), (SMALL - 1, 1), (SMALL, 0), (SMALL, 10**9)]
)
def test_the_writer_refuses_what_the_configuration_refuses(
    max_bytes: int, backups: int, tmp_path: Path
) -> None:
    with pytest.raises(LimitError):
        JsonLinesWriter(tmp_path, "traces", max_bytes=max_bytes, backups=backups)


def _write_from_process(directory: str, worker: int, spans: int) -> None:
    writer = JsonLinesWriter(directory, "traces", max_bytes=SMALL, backups=100)
    exporter = FileSpanExporter(writer)
    for start in range(0, spans, 16):
        exporter.export(_spans(16, name_size=0)[: min(16, spans - start)])


def test_several_processes_on_one_directory_lose_nothing(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers, spans = 4, 800
    processes = [
        context.Process(target=_write_from_process, args=(str(tmp_path), w, spans))
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert all(p.exitcode == 0 for p in processes)
    assert len(_names_in(tmp_path)) == workers * spans
    assert all(p.stat().st_size <= SMALL for p in tmp_path.glob("*.jsonl"))
