"""OpenTelemetry declarative configuration (``OTEL_CONFIG_FILE``): find, load, explain.

When ``otel_config_file`` is set (``OTEL_CONFIG_FILE``, a ragsight file or
``configure(otel_config_file=...)``), the OpenTelemetry SDK's own declarative configuration
package (``opentelemetry-configuration``, extra ``ragsight[otelconfig]``) parses and
validates the file against the configuration schema, and configure() builds the providers
from it instead of from ragsight's export settings.

Everything that can be wrong is found here, at configure() (and ``ragsight config check``)
time, as one :class:`ConfigError` naming the file and the fix: the package missing, an SDK
too old to know the variable, a file that does not exist, does not parse or does not match
the schema (with the line to fix). Nothing is left to fail later, when the application
first records telemetry.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from ragsight._config.settings import ConfigError, Problem

KEY = "otel_config_file"
ENV = "OTEL_CONFIG_FILE"
EXTRA = "ragsight[otelconfig]"
PACKAGE = "opentelemetry-configuration"
SCHEMA = "https://github.com/open-telemetry/opentelemetry-configuration"
# the loader logs each failure (with a traceback) before raising it; the ConfigError says it
_LOADER_LOGGERS = ("opentelemetry.configuration", "opentelemetry.configuration.file._loader")


def _problem(path: str, source: str, message: str) -> ConfigError:
    return ConfigError([Problem(KEY, source, path, message)])


def _sdk_supports_it() -> bool:
    try:
        from opentelemetry.sdk import environment_variables
    except ImportError:  # pragma: no cover - the SDK is a dependency of ragsight
        return False
    return getattr(environment_variables, ENV, None) == ENV


class _DropAll(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextmanager
def _loader_quiet() -> Iterator[None]:
    drop = _DropAll()
    loggers = [logging.getLogger(name) for name in _LOADER_LOGGERS]
    for each in loggers:
        each.addFilter(drop)
    try:
        yield
    finally:
        for each in loggers:
            each.removeFilter(drop)


def _line_of(path: Path, error: BaseException) -> int | None:
    """The 1-based line of the file that ``error`` (the loader's exception) is about."""
    cause = error.__cause__
    mark = getattr(cause, "problem_mark", None) or getattr(cause, "context_mark", None)
    if mark is not None:  # a YAML syntax error
        return int(mark.line) + 1
    where = list(getattr(cause, "absolute_path", ()) or ())
    if not where and cause is not None:
        where = list(getattr(cause, "path", ()) or ())
    return _line_at(path, where)


def _line_at(path: Path, where: list[Any]) -> int | None:
    """The 1-based line of the node at ``where`` (keys and indexes) in the YAML file."""
    try:
        import yaml

        node: Any = yaml.compose(path.read_text(encoding="utf-8"))
    except Exception:
        return None
    if node is None:
        return None
    for part in where:  # walk the schema error's path down the composed document
        if isinstance(node, yaml.MappingNode):
            found = [v for k, v in node.value if k.value == str(part)]
            if not found:
                break
            node = found[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
        else:
            break
    return int(node.start_mark.line) + 1


_OTLP_EXPORTERS: Final = ("otlp_http", "otlp_grpc")


def _endpoints(node: Any, where: list[Any]) -> Iterator[tuple[list[Any], str, str]]:
    """``(path, exporter kind, endpoint)`` of every OTLP exporter in the loaded model."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _endpoints(item, [*where, index])
    elif dataclasses.is_dataclass(node) and not isinstance(node, type):
        for item in dataclasses.fields(node):
            value = getattr(node, item.name)
            if item.name in _OTLP_EXPORTERS and isinstance(getattr(value, "endpoint", None), str):
                yield [*where, item.name, "endpoint"], item.name, value.endpoint
            elif value is not None:
                yield from _endpoints(value, [*where, item.name])


def _endpoint_problem(kind: str, endpoint: str) -> str | None:
    """Why an OTLP exporter cannot send to ``endpoint`` (None: it can, or it is empty,
    which an unset ``${VARIABLE}`` gives: the exporter's default endpoint)."""
    if not endpoint:
        return None
    parts = urlsplit(endpoint)
    if kind == "otlp_grpc" and parts.scheme not in {"http", "https"}:
        parts = urlsplit("//" + endpoint)  # the gRPC exporter also takes a bare host:port
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        return "is not an http(s) URL with a valid port"
    if (
        (kind == "otlp_http" and parts.scheme not in {"http", "https"})
        or not parts.hostname
        or any(ch.isspace() for ch in endpoint)
    ):
        return "is not an http(s) URL with a host"
    return None


def _bad_endpoints(path: Path, model: Any) -> list[str]:
    """What is wrong with each OTLP endpoint no exporter can send to (the schema takes any
    string there; the exporter would only fail when it first exports)."""
    found: list[str] = []
    for where, kind, endpoint in _endpoints(model, []):
        problem = _endpoint_problem(kind, endpoint)
        if problem is None:
            continue
        line = _line_at(path, where)
        at = f"{path}, line {line}" if line is not None else str(path)
        example = (
            "http://localhost:4317"
            if kind == "otlp_grpc"
            else "http://localhost:4318/v1/traces (/v1/metrics, /v1/logs)"
        )
        found.append(
            f"{at}: endpoint {endpoint!r} {problem} (at {' -> '.join(map(str, where))}); "
            f"fix the file, e.g. endpoint: {example}"
        )
    return found


# the data model's ${env:NAME} (the same as ${NAME}); "$$" escapes a literal "$"
_ENV_PREFIXED: Final = re.compile(r"(?<!\$)\$\{env:([A-Za-z_][A-Za-z0-9_]*)((?::-)[^}]*)?\}")


def _strings(node: Any) -> Iterator[str]:
    """Every string value of the loaded model."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, dict):
        for item in node.values():
            yield from _strings(item)
    elif dataclasses.is_dataclass(node) and not isinstance(node, type):
        for item in dataclasses.fields(node):
            yield from _strings(getattr(node, item.name))


def _unsubstituted(path: Path, model: Any) -> list[str]:
    """``${env:NAME}`` references the installed loader kept as text (0.66b1 substitutes only
    ``${NAME}``): a service name "${env:SERVICE}" would be exported, not an error."""
    if not any("${env:" in text for text in _strings(model)):
        return []  # none, or the loader substituted them
    import yaml

    try:
        root: Any = yaml.compose(path.read_text(encoding="utf-8"))
    except Exception:
        return []
    found: list[str] = []
    todo = [root] if root is not None else []
    while todo:
        node = todo.pop()
        if isinstance(node, yaml.MappingNode):
            todo.extend(value for _key, value in reversed(node.value))
        elif isinstance(node, yaml.SequenceNode):
            todo.extend(reversed(node.value))
        elif isinstance(node, yaml.ScalarNode):
            for match in _ENV_PREFIXED.finditer(str(node.value)):
                plain = "${" + match.group(1) + (match.group(2) or "") + "}"
                found.append(
                    f"{path}, line {node.start_mark.line + 1}: {match.group(0)} is not "
                    f"substituted by the installed {PACKAGE}; write {plain} (the same "
                    f"reference in the configuration data model)"
                )
    return found


def load(path_text: str, source: str) -> Any:
    """The file's parsed ``OpenTelemetryConfiguration``; raises ConfigError with the fix."""
    if not _sdk_supports_it():
        import opentelemetry.sdk.version as sdk_version

        raise _problem(
            path_text,
            source,
            f"is set but the installed opentelemetry-sdk {sdk_version.__version__} does not "
            f"support declarative configuration; upgrade it (pip install -U "
            f"opentelemetry-sdk '{EXTRA}') or unset {ENV}",
        )
    try:
        from opentelemetry.configuration import ConfigurationError, load_config_file
    except ImportError:
        raise _problem(
            path_text,
            source,
            f"is set but {PACKAGE} (OpenTelemetry's declarative configuration) is not "
            f"installed; install it with: pip install '{EXTRA}' (or unset {ENV} to use "
            f"ragsight's own export settings)",
        ) from None
    path = Path(path_text)
    if not path.is_file():
        raise _problem(
            path_text,
            source,
            f"{path} is not a file; point {ENV} at an OpenTelemetry configuration file "
            f"(.yaml, .yml or .json; {SCHEMA})",
        )
    try:
        key = (str(path.resolve()), path.read_bytes(), tuple(sorted(os.environ.items())))
    except OSError:
        key = None
    if key is not None and _last_loaded is not None and _last_loaded[0] == key:
        return _last_loaded[1]  # configure() validates, then builds: one schema check
    try:
        with _loader_quiet():
            model = load_config_file(path)
    except (ConfigurationError, TypeError, ValueError) as exc:
        line = _line_of(path, exc)
        where = f"{path}, line {line}" if line is not None else str(path)
        detail = str(exc).strip() or type(exc).__name__
        raise _problem(
            path_text,
            source,
            f"{where}: {detail}; fix the file (schema and examples: {SCHEMA})",
        ) from None
    bad = _unsubstituted(path, model) + _bad_endpoints(path, model)
    if bad:
        raise ConfigError([Problem(KEY, source, path_text, message) for message in bad])
    if key is not None:
        _remember(key, model)
    return model


# the last file loaded, by its path, content and the environment its ${VAR}s read; the
# model is never mutated (the build replaces the sections it extends)
_LoadKey = tuple[str, bytes, tuple[tuple[str, str], ...]]
_last_loaded: tuple[_LoadKey, Any] | None = None


def _remember(key: _LoadKey, model: Any) -> None:
    global _last_loaded
    _last_loaded = (key, model)


def problems(path_text: str, source: str) -> list[Problem]:
    """What is wrong with the file (empty when it loads), for validation's cross-checks."""
    try:
        load(path_text, source)
    except ConfigError as exc:
        return list(exc.problems)
    return []
