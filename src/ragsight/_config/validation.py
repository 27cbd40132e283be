"""Turn gathered raw values into Settings, or one ConfigError that lists every problem.

Each problem names the key, where the value came from, the value (masked when secret) and
what is allowed. Unknown keys are problems too, with a did-you-mean, because a misspelt
``OTEL_EXPORTER_OTLP_ENDPONT`` silently sending telemetry nowhere is the costliest kind of
configuration bug.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from ragsight._config.keys import BY_ARGUMENT, BY_NAME, ENV_NAMES, Invalid
from ragsight._config.masking import mask
from ragsight._config.settings import NO_VALUE, ConfigError, Problem, Settings, mask_unknown
from ragsight._config.sources import Gathered, Raw, gather
from ragsight._core.limits import LimitError


def _did_you_mean(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _unknown(raw: Raw) -> Problem:
    if raw.key.startswith("$"):
        name = raw.key[1:]
        hint = _did_you_mean(name, sorted(ENV_NAMES))
        what = "OpenTelemetry" if name.startswith("OTEL_") else "ragsight"
        return Problem(
            name,
            raw.source,
            mask_unknown(name, raw.value),
            f"unknown {what} environment variable{hint}",
        )
    if raw.key.startswith("@"):
        name = raw.key[1:]
        hint = _did_you_mean(name, sorted(BY_ARGUMENT))
        return Problem(
            name, raw.source, mask_unknown(name, raw.value), f"unknown configure() argument{hint}"
        )
    hint = _did_you_mean(raw.key, sorted(BY_NAME))
    return Problem(raw.key, raw.source, mask_unknown(raw.key, raw.value), f"unknown key{hint}")


def _parse(raw: Raw) -> tuple[Any, Problem | None]:
    key = BY_NAME[raw.key]
    if raw.value is None:  # an explicit None argument means "not set at this level"
        return None, None
    try:
        value = key.parse(raw.value, raw.from_env)
    except Invalid as exc:
        return None, Problem(
            key.name, raw.source, key.mask(raw.value), f"{exc}; allowed: {key.allowed}"
        )
    if raw.from_env and raw.env_scale != 1.0:
        value = value * raw.env_scale
    if key.limit is not None:
        try:
            value = key.limit.check(value, key.name)
        except LimitError:
            return None, Problem(
                key.name, raw.source, key.mask(raw.value), f"out of range; allowed: {key.allowed}"
            )
    return value, None


def _cross_checks(values: dict[str, Any], sources: dict[str, str]) -> list[Problem]:
    problems: list[Problem] = []

    def get(key: str) -> Any:
        return values.get(key, Settings().get(key))

    def add(key: str, message: str) -> None:
        problems.append(Problem(key, sources.get(key, "default"), get(key), message))

    if get("batch.max_export_batch_size") > get("batch.max_queue_size"):
        add(
            "batch.max_export_batch_size",
            f"must be <= batch.max_queue_size ({get('batch.max_queue_size')})",
        )
    # retry.base_delay above retry.max_delay is valid: every delay is max_delay (RetryConfig)
    # breaker.open_duration above breaker.max_open_duration is valid: no backoff (BreakerConfig)
    if get("exporter") == "otlp" and not any(
        get(k)
        for k in (
            "otlp.endpoint",
            "otlp.traces_endpoint",
            "otlp.metrics_endpoint",
            "otlp.logs_endpoint",
        )
    ):
        add(
            "exporter",
            "is otlp but no endpoint is set (otlp.endpoint / OTEL_EXPORTER_OTLP_ENDPOINT)",
        )
    if get("otel_config_file"):
        from ragsight._config import declarative

        problems += declarative.problems(get("otel_config_file"), sources["otel_config_file"])
    return problems


def _assemble(values: dict[str, Any], sources: dict[str, str]) -> Settings:
    """Nested dataclasses from dotted values; sections are replaced, never mutated."""
    base = Settings()
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        head, _, tail = key.partition(".")
        if tail:
            sections.setdefault(head, {})[tail] = value
        elif isinstance(value, dict):
            top[key] = MappingProxyType(dict(value))
        else:
            top[key] = value
    for head, changes in sections.items():
        changes = {
            k: MappingProxyType(dict(v)) if isinstance(v, dict) else v for k, v in changes.items()
        }
        top[head] = replace(getattr(base, head), **changes)
    return replace(base, **top, sources=MappingProxyType(dict(sources)))


SDK_DISABLED_ENV = "OTEL_SDK_DISABLED"
SDK_DISABLED_IGNORED = (
    f"ignored: env {SDK_DISABLED_ENV} (otel_config_file is set; the file's disabled decides)"
)


def _ignored(gathered: Gathered) -> list[Raw]:
    """Values that do not apply: with a declarative configuration file, ``OTEL_SDK_DISABLED``.

    The configuration specification: when ``OTEL_CONFIG_FILE`` is set, every other
    ``OTEL_*`` variable is ignored (except ``${VAR}`` references inside the file), and the
    file's own ``disabled`` field decides. ragsight's own ``disabled`` (a settings file,
    ``configure(disabled=...)``) is not an SDK variable and still applies."""
    if not any(r.key == "otel_config_file" and r.value for r in gathered.values):
        return []
    return [r for r in gathered.values if r.source == f"env {SDK_DISABLED_ENV}"]


def build(gathered: Gathered) -> Settings:
    problems = list(gathered.problems)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    ignored = _ignored(gathered)
    for raw in gathered.values:  # lowest precedence first: later entries win
        if raw in ignored:
            sources.setdefault(raw.key, SDK_DISABLED_IGNORED)
            continue
        if raw.key not in BY_NAME:
            problems.append(_unknown(raw))
            continue
        value, problem = _parse(raw)
        if problem is not None:
            problems.append(problem)
            values.pop(raw.key, None)  # do not fall back silently to a lower source
            sources[raw.key] = raw.source
        elif raw.value is not None:
            values[raw.key] = value
            sources[raw.key] = raw.source
    queue = values.get("batch.max_queue_size")
    if "batch.max_export_batch_size" not in values and isinstance(queue, int):
        # the default batch size follows a smaller queue instead of contradicting it
        values["batch.max_export_batch_size"] = min(queue, Settings().batch.max_export_batch_size)
    if not problems:
        problems += _cross_checks(values, sources)
    if problems:
        raise ConfigError(problems)
    return _assemble(values, sources)


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike)) and not isinstance(value, bytes)


def _is_environ(value: Any) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def check_own_arguments(**arguments: Any) -> None:
    """configure()'s own parameters (not configuration keys) have the documented types.

    Raises ConfigError naming each wrong one, so ``configure(config_file=123)`` or
    ``configure(settings="x")`` never surfaces as a raw TypeError/AttributeError."""
    expected = {
        "config_file": ("a path (str or os.PathLike) or None", _is_path),
        "settings": ("a ragsight Settings object or None", lambda v: isinstance(v, Settings)),
        "redact_hook": ("a callable taking and returning str, or None", callable),
        "environ": ("a mapping of str to str, or None", _is_environ),
        "cwd": ("a directory path or None", _is_path),
    }
    problems = [
        Problem(
            name,
            f"configure({name}=...)",
            NO_VALUE if name == "environ" else mask(name, value),  # a whole environment
            f"must be {allowed}",
        )
        for name, value in arguments.items()
        for allowed, ok in [expected[name]]
        if value is not None and not ok(value)
    ]
    if problems:
        raise ConfigError(problems)


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    **arguments: Any,
) -> Settings:
    """Settings from every source (defaults < file < environment < arguments).

    Raises ConfigError listing every problem (also a wrong type of ``config_file``)."""
    check_own_arguments(config_file=config_file, environ=environ, cwd=cwd)
    return build(gather(arguments, config_file=config_file, environ=environ, cwd=cwd))
