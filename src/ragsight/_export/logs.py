"""Logs correlated with traces, optionally as JSON, exported over OTLP, content redacted.

- Correlation: a LogRecord factory adds ``trace_id`` and ``span_id`` (hex, empty outside a
  span) to every stdlib record, so any formatter can print them and JSON lines carry them.
- Format: ``logs.format`` none (default) leaves the application's handlers alone; text or
  json installs one stderr handler on the root logger at ``logs.level``.
- Export: an OpenTelemetry LoggingHandler on the root logger sends records to the
  configured LoggerProvider (OTLP or the file sink); the SDK attaches the current span.
- Privacy: the message of every record ragsight prints or exports is redacted and
  truncated with the same ContentPolicy as span content (core's ``redact_text``), so a
  query logged inside a stage is treated like a captured query. The application's own
  handlers receive the record untouched.
"""

from __future__ import annotations

import copy
import json
import logging
import sys
import time
from typing import Any

from opentelemetry import trace

from ragsight import names
from ragsight._core.content import REDACTED, TRUNCATED_MARK, is_secret_name, redact_text
from ragsight._core.policy import get_content_policy

_EMPTY_TRACE = ""
_installed_factory: Any = None
_previous_factory: Any = None
_handlers: list[logging.Handler] = []
_fallback: list[logging.Handler] = []  # on the "ragsight" logger only
_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def _correlating_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record: logging.LogRecord = _previous_factory(*args, **kwargs)
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        record.trace_id = format(ctx.trace_id, "032x")
        record.span_id = format(ctx.span_id, "016x")
        record.trace_flags = int(ctx.trace_flags)
    else:
        record.trace_id = _EMPTY_TRACE
        record.span_id = _EMPTY_TRACE
    return record


def enable_correlation(on: bool) -> None:
    """Install (or remove) the record factory; idempotent, and chains any existing factory."""
    global _installed_factory, _previous_factory
    current = logging.getLogRecordFactory()
    if on and _installed_factory is None:
        _previous_factory = current
        _installed_factory = _correlating_factory
        logging.setLogRecordFactory(_correlating_factory)
    elif not on and _installed_factory is not None:
        if current is _installed_factory:
            logging.setLogRecordFactory(_previous_factory)
        _installed_factory = None


def safe_message(record: logging.LogRecord) -> str:
    """The record's message, redacted and truncated by the current content policy."""
    policy = get_content_policy()
    try:
        text = record.getMessage()
    except Exception:
        text = str(record.msg)
    text = redact_text(text, policy)
    if len(text) > policy.max_length:
        text = text[: policy.max_length] + TRUNCATED_MARK
    return text


_TRACEBACKS = logging.Formatter()


def _redacted_copy(record: logging.LogRecord) -> logging.LogRecord:
    """A copy safe to print: message, traceback, stack and extra fields redacted.

    The traceback is rendered here (formatters reuse ``exc_text``): it ends with the
    exception's message, which carries whatever the failing call put there.
    """
    policy = get_content_policy()
    clone = copy.copy(record)
    clone.msg = safe_message(record)
    clone.args = None
    if record.exc_info and record.exc_info[0] is not None:
        clone.exc_text = redact_text(_TRACEBACKS.formatException(record.exc_info), policy)
    elif record.exc_text:
        clone.exc_text = redact_text(record.exc_text, policy)
    if record.stack_info:
        clone.stack_info = redact_text(record.stack_info, policy)
    for key, value in vars(record).items():
        if key in _STANDARD:
            continue
        if is_secret_name(key, policy.secret_argument_names):
            setattr(clone, key, REDACTED)
        elif isinstance(value, str):
            setattr(clone, key, redact_text(value, policy))
    return clone


