"""stdlib logging: trace correlation, JSON lines, OTLP export, redaction like span content."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider

from ragsight._config.validation import load_settings
from ragsight._core.policy import ContentPolicy, get_content_policy, set_content_policy
from ragsight._export import logs as _logging

EMAIL = "jane.doe@example.com"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    factory = logging.getLogRecordFactory()
    policy = get_content_policy()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    _logging.enable_correlation(False)
    logging.setLogRecordFactory(factory)
    set_content_policy(policy)
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in _logging._fallback:
        logging.getLogger("ragsight").removeHandler(handler)
    _logging._fallback.clear()
    root.setLevel(level)


def _record(logger: logging.Logger, msg: str, *args: object) -> logging.LogRecord:
    captured: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(record)

    handler = Keep()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info(msg, *args)
    finally:
        logger.removeHandler(handler)
    return captured[0]


def test_records_inside_a_span_carry_its_trace_and_span_id() -> None:
    _logging.enable_correlation(True)
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("stage") as span:
        record = _record(logging.getLogger("app"), "inside")
    ctx = span.get_span_context()
    assert record.trace_id == format(ctx.trace_id, "032x")  # type: ignore[attr-defined]
    assert record.span_id == format(ctx.span_id, "016x")  # type: ignore[attr-defined]


def test_records_outside_a_span_have_empty_ids() -> None:
    _logging.enable_correlation(True)
    record = _record(logging.getLogger("app"), "outside")
    assert record.trace_id == ""  # type: ignore[attr-defined]


def test_correlation_chains_an_existing_record_factory() -> None:
    previous = logging.getLogRecordFactory()

    def tagging(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.tag = "app"
        return record

    logging.setLogRecordFactory(tagging)
    _logging.enable_correlation(True)
    record = _record(logging.getLogger("app"), "x")
    assert record.tag == "app"  # type: ignore[attr-defined]
    assert hasattr(record, "trace_id")


def test_json_format_writes_one_object_per_line_with_trace_ids(tmp_path: object) -> None:
    settings = load_settings(environ={}, cwd=str(tmp_path), logs_format="json")
    _logging.apply_logging(settings, None)
    handler = next(h for h in logging.getLogger().handlers if h in _logging._handlers)
    stream = io.StringIO()
    handler.setStream(stream)  # type: ignore[attr-defined]
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("stage") as span:
        logging.getLogger("app.json").warning("hello %s", "world", extra={"doc_count": 3})
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["message"] == "hello world"
    assert line["level"] == "WARNING"
    assert line["doc_count"] == 3
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")


def test_apply_logging_twice_installs_one_handler(tmp_path: object) -> None:
    settings = load_settings(environ={}, cwd=str(tmp_path), logs_format="text")
    _logging.apply_logging(settings, None)
    _logging.apply_logging(settings, None)
    ours = [h for h in logging.getLogger().handlers if h in _logging._handlers]
    assert len(ours) == 1


def test_exported_log_body_is_redacted_and_truncated_like_span_content() -> None:
    set_content_policy(ContentPolicy(max_length=40))
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    handler = _logging.OtelLogHandler(provider, logging.INFO)
    logger = logging.getLogger("app.export")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    kept: list[str] = []

    class AppHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record.getMessage())

    logger.addHandler(AppHandler())
    query = f"why was {EMAIL} charged twice for the premium plan last month?"
    logger.info("query %r", query)
    (record,) = exporter.get_finished_logs()
    body = str(record.log_record.body)
    assert EMAIL not in body
    assert "[REDACTED]" in body
    assert body.endswith("...[truncated]")
    assert len(body) == 40 + len("...[truncated]")
    assert EMAIL in kept[0], "the application's own handlers get the record untouched"


def test_exporters_own_records_are_never_exported() -> None:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    handler = _logging.OtelLogHandler(provider, logging.INFO)
    record = logging.makeLogRecord(
        {"name": "opentelemetry.exporter.otlp.proto.grpc.exporter", "msg": "failed"}
    )
    handler.handle(record)
    assert exporter.get_finished_logs() == ()


def _stream_output(tmp_path: object, fmt: str, emit: object) -> str:
    settings = load_settings(environ={}, cwd=str(tmp_path), logs_format=fmt)
    _logging.apply_logging(settings, None)
    handler = next(h for h in logging.getLogger().handlers if h in _logging._handlers)
    stream = io.StringIO()
    handler.setStream(stream)  # type: ignore[attr-defined]
    emit()  # type: ignore[operator]
    return stream.getvalue()


def _log_failure() -> None:
    try:
        raise ValueError(f"upstream rejected key sk-abcdefghijklmnopqrstuv for {EMAIL}")
    except ValueError:
        logging.getLogger("app.fail").exception("call failed")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_printed_tracebacks_are_redacted(tmp_path: object, fmt: str) -> None:
    out = _stream_output(tmp_path, fmt, _log_failure)
    assert "ValueError" in out
    assert "sk-abcdefghijklmnopqrstuv" not in out
    assert EMAIL not in out


def test_json_extra_fields_are_redacted_and_secret_named_ones_masked(tmp_path: object) -> None:
    def emit() -> None:
        logging.getLogger("app.extra").warning(
            "lookup", extra={"user": EMAIL, "apiKey": "opaque-credential", "doc_count": 3}
        )

    line = json.loads(_stream_output(tmp_path, "json", emit).strip().splitlines()[-1])
    assert EMAIL not in json.dumps(line)
    assert "opaque-credential" not in json.dumps(line)
    assert line["doc_count"] == 3
