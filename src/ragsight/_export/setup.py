"""configure() and shutdown(): wire the OpenTelemetry SDK from validated Settings.

The SDK and exporters are imported here, inside the functions, never at ``import ragsight``.

Idempotence and reconfiguration: a second configure() with equal settings is a no-op. One
that changes only ragsight's own policies (content capture, breaker/retry defaults,
log format and correlation) applies them live. One that changes anything the SDK was
built with (endpoints, protocol, resource, sampler, queues) raises ConfigError naming the
keys, because OpenTelemetry's global providers can be set once per process and silently
keeping the old ones would send telemetry somewhere the caller no longer expects.

Providers the application installed itself are used, not replaced: ragsight then adds
no exporters to them and says so once in a warning (and in ``Providers.notes``).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ragsight import names
from ragsight._config.export_limits import METRIC_INTERVAL
from ragsight._config.settings import ConfigError, Problem, Settings
from ragsight._core import events as _events
from ragsight._core import runtime as _runtime
from ragsight._core import semconv as _semconv
from ragsight._core.instruments import create_instrument
from ragsight._core.policy import (
    ContentPolicy,
    ResilienceDefaults,
    set_content_policy,
    set_resilience_defaults,
)
from ragsight._export.health import (
    HEALTH,
    SIGNAL_LOGS,
    SIGNAL_METRICS,
    SIGNAL_TRACES,
    ExportHealth,
    quiet_exporter_logs,
)
from ragsight._export.shutdown import ShutdownPlan

logger = logging.getLogger("ragsight")

# Keys configure() can change on a running process: they feed ragsight's own policies.
LIVE_PREFIXES = (
    "content.",
    "breaker.",
    "retry.",
    "events.",
    "logs.format",
    "logs.level",
    "logs.correlation",
)


@dataclass
class Providers:
    """What one configure() built; ``None`` providers mean "not ours" or disabled."""

    settings: Settings
    tracer_provider: Any = None
    meter_provider: Any = None
    logger_provider: Any = None
    propagator: Any = None  # from a declarative configuration file; installed with the rest
    health: ExportHealth = HEALTH
    targets: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    shut_down: bool = False
    plan: ShutdownPlan = field(default_factory=ShutdownPlan)

    def force_flush(self, timeout: float | None = None) -> None:
        millis = int((timeout or self.settings.shutdown_timeout) * 1000)
        for provider in (self.tracer_provider, self.logger_provider, self.meter_provider):
            if provider is not None:
                try:
                    provider.force_flush(millis)
                except Exception as exc:
                    logger.debug("ragsight: flush failed: %r", exc)

    def shutdown(self, timeout: float | None = None) -> None:
        """Flush and stop within ``timeout`` (default ``shutdown_timeout``) seconds plus
        ``SHUTDOWN_MARGIN``, whatever the collector does; what is not sent is counted."""
        if self.shut_down:
            return
        self.shut_down = True
        from ragsight._export.shutdown import run_bounded

        run_bounded(self.plan, self.settings.shutdown_timeout if timeout is None else timeout)


def _resource(settings: Settings) -> Any:
    from opentelemetry.sdk.resources import Resource

    attributes: dict[str, Any] = dict(settings.resource_attributes)
    if settings.service_name:
        attributes[names.SERVICE_NAME] = settings.service_name
    if settings.service_version:
        attributes[names.SERVICE_VERSION] = settings.service_version
    if settings.environment:
        attributes[names.DEPLOYMENT_ENVIRONMENT] = settings.environment
    resource = Resource.create(attributes)
    if names.SERVICE_INSTANCE_ID in resource.attributes:
        return resource  # the user's, or the per-process UUID recent SDKs detect
    return resource.merge(Resource({names.SERVICE_INSTANCE_ID: run_id()}))


_run_id: tuple[int, str] | None = None


def run_id() -> str:
    """This process start's ``service.instance.id``: a UUID v4, new after a fork.

    The semantic conventions recommend a random UUID per instance; ``ragsight summary``,
    ``view`` and ``report`` tell runs apart by it. Used only where the SDK did not set one.
    """
    global _run_id
    pid = os.getpid()
    if _run_id is None or _run_id[0] != pid:
        _run_id = (pid, str(uuid.uuid4()))
    return _run_id[1]


def _sampler(settings: Settings) -> Any:
    from opentelemetry.sdk.trace import sampling

    ratio = 1.0 if settings.sampler_arg is None else settings.sampler_arg
    name = settings.sampler
    root: Any
    if name.endswith("always_on"):
        root = sampling.ALWAYS_ON
    elif name.endswith("always_off"):
        root = sampling.ALWAYS_OFF
    else:
        root = sampling.TraceIdRatioBased(ratio)
    return sampling.ParentBased(root) if name.startswith("parentbased_") else root


def histogram_views() -> list[Any]:
    """One View per histogram of the names contract, with its explicit bucket boundaries."""
    from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View

    return [
        View(
            instrument_name=spec.name,
            aggregation=ExplicitBucketHistogramAggregation(boundaries=spec.buckets),
        )
        for spec in names.METRICS
        if spec.instrument == "histogram" and spec.buckets is not None
    ]


def _exporter(settings: Settings, signal: str, health: ExportHealth) -> tuple[Any, str]:
    from ragsight._export.exporters import file_exporter, otlp_exporter

    if settings.uses_otlp():
        return otlp_exporter(settings, signal)
    return file_exporter(settings, signal, health)


def build_providers(settings: Settings, *, health: ExportHealth = HEALTH) -> Providers:
    """Providers with exporters for ``settings``, not installed globally (tests use this)."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider

    from ragsight._export.exporters import (
        BoundedLogProcessor,
        BoundedSpanProcessor,
        GuardedMetricExporter,
    )

    providers = Providers(settings, health=health)
    if settings.disabled:
        return providers
    if settings.otel_config_file:  # OTEL_CONFIG_FILE: the file decides, not these settings
        from ragsight._export.declarative import build_from_file

        build_from_file(providers)
        return providers
    if settings.exporter == "none":
        return providers
    if settings.uses_otlp():
        quiet_exporter_logs(True)  # ExportHealth reports failure episodes instead
    resource = _resource(settings)

    plan = providers.plan
    from ragsight._export.spool import export_calls

    make_call = export_calls(settings, health)  # with the outage spool when enabled
    # shutdown_on_exit=False everywhere: the SDK's own exit hooks wait up to 30 s each;
    # ragsight's hook (shutdown()) is bounded by shutdown_timeout
    span_exporter, target = _exporter(settings, SIGNAL_TRACES, health)
    providers.targets[SIGNAL_TRACES] = target
    tracer_provider = TracerProvider(
        resource=resource, sampler=_sampler(settings), shutdown_on_exit=False
    )
    span_call = make_call(SIGNAL_TRACES, target)
    span_processor = BoundedSpanProcessor(span_exporter, span_call, settings)
    tracer_provider.add_span_processor(span_processor)
    providers.tracer_provider = tracer_provider
    plan.processors.append(span_processor)
    plan.providers.append(tracer_provider)
    plan.calls.append(span_call)

    metric_exporter, target = _exporter(settings, SIGNAL_METRICS, health)
    providers.targets[SIGNAL_METRICS] = target
    metric_call = make_call(SIGNAL_METRICS, target)
    reader = PeriodicExportingMetricReader(
        GuardedMetricExporter(metric_exporter, metric_call),
        export_interval_millis=METRIC_INTERVAL.check(
            settings.batch.metric_export_interval, "batch.metric_export_interval"
        )
        * 1000,
        export_timeout_millis=settings.otlp.for_signal(SIGNAL_METRICS).timeout * 1000 + 1000,
    )
    meter_provider = MeterProvider(
        resource=resource,
        metric_readers=[reader],
        views=histogram_views(),
        shutdown_on_exit=False,
    )
    _register_drop_counter(meter_provider, health)
    providers.meter_provider = meter_provider
    plan.meter_provider = meter_provider
    plan.calls.append(metric_call)
    plan.exporters.append(metric_exporter)

    if settings.logs.export:
        log_exporter, target = _exporter(settings, SIGNAL_LOGS, health)
        providers.targets[SIGNAL_LOGS] = target
        logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        log_call = make_call(SIGNAL_LOGS, target)
        log_processor = BoundedLogProcessor(log_exporter, log_call, settings)
        logger_provider.add_log_record_processor(log_processor)
        providers.logger_provider = logger_provider
        plan.processors.append(log_processor)
        plan.providers.append(logger_provider)
        plan.calls.append(log_call)
    return providers


