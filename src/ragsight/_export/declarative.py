"""Providers built from an OpenTelemetry declarative configuration file (OTEL_CONFIG_FILE).

The file decides exporters, processors, readers, sampler, limits, resource and propagator;
ragsight's own export settings (``REPLACED_KEYS``: ``otlp.*``, ``batch.*``, ``exporter``,
``sampler``, ``service_name``, ``resource_attributes``, ``file_sink.*``, ``spool.*``, ...) are not
used, and configure() warns naming each one that is set anyway. ``logs.export`` still bridges
Python logging into the file's logger provider. What ragsight keeps:

- its instrumentation (stage spans, metrics, events) records through these providers;
- its histogram bucket boundaries: for every ragsight histogram that no view of the file
  selects, a view with ragsight's explicit buckets is added to the file's ``meter_provider``
  views. A view in the file that selects the instrument (by name or wildcard, type, unit,
  meter) wins and ragsight adds none for it, so a file can ask for exponential histograms
  with ``selector: {instrument_name: "rag.*"}``. ragsight's explicit views take precedence
  over an exporter's ``default_histogram_aggregation``, as any view does;
- ``service.instance.id``: added (the per-process UUID) when the file's resource has none;
- its bounded shutdown, which stops the file's providers within ``shutdown_timeout``.

Not applied here: the file's ``log_level`` and ``instrumentation_development`` sections
(they configure other instrumentations; ``opentelemetry-instrument`` applies them), and
``ragsight.export.dropped`` (the file's processors are the SDK's own, which do not report to
ragsight). A section missing from the file means no provider for that signal, as the
specification says (a no-op one). A ``propagator`` section replaces the global propagator;
without one the default (W3C trace context and baggage) stays, where the SDK's own
``configure_sdk`` would install an empty one: ragsight configures an application that may
already propagate context, and silently cutting its traces apart would be worse.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import fnmatch
from typing import TYPE_CHECKING, Any, Final

from ragsight import names
from ragsight._config import declarative
from ragsight._config.settings import ConfigError, Problem, Settings
from ragsight._core import semconv as _semconv
from ragsight._version import __version__

if TYPE_CHECKING:
    from ragsight._export.setup import Providers


# ragsight's settings the file replaces; shutdown_timeout, semconv, content.*, events.*,
# logs.*, breaker.* and retry.* still apply
REPLACED_KEYS: Final = (
    "service_name",
    "service_version",
    "environment",
    "resource_attributes",
    "exporter",
    "sampler",
    "sampler_arg",
)
_REPLACED_SECTIONS: Final = ("otlp.", "batch.", "file_sink.", "spool.")


def replaced_by_file(key: str) -> bool:
    """Whether the declarative file replaces ragsight's setting ``key``."""
    return key in REPLACED_KEYS or key.startswith(_REPLACED_SECTIONS)


def replaced_settings(settings: Settings) -> list[str]:
    """``key (source)`` of each replaced setting that is set anyway (not a default)."""
    return [
        f"{key} ({source})"
        for key, source in settings.sources.items()
        if replaced_by_file(key) and source != "default"
    ]


def _histograms() -> list[names.MetricSpec]:
    return [
        spec
        for spec in names.METRICS
        if spec.instrument == "histogram" and spec.buckets is not None
    ]


def _selects(selector: Any, spec: names.MetricSpec) -> bool:
    """Whether a file view's selector matches ragsight's instrument ``spec`` (SDK rules)."""
    if selector is None:
        return False
    pattern = selector.instrument_name
    if pattern is not None and not fnmatch.fnmatchcase(spec.name, pattern):
        return False
    kind = selector.instrument_type
    if kind is not None and getattr(kind, "value", kind) != "histogram":
        return False
    for wanted, ours in (
        (selector.unit, spec.unit),
        (selector.meter_name, names.SCOPE_NAME),
        (selector.meter_version, __version__),
        (selector.meter_schema_url, _semconv.schema_url()),
    ):
        if wanted is not None and wanted != ours:
            return False
    return True


def with_ragsight_views(meter_config: Any) -> tuple[Any, list[str], list[str]]:
    """``meter_config`` plus ragsight's bucket views; (config, names added, names left)."""
    from opentelemetry.configuration.models import (
        Aggregation,
        ExplicitBucketHistogramAggregation,
        InstrumentType,
        View,
        ViewSelector,
        ViewStream,
    )

    file_views = list(meter_config.views or [])
    added: list[Any] = []
    added_names: list[str] = []
    left: list[str] = []
    for spec in _histograms():
        if any(_selects(view.selector, spec) for view in file_views):
            left.append(spec.name)
            continue
        added_names.append(spec.name)
        added.append(
            View(
                selector=ViewSelector(
                    instrument_name=spec.name, instrument_type=InstrumentType.histogram
                ),
                stream=ViewStream(
                    aggregation=Aggregation(
                        explicit_bucket_histogram=ExplicitBucketHistogramAggregation(
                            boundaries=[float(b) for b in spec.buckets or ()]
                        )
                    )
                ),
            )
        )
    return dataclasses.replace(meter_config, views=file_views + added), added_names, left


