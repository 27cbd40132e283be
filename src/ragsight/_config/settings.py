"""The validated, immutable settings ragsight runs with, and the table of every key.

Why hand-written and not pydantic-settings: every problem must name where its value came
from (a file path, an environment variable, a configure() argument), which a settings
library does not track per key, so the layering and the error format would be ours anyway;
what remains (a few dozen scalar keys) is smaller than the dependency and its import cost.
Parsing uses the standard library (tomllib, json) and PyYAML, which ragsight already needs.

Secrets are held in :class:`Secret`, whose ``repr`` and ``str`` are masked, so an OTLP
header cannot leak through a log line, an error message, ``repr(settings)`` or
``ragsight config show`` by accident; code that needs the value calls ``reveal()``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from types import MappingProxyType
from typing import Any, Final

from ragsight import names
from ragsight._config.masking import MASK, mask, mask_url, scrub
from ragsight._core.limits import Limit
from ragsight._core.policy import BreakerDefaults, RetryDefaults


class Secret:
    """A string that never shows itself: repr, str and format all print ``****``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"'{MASK}'"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# --------------------------------------------------------------------------------------
# The settings model
# --------------------------------------------------------------------------------------
SIGNAL_FIELDS: Final = ("protocol", "headers", "compression", "timeout")


@dataclass(frozen=True)
class OtlpSettings:
    """Where and how OTLP export goes; an unset endpoint means the embedded file sink."""

    endpoint: str | None = None
    traces_endpoint: str | None = None
    metrics_endpoint: str | None = None
    logs_endpoint: str | None = None
    protocol: str = "http/protobuf"
    headers: Mapping[str, Secret] = field(default_factory=lambda: MappingProxyType({}))
    compression: str = "none"
    timeout: float = 10.0  # seconds (OTEL_EXPORTER_OTLP_TIMEOUT is in milliseconds)
    insecure: bool | None = None  # gRPC only; None: decided by the endpoint's scheme
    # Per-signal overrides (OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_*); None: the generic
    # value above applies. Read through for_signal(), never directly.
    traces_protocol: str | None = None
    metrics_protocol: str | None = None
    logs_protocol: str | None = None
    traces_headers: Mapping[str, Secret] | None = None
    metrics_headers: Mapping[str, Secret] | None = None
    logs_headers: Mapping[str, Secret] | None = None
    traces_compression: str | None = None
    metrics_compression: str | None = None
    logs_compression: str | None = None
    traces_timeout: float | None = None
    metrics_timeout: float | None = None
    logs_timeout: float | None = None

    def for_signal(self, signal: str) -> OtlpSettings:
        """The settings one signal's exporter uses: per-signal values win over the generic
        ones, as the OTLP exporter specification says (a whole header set replaces the
        generic one, it is not merged with it)."""
        changes = {}
        for name in SIGNAL_FIELDS:
            value = getattr(self, f"{signal}_{name}")
            if value is not None:
                changes[name] = value
        return replace(self, **changes) if changes else self

    def __repr__(self) -> str:
        def url(u: str | None) -> str:
            return repr(None if u is None else mask_url(u))

        def masked(h: Mapping[str, Secret] | None) -> dict[str, str] | None:
            return None if h is None else {k: MASK for k in h}

        per_signal = "".join(
            f", {signal}_{name}="
            + repr(
                masked(getattr(self, f"{signal}_{name}"))
                if name == "headers"
                else getattr(self, f"{signal}_{name}")
            )
            for signal in ("traces", "metrics", "logs")
            for name in SIGNAL_FIELDS
            if getattr(self, f"{signal}_{name}") is not None
        )
        return (
            f"OtlpSettings(endpoint={url(self.endpoint)}, traces_endpoint="
            f"{url(self.traces_endpoint)}, metrics_endpoint={url(self.metrics_endpoint)}, "
            f"logs_endpoint={url(self.logs_endpoint)}, protocol={self.protocol!r}, "
            f"headers={masked(self.headers)!r}, compression={self.compression!r}, "
            f"timeout={self.timeout!r}, insecure={self.insecure!r}{per_signal})"
        )

    def any_endpoint(self) -> bool:
        return any((self.endpoint, self.traces_endpoint, self.metrics_endpoint, self.logs_endpoint))


@dataclass(frozen=True)
class BatchSettings:
    """Bounded queues: when full, new items are dropped (and counted), never block the app."""

    max_queue_size: int = 2048
    max_export_batch_size: int = 512
    schedule_delay: float = 1.0  # seconds
    # seconds (OTEL_METRIC_EXPORT_INTERVAL is in ms)
    metric_export_interval: float = names.METRIC_EXPORT_INTERVAL_SECONDS


@dataclass(frozen=True)
class ContentSettings:
    capture: bool = False
    capture_to: str = "span"  # span, event or span_and_event (ContentPolicy.capture_to)
    max_length: int = 1024
    redact_patterns: tuple[str, ...] = ()
    secret_argument_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class LogSettings:
    """``format`` none leaves the app's handlers alone; text/json install one on the root."""

    format: str = "none"
    level: str = "info"
    correlation: bool = True
    export: bool = True


@dataclass(frozen=True)
class EventSettings:
    """Events (evaluations, captured content, breaker and retry decisions) are Logs-API
    records; ``span_events`` mirror (default) also adds each one to its span as a span
    event, for backends that show span events only (Jaeger); off sends log records only."""

    span_events: str = names.SPAN_EVENTS_MIRROR