def _register_drop_counter(meter_provider: Any, health: ExportHealth) -> None:
    from opentelemetry.metrics import CallbackOptions, Observation

    spec = names.RAGSIGHT_EXPORT_DROPPED
    signal_attribute = names.RAGSIGHT_SIGNAL

    def observe(options: CallbackOptions) -> list[Observation]:
        counts = health.dropped_counts()
        return [
            Observation(counts.get(signal, 0), {signal_attribute: signal})
            for signal in (SIGNAL_TRACES, SIGNAL_METRICS, SIGNAL_LOGS)
        ]

    meter = meter_provider.get_meter(names.SCOPE_NAME, schema_url=_semconv.schema_url())
    create_instrument(meter, spec, [observe])

    def spool_observer(count: str) -> Callable[[CallbackOptions], list[Observation]]:
        def observe_spool(options: CallbackOptions) -> list[Observation]:
            counts = health.spool_counts()
            return [
                Observation(counts.get(signal, {}).get(count, 0), {signal_attribute: signal})
                for signal in (SIGNAL_TRACES, SIGNAL_METRICS, SIGNAL_LOGS)
            ]

        return observe_spool

    # always registered (0 with the spool off), as ragsight.export.dropped is
    create_instrument(meter, names.RAGSIGHT_EXPORT_SPOOLED, [spool_observer("spooled")])
    create_instrument(meter, names.RAGSIGHT_EXPORT_REPLAYED, [spool_observer("replayed")])