class JsonFormatter(logging.Formatter):
    """One JSON object per line with trace correlation and the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "trace_id": getattr(record, "trace_id", "") or None,
            "span_id": getattr(record, "span_id", "") or None,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in payload and key != "trace_flags":
                payload[key] = value if isinstance(value, (str, int, float, bool)) else repr(value)
        if record.exc_text:  # already rendered (and redacted) by the handler
            payload["exception"] = record.exc_text
        elif record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


TEXT_FORMAT = (
    "%(asctime)s %(levelname)s %(name)s [trace_id=%(trace_id)s span_id=%(span_id)s] %(message)s"
)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "trace_id"):
            record.trace_id = record.span_id = _EMPTY_TRACE
        return super().format(record)


class RedactingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    def emit(self, record: logging.LogRecord) -> None:
        super().emit(_redacted_copy(record))


_SEVERITY = {
    logging.DEBUG: 5,  # SeverityNumber.DEBUG
    logging.INFO: 9,  # INFO
    logging.WARNING: 13,  # WARN
    logging.ERROR: 17,  # ERROR
    logging.CRITICAL: 21,  # FATAL
}


_EVENT_NAME = "event.name"
_CORRELATION = frozenset({"trace_id", "span_id", "trace_flags"})  # the SDK sends the span


def _extra_attributes(record: logging.LogRecord) -> dict[str, Any]:
    """The record's ``extra`` fields as log-record attributes (``event.name`` included),
    redacted like the message: strings, numbers and booleans as they are, others as text."""
    policy = get_content_policy()
    out: dict[str, Any] = {}
    for key, value in vars(record).items():
        if key in _STANDARD or key in _CORRELATION or value is None:
            continue
        if is_secret_name(key, policy.secret_argument_names):
            out[key] = REDACTED
        elif isinstance(value, str):
            out[key] = redact_text(value, policy)
        elif isinstance(value, (bool, int, float)):
            out[key] = value
        else:
            out[key] = redact_text(repr(value), policy)
    return out


class OtelLogHandler(logging.Handler):
    """Sends redacted copies of stdlib records to a LoggerProvider.

    Ours rather than the SDK's (deprecated) LoggingHandler: it redacts, skips the
    exporters' own records (which would otherwise loop while a collector is down), and
    never raises into the caller.
    """

    def __init__(self, logger_provider: Any, level: int) -> None:
        super().__init__(level)
        self._provider = logger_provider

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("opentelemetry", "ragsight.export")):
            return
        try:
            from opentelemetry._logs import SeverityNumber

            attributes: dict[str, Any] = {
                names.CODE_FILE_PATH: record.pathname,
                names.CODE_FUNCTION_NAME: record.funcName,
                names.CODE_LINE_NUMBER: record.lineno,
            }
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                attributes[names.EXCEPTION_TYPE] = type(exc).__qualname__
                attributes[names.EXCEPTION_MESSAGE] = redact_text(str(exc), get_content_policy())
            attributes.update(_extra_attributes(record))
            event_name = attributes.get(_EVENT_NAME)
            level = max((lv for lv in _SEVERITY if lv <= record.levelno), default=logging.DEBUG)
            self._provider.get_logger(record.name).emit(
                timestamp=int(record.created * 1e9),
                severity_number=SeverityNumber(_SEVERITY[level]),
                severity_text=record.levelname,
                body=safe_message(record),
                attributes=attributes,
                event_name=event_name if isinstance(event_name, str) else None,
            )
        except Exception as exc:
            from ragsight._core.safety import report_internal_error

            report_internal_error("logs.export", exc)


def _otel_handler(logger_provider: Any, level: int) -> logging.Handler:
    return OtelLogHandler(logger_provider, level)


def apply_logging(settings: Any, logger_provider: Any) -> None:
    """Make logging match ``settings.logs``; safe to call again with other settings."""
    root = logging.getLogger()
    ours = logging.getLogger("ragsight")
    for handler in _handlers:
        root.removeHandler(handler)
    _handlers.clear()
    for handler in _fallback:
        ours.removeHandler(handler)
    _fallback.clear()
    app_handlers = bool(root.handlers)
    enable_correlation(settings.logs.correlation)
    level = logging.getLevelName(settings.logs.level.upper())
    if settings.logs.format != "none":
        handler = RedactingStreamHandler(sys.stderr)
        handler.setFormatter(
            JsonFormatter() if settings.logs.format == "json" else _TextFormatter(TEXT_FORMAT)
        )
        handler.setLevel(level)
        root.addHandler(handler)
        _handlers.append(handler)
        if root.level > level or root.level == logging.NOTSET:
            root.setLevel(level)
    if logger_provider is not None and settings.logs.export:
        otel = _otel_handler(logger_provider, level)
        root.addHandler(otel)
        _handlers.append(otel)
        if not app_handlers and settings.logs.format == "none":
            # With a handler on the root, logging's last-resort stderr output stops; keep
            # ragsight's own warnings (export failing, provider conflicts) visible anyway.
            fallback = logging.StreamHandler(sys.stderr)
            fallback.setLevel(logging.WARNING)
            ours.addHandler(fallback)
            _fallback.append(fallback)