@dataclass(frozen=True)
class FileSinkSettings:
    directory: str = "ragsight-telemetry"
    max_bytes: int = 10 * 1024 * 1024  # per file, before rotation
    backups: int = 5  # rotated files kept per signal


@dataclass(frozen=True)
class SpoolSettings:
    """The outage spool (``ragsight._export.spool``): off by default; OTLP export only.

    ``directory`` None means the per-user cache (``$XDG_CACHE_HOME/ragsight/spool``, else
    ``~/.cache/ragsight/spool``). ``max_bytes`` bounds this process's spool (all signals);
    batches older than ``max_age`` seconds are dropped unsent (and counted)."""

    enabled: bool = False
    directory: str | None = None
    max_bytes: int = 64 * 1024 * 1024
    max_age: float = 3600.0


@dataclass(frozen=True)
class Settings:
    """Everything configure() needs, validated; ``sources`` says where each key came from.

    configure() builds and returns it; ``Settings()`` holds the built-in defaults. Read a
    dotted key with ``get(key)`` and where its value came from with ``source_of(key)``.
    """

    service_name: str | None = None
    service_version: str | None = None
    environment: str | None = None
    resource_attributes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    disabled: bool = False
    # OpenTelemetry declarative configuration (OTEL_CONFIG_FILE): the providers come from it
    otel_config_file: str | None = None
    exporter: str = "auto"
    sampler: str = "parentbased_always_on"
    sampler_arg: float | None = None
    shutdown_timeout: float = 5.0
    semconv: str = "latest"  # names.SEMCONV_MODES: latest, or v1.41.0 pinned
    otlp: OtlpSettings = field(default_factory=OtlpSettings)
    batch: BatchSettings = field(default_factory=BatchSettings)
    content: ContentSettings = field(default_factory=ContentSettings)
    logs: LogSettings = field(default_factory=LogSettings)
    events: EventSettings = field(default_factory=EventSettings)
    file_sink: FileSinkSettings = field(default_factory=FileSinkSettings)
    spool: SpoolSettings = field(default_factory=SpoolSettings)
    breaker: BreakerDefaults = field(default_factory=BreakerDefaults)
    retry: RetryDefaults = field(default_factory=RetryDefaults)
    # Not part of equality: the same values from another source are the same config.
    sources: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    def uses_otlp(self) -> bool:
        if self.exporter == "auto":
            return self.otlp.any_endpoint()
        return self.exporter == "otlp"

    def uses_file_sink(self) -> bool:
        return self.exporter == "file" or (self.exporter == "auto" and not self.uses_otlp())

    def get(self, key: str) -> Any:
        """The value of a dotted key (``otlp.endpoint``)."""
        obj: Any = self
        for part in key.split("."):
            obj = getattr(obj, part)
        return obj

    def source_of(self, key: str) -> str:
        return self.sources.get(key, "default")

    def __repr__(self) -> str:
        """Every value passed through :func:`mask` by its shape (a token given as a service
        name or resource attribute is hidden too); OTLP settings mask themselves."""

        def shown(value: Any, name: str) -> str:
            if isinstance(value, OtlpSettings):
                return repr(value)
            if is_dataclass(value):
                inner = ", ".join(
                    f"{f.name}={shown(getattr(value, f.name), f'{name}{f.name}.')}"
                    for f in fields(value)
                    if f.repr
                )
                return f"{type(value).__name__}({inner})"
            masked = mask(name.rstrip("."), value, by_name=False)
            return repr(tuple(masked) if isinstance(value, tuple) else masked)

        return shown(self, "")


# --------------------------------------------------------------------------------------
# The key table
# --------------------------------------------------------------------------------------
Parser = Callable[[Any, bool], Any]  # (raw value, raw is an env string) -> value


@dataclass(frozen=True)
class Key:
    """One configurable key: its dotted name, parser, environment names and what is allowed."""

    name: str
    parse: Parser
    allowed: str
    env: tuple[str, ...] = ()
    secret: bool = False
    env_scale: float = 1.0  # env value * scale = settings value (ms -> s)
    limit: Limit | None = None  # checked after scaling: the component's own limit

    @property
    def argument(self) -> str:
        """The configure() keyword for this key."""
        return self.name.replace(".", "_")

    def mask(self, value: Any) -> Any:
        """``value`` safe to print (:func:`ragsight._config.masking.mask`)."""
        return mask(self.name, value, secret=self.secret, by_name=False)


def mask_unknown(name: str, value: Any) -> Any:
    """The value of an unknown key, masked by its name and by its shape."""
    return mask(name, value)


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration; ``value`` is already masked."""

    key: str
    source: str
    value: Any
    message: str

    def __str__(self) -> str:
        shown = "" if self.value is _NO_VALUE else f" = {mask(self.key, self.value)!r}"
        return f"{self.key}{shown} (from {scrub(self.source)}): {scrub(self.message)}"


_NO_VALUE: Any = object()
NO_VALUE: Any = _NO_VALUE


class ConfigError(ValueError):
    """Every problem found in the configuration, raised once before anything starts."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = [f"ragsight configuration has {count} problem{'s' if count != 1 else ''}:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))