# --------------------------------------------------------------------------------------
# Global installation
# --------------------------------------------------------------------------------------
_lock = threading.RLock()
_active: Providers | None = None
_atexit_registered = False


def _is_proxy(provider: Any) -> bool:
    return type(provider).__name__ in {
        "ProxyTracerProvider",
        "_ProxyMeterProvider",
        "ProxyLoggerProvider",
    }


def _install(providers: Providers) -> None:
    from opentelemetry import _logs, metrics, trace

    for signal, getter, setter, attr in (
        (SIGNAL_TRACES, trace.get_tracer_provider, trace.set_tracer_provider, "tracer_provider"),
        (SIGNAL_METRICS, metrics.get_meter_provider, metrics.set_meter_provider, "meter_provider"),
        (SIGNAL_LOGS, _logs.get_logger_provider, _logs.set_logger_provider, "logger_provider"),
    ):
        ours = getattr(providers, attr)
        if ours is None:
            continue
        existing = getter()
        if _is_proxy(existing):
            setter(ours)
            continue
        note = (
            f"the application already installed a {type(existing).__name__} for {signal}; "
            f"ragsight uses it and adds no exporter to it (configure it to export where you "
            f"want, or let ragsight create the provider by calling configure() first)"
        )
        providers.notes.append(note)
        logger.warning("ragsight: %s", note)
        with contextlib.suppress(Exception):
            ours.shutdown()
        setattr(providers, attr, None)
    if providers.propagator is not None:
        from opentelemetry.propagate import set_global_textmap

        set_global_textmap(providers.propagator)


def _apply_policies(settings: Settings, redact_hook: Callable[[str], str] | None) -> None:
    if settings.semconv != _semconv.mode():
        _semconv.set_mode(settings.semconv)
        _runtime.forget_global()  # scopes are re-created with the mode's schema_url
    set_content_policy(
        ContentPolicy(
            capture=settings.content.capture,
            capture_to=settings.content.capture_to,  # type: ignore[arg-type]
            max_length=settings.content.max_length,
            redact_patterns=settings.content.redact_patterns,
            redact_hook=redact_hook,
            secret_argument_names=settings.content.secret_argument_names,
        )
    )
    set_resilience_defaults(ResilienceDefaults(breaker=settings.breaker, retry=settings.retry))
    _events.set_span_events(settings.events.span_events)