def _resource(model: Any) -> Any:
    from opentelemetry.configuration.file import create_resource
    from opentelemetry.sdk.resources import Resource

    from ragsight._export.setup import run_id

    resource = create_resource(model.resource)
    if names.SERVICE_INSTANCE_ID in resource.attributes:
        return resource
    return resource.merge(Resource({names.SERVICE_INSTANCE_ID: run_id()}))


def _no_sdk_exit_hook(provider: Any) -> None:
    """The SDK's own exit hook waits up to 30 s; ragsight's shutdown() is bounded instead."""
    handler = getattr(provider, "_atexit_handler", None)
    if handler is not None:
        atexit.unregister(handler)


def _enabled(provider: Any) -> Any:
    """``provider`` as the file says, whatever ``OTEL_SDK_DISABLED`` says.

    The configuration specification ignores every other ``OTEL_*`` variable when
    ``OTEL_CONFIG_FILE`` is set (the file's own ``disabled`` decides, checked before any
    provider is built), but the SDK's providers read ``OTEL_SDK_DISABLED`` when constructed
    and would then hand out no-op tracers, meters and loggers."""
    if getattr(provider, "_disabled", False) is True:
        provider._disabled = False
    return provider


def _adopted(providers: Providers, built: list[Any], provider: Any, signal: str, label: str) -> Any:
    """``provider``, a tracer or logger provider the file built, now stopped by ragsight's
    bounded shutdown (or at once if a later section fails to build), its ``signal`` sent to
    ``label``."""
    _enabled(provider)
    built.append(provider)
    providers.plan.providers.append(provider)
    providers.targets[signal] = label
    return provider


def build_from_file(providers: Providers) -> None:
    """Fill ``providers`` from the settings' declarative file; ConfigError if it cannot be."""
    from opentelemetry.configuration.file import (
        create_logger_provider,
        create_meter_provider,
        create_propagator,
        create_tracer_provider,
    )

    settings = providers.settings
    path = settings.otel_config_file or ""
    source = settings.source_of(declarative.KEY)
    model = declarative.load(path, source)
    label = f"declarative file {path}"
    if model.disabled:
        providers.notes.append(f"{path} says disabled: true; no providers were built")
        return
    built: list[Any] = []
    try:
        resource = _resource(model)
        limits = model.attribute_limits
        if model.tracer_provider is not None:
            tracer_provider = create_tracer_provider(model.tracer_provider, resource, limits)
            providers.tracer_provider = _adopted(providers, built, tracer_provider, "traces", label)
        else:
            providers.notes.append("no tracer_provider in the file: spans are not recorded")
        if model.meter_provider is not None:
            meter_config, added, left = with_ragsight_views(model.meter_provider)
            meter_provider = _enabled(create_meter_provider(meter_config, resource))
            built.append(meter_provider)
            providers.meter_provider = meter_provider
            providers.plan.meter_provider = meter_provider
            providers.targets["metrics"] = label
            providers.notes.append(
                f"ragsight bucket views added for {len(added)} histograms"
                + (f"; the file's own views select {', '.join(left)}" if left else "")
            )
        else:
            providers.notes.append("no meter_provider in the file: metrics are not recorded")
        if model.logger_provider is not None:
            logger_provider = create_logger_provider(model.logger_provider, resource, limits)
            providers.logger_provider = _adopted(providers, built, logger_provider, "logs", label)
        else:
            providers.notes.append("no logger_provider in the file: logs and events are not sent")
        if model.propagator is not None:
            providers.propagator = create_propagator(model.propagator)
        ignored = [
            section
            for section in ("log_level", "instrumentation_development")
            if getattr(model, section) is not None
        ]
        if ignored:
            providers.notes.append(
                f"not applied by ragsight: {', '.join(ignored)} (opentelemetry-instrument does)"
            )
    except Exception as exc:
        for provider in built:
            with contextlib.suppress(Exception):
                provider.shutdown()
        raise ConfigError(
            [
                Problem(
                    declarative.KEY,
                    source,
                    path,
                    f"{path}: the providers cannot be built: {str(exc).strip() or exc!r}",
                )
            ]
        ) from None
    for provider in built:
        _no_sdk_exit_hook(provider)
