"""Every configuration key: its parser, environment variables and allowed values.

One table drives file flattening, environment reading, configure() keywords, validation
messages and ``ragsight config show``, so a new key is one line here plus a field on the
settings model. Environment names are listed in priority order (the first one set wins).
Durations are seconds everywhere in ragsight; OpenTelemetry's millisecond variables are
scaled on the way in.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from ragsight import names
from ragsight._config.export_limits import EXPORT_LIMITS
from ragsight._config.settings import Key, Parser, Secret
from ragsight._core.limits import Limit, LimitError
from ragsight._core.policy import BREAKER_LIMITS, RETRY_LIMITS, BreakerConfig, RetryConfig


class Invalid(ValueError):
    """Raised by a parser; the message says what is wrong, the Key says what is allowed."""


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _bool(raw: Any, from_env: bool) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise Invalid("not a boolean")


def _capture(raw: Any, from_env: bool) -> bool:
    """Also accepts the GenAI semconv capture modes (SPAN_ONLY, NO_CONTENT, ...)."""
    if isinstance(raw, str):
        mode = raw.strip().lower()
        if mode in {"span_only", "event_only", "span_and_event"}:
            return True
        if mode == "no_content":
            return False
    return _bool(raw, from_env)


_CAPTURE_TO = {
    "span": "span",
    "event": "event",
    "span_and_event": "span_and_event",
    # the GenAI capture modes name the destination too; on/off modes keep the default
    "span_only": "span",
    "event_only": "event",
    "no_content": "span",
    "true": "span",
    "false": "span",
}


def _capture_to(raw: Any, from_env: bool) -> str:
    if not isinstance(raw, str) or raw.strip().lower() not in _CAPTURE_TO:
        raise Invalid("not one of the allowed values")
    return _CAPTURE_TO[raw.strip().lower()]


def _number(
    kind: type,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_min: bool = False,
) -> Parser:
    def parse(raw: Any, from_env: bool) -> Any:
        if isinstance(raw, bool):
            raise Invalid(f"not {'an integer' if kind is int else 'a number'}")
        value: Any
        if isinstance(raw, str):
            try:
                value = kind(raw.strip())
            except ValueError:
                raise Invalid(f"not {'an integer' if kind is int else 'a number'}") from None
        elif kind is float and isinstance(raw, (int, float)):
            value = float(raw)
        elif kind is int and isinstance(raw, int):
            value = raw
        else:
            raise Invalid(f"not {'an integer' if kind is int else 'a number'}")
        if kind is float and value != value:  # NaN
            raise Invalid("NaN")
        if minimum is not None and (value < minimum or (exclusive_min and value == minimum)):
            raise Invalid("out of range")
        if maximum is not None and value > maximum:
            raise Invalid("out of range")
        return value

    return parse


def limited(limit: Limit) -> Parser:
    """The parser of a key whose allowed values are ``limit`` (the component's own): text
    from the environment or a file becomes a number first, then ``limit.check`` decides."""
    noun = "an integer" if limit.type is int else "a number"

    def parse(raw: Any, from_env: bool) -> Any:
        value = raw
        if isinstance(raw, str) and limit.type is not str:
            try:
                value = int(raw.strip()) if limit.type is int else float(raw.strip())
            except ValueError:
                raise Invalid(f"not {noun}") from None
        if limit.type is not str and (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (limit.type is int and isinstance(value, float) and not value.is_integer())
        ):
            raise Invalid(f"not {noun}")
        try:
            return limit.check(value)
        except LimitError:
            raise Invalid(
                "out of range" if limit.type is not str else "not one of the allowed values"
            ) from None

    return parse


def _numeric(limit: Limit) -> Parser:
    """Text or a number of the limit's type; the range is checked after any unit scaling
    (validation applies ``Key.limit``), so milliseconds are judged as seconds."""
    noun = "an integer" if limit.type is int else "a number"

    def parse(raw: Any, from_env: bool) -> Any:
        value = raw
        if isinstance(raw, str):
            try:
                value = int(raw.strip()) if limit.type is int else float(raw.strip())
            except ValueError:
                raise Invalid(f"not {noun}") from None
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (limit.type is int and isinstance(value, float) and not value.is_integer())
        ):
            raise Invalid(f"not {noun}")
        return int(value) if limit.type is int else float(value)

    return parse


def _export(name: str, *env: str, own: bool = False, **kw: Any) -> Key:
    """A numeric export key: parsed as a number, checked with its EXPORT_LIMITS entry."""
    limit = EXPORT_LIMITS[name]
    envs = (_ragsight_env(name), *env) if own else env
    scaled = " (the env variable is milliseconds)" if kw.get("env_scale") else ""
    return Key(name, _numeric(limit), limit.describe() + scaled, envs, limit=limit, **kw)


def _limited_section(limits: Mapping[str, Limit]) -> dict[str, tuple[Parser, str]]:
    return {name: (limited(limit), limit.describe()) for name, limit in limits.items()}


def _str(raw: Any, from_env: bool) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid("not a non-empty string")
    return raw.strip()


def _choice(*options: str) -> Parser:
    def parse(raw: Any, from_env: bool) -> str:
        if not isinstance(raw, str) or raw.strip().lower() not in options:
            raise Invalid("not one of the allowed values")
        return raw.strip().lower()

    return parse


def _url(raw: Any, from_env: bool) -> str:
    value = _str(raw, from_env)
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise Invalid("not an http(s) URL with a host")
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        raise Invalid("invalid port") from None
    return value


def _pairs(raw: Any, from_env: bool) -> dict[str, str]:
    """``k=v,k2=v2`` (OTel env format, values percent-decoded) or a mapping from a file."""
    if isinstance(raw, dict):
        out: dict[str, str] = {}
        for k, v in raw.items():
            if not isinstance(v, (str, int, float)) or isinstance(v, bool):
                raise Invalid(f"value of {k!r} is not a string")
            out[str(k)] = str(v)
        return out
    if not isinstance(raw, str):
        raise Invalid("not a key=value list")
    result: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise Invalid(f"entry {len(result) + 1} is not key=value")
        result[unquote(key.strip())] = unquote(value.strip())
    return result


# control characters (tab aside) in a header: HTTP and gRPC both refuse to send it, so
# every export would fail (http.client raises before sending, gRPC fails the call)
_HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _headers(raw: Any, from_env: bool) -> dict[str, Secret]:
    pairs = _pairs(raw, from_env)
    for name, value in pairs.items():
        if _HEADER_CONTROL.search(name) or _HEADER_CONTROL.search(value):
            shown = name if not _HEADER_CONTROL.search(name) else repr(name)
            raise Invalid(
                f"header {shown!s} holds a control character (a line break, NUL...) in its "
                f"name or value, which neither HTTP nor gRPC can send (every export would "
                f"fail); remove it"
            )
    return {k.lower(): Secret(v) for k, v in pairs.items()}


def _string_list(raw: Any, from_env: bool) -> tuple[str, ...]:
    """A list from a file; from the environment a comma-separated list."""
    if isinstance(raw, str):
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    if isinstance(raw, (list, tuple)) and all(isinstance(x, str) for x in raw):
        return tuple(raw)
    raise Invalid("not a list of strings")


def _patterns(raw: Any, from_env: bool) -> tuple[str, ...]:
    """From the environment a JSON array, or one regex (regexes may contain commas)."""
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("["):
            import json

            try:
                raw = json.loads(text)
            except ValueError:
                raise Invalid("starts with '[' but is not a JSON array") from None
        else:
            raw = [text] if text else []
    if not isinstance(raw, (list, tuple)) or not all(isinstance(x, str) for x in raw):
        raise Invalid("not a list of regular expressions")
    for i, pattern in enumerate(raw):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise Invalid(f"pattern {i + 1} does not compile: {exc}") from None
    return tuple(raw)


SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
PROTOCOLS = ("grpc", "http/protobuf")
COMPRESSIONS = ("none", "gzip", "deflate")
EXPORTERS = ("auto", "otlp", "file", "none")
LOG_FORMATS = ("none", "text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

_RATIO = "a number from 0 to 1"


def _k(name: str, parse: Parser, allowed: str, *env: str, **kw: Any) -> Key:
    return Key(name, parse, allowed, env, **kw)


def _ragsight_env(name: str) -> str:
    return "RAGSIGHT_" + name.replace(".", "_").upper()


def _own(name: str, parse: Parser, allowed: str, *extra_env: str, **kw: Any) -> Key:
    """A ragsight key: RAGSIGHT_<KEY> first, then any OpenTelemetry alias."""
    return Key(name, parse, allowed, (_ragsight_env(name), *extra_env), **kw)


_ratio = _number(float, minimum=0.0, maximum=1.0)
_content_length = _number(int, minimum=1, maximum=1 << 20)

_BREAKER_PARSERS = _limited_section(BREAKER_LIMITS)
_RETRY_PARSERS = _limited_section(RETRY_LIMITS)


def _section(prefix: str, cls: type, parsers: dict[str, tuple[Parser, str]]) -> list[Key]:
    fields = [f.name for f in dataclasses.fields(cls)]
    missing = set(fields) ^ set(parsers)
    if missing:  # keeps this table honest when _policy gains a field
        raise RuntimeError(f"config keys out of sync with {cls.__name__}: {sorted(missing)}")
    return [_own(f"{prefix}.{f}", *parsers[f]) for f in fields]


_SIGNALS = ("traces", "metrics", "logs")


def _per_signal_otlp_keys(signal: str) -> list[Key]:
    """``otlp.<signal>_{protocol,headers,compression,timeout}``: when set, they win over the
    generic key for that signal only (OTEL_EXPORTER_OTLP_<SIGNAL>_* in the environment)."""
    env = f"OTEL_EXPORTER_OTLP_{signal.upper()}_"
    return [
        _k(
            f"otlp.{signal}_protocol",
            _choice(*PROTOCOLS),
            f"one of grpc, http/protobuf (default: otlp.protocol) for {signal}",
            env + "PROTOCOL",
        ),
        _k(
            f"otlp.{signal}_headers",
            _headers,
            f"key=value pairs separated by commas, or a table (replaces otlp.headers for {signal})",
            env + "HEADERS",
            secret=True,
        ),
        _k(
            f"otlp.{signal}_compression",
            _choice(*COMPRESSIONS),
            f"one of none, gzip, deflate (default: otlp.compression) for {signal}",
            env + "COMPRESSION",
        ),
        _export(f"otlp.{signal}_timeout", env + "TIMEOUT", env_scale=0.001),
    ]


KEYS: tuple[Key, ...] = (
    _k("service_name", _str, "a non-empty string", "OTEL_SERVICE_NAME"),
    _own("service_version", _str, "a non-empty string"),
    _own("environment", _str, "a non-empty string (deployment.environment.name)"),
    _k(
        "resource_attributes",
        _pairs,
        "key=value pairs separated by commas, or a table",
        "OTEL_RESOURCE_ATTRIBUTES",
    ),
    _k("disabled", _bool, "true or false", "OTEL_SDK_DISABLED"),
    _k(
        "otel_config_file",
        _str,
        "an OpenTelemetry declarative configuration file (.yaml, .yml or .json); when set, "
        "the providers are built from it (extra ragsight[otelconfig])",
        "OTEL_CONFIG_FILE",
    ),
    _own(
        "exporter",
        _choice(*EXPORTERS),
        "one of auto (OTLP if an endpoint is set, else files), otlp, file, none",
    ),
    _k("sampler", _choice(*SAMPLERS), "one of " + ", ".join(SAMPLERS), "OTEL_TRACES_SAMPLER"),
    _k("sampler_arg", _ratio, _RATIO, "OTEL_TRACES_SAMPLER_ARG"),
    _export("shutdown_timeout", own=True),
    _own(
        "semconv",
        _choice(*names.SEMCONV_MODES),
        "one of " + ", ".join(names.SEMCONV_MODES) + " (GenAI conventions generation)",
    ),
    _k("otlp.endpoint", _url, "an http(s) URL", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    _k("otlp.traces_endpoint", _url, "an http(s) URL", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
    _k("otlp.metrics_endpoint", _url, "an http(s) URL", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"),
    _k("otlp.logs_endpoint", _url, "an http(s) URL", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"),
    _k(
        "otlp.protocol",
        _choice(*PROTOCOLS),
        "one of grpc, http/protobuf",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ),
    _k(
        "otlp.headers",
        _headers,
        "key=value pairs separated by commas, or a table",
        "OTEL_EXPORTER_OTLP_HEADERS",
        secret=True,
    ),
    _k(
        "otlp.compression",
        _choice(*COMPRESSIONS),
        "one of none, gzip, deflate",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
    ),
    _export("otlp.timeout", "OTEL_EXPORTER_OTLP_TIMEOUT", env_scale=0.001),
    _k("otlp.insecure", _bool, "true or false", "OTEL_EXPORTER_OTLP_INSECURE"),
    *(key for signal in _SIGNALS for key in _per_signal_otlp_keys(signal)),
    _export("batch.max_queue_size", "OTEL_BSP_MAX_QUEUE_SIZE"),
    _export("batch.max_export_batch_size", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
    _export("batch.schedule_delay", "OTEL_BSP_SCHEDULE_DELAY", env_scale=0.001),
    _export("batch.metric_export_interval", "OTEL_METRIC_EXPORT_INTERVAL", env_scale=0.001),
    _own(
        "content.capture",
        _capture,
        "true or false (or a GenAI capture mode)",
        names.CAPTURE_CONTENT_ENV,
    ),
    _own(
        "content.capture_to",
        _capture_to,
        "one of span, event, span_and_event",
        names.CAPTURE_CONTENT_ENV,
    ),
    _own("content.max_length", _content_length, "an integer >= 1 and <= 1048576"),
    _own(
        "content.redact_patterns",
        _patterns,
        "a list of regular expressions (env: a JSON array, or one regex)",
    ),
    _own("content.secret_argument_names", _string_list, "a list of names (env: comma-separated)"),
    _own("logs.format", _choice(*LOG_FORMATS), "one of none, text, json"),
    _own("logs.level", _choice(*LOG_LEVELS), "one of " + ", ".join(LOG_LEVELS)),
    _own("logs.correlation", _bool, "true or false"),
    _own("logs.export", _bool, "true or false"),
    _own(
        "events.span_events",
        _choice(*names.SPAN_EVENTS_MODES),
        "one of " + ", ".join(names.SPAN_EVENTS_MODES),
    ),
    _own("file_sink.directory", _str, "a directory path"),
    _export("file_sink.max_bytes", own=True),
    _export("file_sink.backups", own=True),
    _own("spool.enabled", _bool, "true or false (OTLP export only)"),
    _own("spool.directory", _str, "a directory path (default: the per-user cache)"),
    _export("spool.max_bytes", own=True),
    _export("spool.max_age", own=True),
    *_section("breaker", BreakerConfig, _BREAKER_PARSERS),
    *_section("retry", RetryConfig, _RETRY_PARSERS),
)

BY_NAME: dict[str, Key] = {k.name: k for k in KEYS}
BY_ARGUMENT: dict[str, Key] = {k.argument: k for k in KEYS}
MAPPING_KEYS = frozenset(
    {"otlp.headers", "resource_attributes", *(f"otlp.{s}_headers" for s in _SIGNALS)}
)
# Path-valued keys: a relative path written in a settings file is relative to that file's
# directory (the file moves with what it names); from the environment or configure() it is
# relative to the working directory, as any path given to a process is.
PATH_KEYS = frozenset({"otel_config_file", "file_sink.directory", "spool.directory"})
CONFIG_ENV = "RAGSIGHT_CONFIG"
ENV_NAMES: frozenset[str] = frozenset(e for k in KEYS for e in k.env) | {CONFIG_ENV}
# OTLP exporter variables of the specification that ragsight does not read (TLS files,
# metric temporality...): legitimate, so never taken for misspellings of the ones it reads.
OTLP_ENV_PREFIX = "OTEL_EXPORTER_OTLP_"
OTLP_SPEC_ONLY_ENV: frozenset[str] = frozenset(
    f"{OTLP_ENV_PREFIX}{signal}{name}"
    for signal in ("", "TRACES_", "METRICS_", "LOGS_")
    for name in ("CERTIFICATE", "CLIENT_KEY", "CLIENT_CERTIFICATE", "INSECURE")
) | {
    f"{OTLP_ENV_PREFIX}METRICS_TEMPORALITY_PREFERENCE",
    f"{OTLP_ENV_PREFIX}METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
}
# RAGSIGHT_* variables read by other ragsight tools (the bundled stack, the CLI, tests), not
# by configure(); they are not reported as unknown.
FOREIGN_ENV_PREFIXES = (
    "RAGSIGHT_OTELCOL_",
    "RAGSIGHT_STACK_",
    "RAGSIGHT_GRAFANA_",
    "RAGSIGHT_PROMETHEUS_",
    "RAGSIGHT_ALERTMANAGER_",
    "RAGSIGHT_JAEGER_",
    "RAGSIGHT_TEST_",
    "RAGSIGHT_BENCH_",
)