def _changed_keys(old: Settings, new: Settings) -> list[str]:
    from ragsight._config.keys import KEYS

    return [k.name for k in KEYS if old.get(k.name) != new.get(k.name)]


def configure(
    config_file: str | os.PathLike[str] | None = None,
    *,
    settings: Settings | None = None,
    redact_hook: Callable[[str], str] | None = None,
    **arguments: Any,
) -> Settings:
    """Validate every configuration source and wire OpenTelemetry; returns the Settings used.

    Precedence: defaults < config file < environment < these arguments (keywords are the
    dotted keys with ``_``: ``otlp_endpoint``, ``content_capture``, ``retry_attempts``).
    Raises ConfigError listing every problem before anything is started.
    """
    global _active, _atexit_registered
    from ragsight._config.keys import BY_NAME
    from ragsight._config.validation import check_own_arguments, load_settings
    from ragsight._export.logs import apply_logging

    check_own_arguments(config_file=config_file, settings=settings, redact_hook=redact_hook)
    new = settings if settings is not None else load_settings(config_file, **arguments)
    with _lock:
        if _active is not None:
            changed = _changed_keys(_active.settings, new)
            fixed = [k for k in changed if not k.startswith(LIVE_PREFIXES)]
            if fixed:

                def shown(s: Settings, key: str) -> Any:
                    return BY_NAME[key].mask(s.get(key))

                raise ConfigError(
                    [
                        Problem(
                            key,
                            new.source_of(key),
                            shown(new, key),
                            f"ragsight is already configured with {shown(_active.settings, key)!r}"
                            f"; OpenTelemetry providers cannot be replaced in a running process "
                            f"(only content.*, breaker.*, retry.*, events.* and "
                            f"logs.format/level/correlation can change); restart the "
                            f"process to change this",
                        )
                        for key in fixed
                    ]
                )
            _apply_policies(new, redact_hook)
            if _active.shut_down and not new.disabled:
                logger.warning(
                    "ragsight: configure() after shutdown() does not restart export: "
                    "OpenTelemetry providers cannot be replaced in a running process"
                )
            if changed:
                apply_logging(new, _active.logger_provider)
                _active.settings = new
            return new

        _apply_policies(new, redact_hook)
        if new.disabled:
            _active = Providers(new)
            return new
        providers = build_providers(new)
        if new.otel_config_file:
            logger.info(
                "ragsight: providers built from the OpenTelemetry declarative configuration "
                "%s (%s), not from ragsight's export settings; ragsight's instrumentation "
                "records through them (%s)",
                new.otel_config_file,
                new.source_of("otel_config_file"),
                "; ".join(providers.notes),
            )
            from ragsight._export.declarative import replaced_settings

            replaced = replaced_settings(new)
            if replaced:
                logger.warning(
                    "ragsight: not used because %s builds the providers: %s; set them in that "
                    "file instead (it can read a variable: ${OTEL_SERVICE_NAME})",
                    new.otel_config_file,
                    ", ".join(replaced),
                )
            from ragsight._config.validation import SDK_DISABLED_ENV, SDK_DISABLED_IGNORED

            if new.source_of("disabled") == SDK_DISABLED_IGNORED:
                logger.warning(
                    "ragsight: %s is ignored because %s is set: the declarative configuration "
                    "file decides (its own field: disabled: true)",
                    SDK_DISABLED_ENV,
                    new.otel_config_file,
                )
        _install(providers)
        apply_logging(new, providers.logger_provider)
        _active = providers
        if not _atexit_registered:
            atexit.register(shutdown)
            _atexit_registered = True
        logger.debug("ragsight: configured, exporting to %s", providers.targets)
        return new


def shutdown(timeout: float | None = None) -> None:
    """Flush and stop what configure() started; safe to call twice and from an exit hook.

    ``timeout`` bounds the flush in seconds (default: the ``shutdown_timeout`` setting);
    whatever the collector does, it returns within it plus a small margin, and items not
    sent are counted in :func:`dropped_counts`.
    """
    with _lock:
        active = _active
    if active is None or active.shut_down:
        return
    active.shutdown(timeout)


def active_providers() -> Providers | None:
    """What the last configure() installed, or None before the first one."""
    return _active
