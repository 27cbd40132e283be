"""Where raw configuration values come from: defaults < file < environment < arguments.

Each source yields :class:`Raw` entries that remember their origin (the file path, the
environment variable, the configure() keyword), so validation can say exactly where a bad
value was written. Nothing here judges values; unknown keys are passed on to be reported.

The file is the one named by configure(config_file=...), else by ``RAGSIGHT_CONFIG``, else
the first of ./ragsight.toml, ./ragsight.yaml, ./ragsight.yml, ./ragsight.json, else the
``[tool.ragsight]`` table of ./pyproject.toml when it has one.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragsight._config.keys import (
    BY_ARGUMENT,
    BY_NAME,
    CONFIG_ENV,
    ENV_NAMES,
    FOREIGN_ENV_PREFIXES,
    KEYS,
    MAPPING_KEYS,
    OTLP_ENV_PREFIX,
    OTLP_SPEC_ONLY_ENV,
    PATH_KEYS,
)
from ragsight._config.settings import NO_VALUE, Problem

DISCOVERED = ("ragsight.toml", "ragsight.yaml", "ragsight.yml", "ragsight.json")
MAX_FILE_BYTES = 1024 * 1024  # a settings file is a few kB; anything this big is a mistake
MAX_DEPTH = 16  # the deepest key is two levels; deeper nesting is refused, never recursed


@dataclass(frozen=True)
class Raw:
    """One value as written, before parsing."""

    key: str  # dotted key; may be unknown
    value: Any
    source: str  # human readable: "env OTEL_SERVICE_NAME", "file /x/ragsight.toml", ...
    from_env: bool = False
    env_scale: float = 1.0


@dataclass
class Gathered:
    file: Path | None
    values: list[Raw]
    problems: list[Problem]


def find_config_file(
    explicit: str | os.PathLike[str] | None, environ: Mapping[str, str], cwd: Path
) -> tuple[Path | None, str]:
    """The config file to read and why it was chosen (for the source label)."""
    if explicit is not None:
        return Path(explicit), "configure(config_file=...)"
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV]), f"env {CONFIG_ENV}"
    for name in DISCOVERED:
        if (cwd / name).is_file():
            return cwd / name, "discovered"
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file():
        try:
            if "ragsight" in _read_toml(pyproject).get("tool", {}):
                return pyproject, "discovered"
        except Exception:
            return None, ""
    return None, ""


def _read_text(path: Path) -> str:
    """The file as UTF-8 text, refused when too large or not text (before any parser runs),
    or not a regular file: a FIFO or a terminal would block configure() for ever, so the
    file is opened without blocking and checked before anything is read."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file (a FIFO, device or socket)")
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES} bytes")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValueError("UTF-16 text: save it as UTF-8")
    if b"\x00" in data:
        raise ValueError("binary content (a NUL byte)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text (byte {exc.start})") from None


def _parse_guarded(parse: Any, text: str) -> Any:
    """Run a parser; its RecursionError on absurd nesting becomes a plain ValueError."""
    try:
        return parse(text)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None


def _yaml_load(text: str) -> Any:
    """PyYAML's safe_load; its error says what and where, never quoting the file's line
    (PyYAML cuts the quoted line short, so a credential on it no longer has a shape that
    masking recognises)."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        what = "; ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise ValueError(f"not valid YAML: {what or 'syntax error'}{where}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    return _parse_guarded(tomllib.loads, _read_text(path))  # type: ignore[no-any-return]


def load_file(path: Path) -> dict[str, Any]:
    """The settings table in ``path``; raises ValueError/OSError with a readable message."""
    suffix = path.suffix.lower()
    if suffix == ".toml":
        data = _read_toml(path)
        if path.name == "pyproject.toml":
            tool = data.get("tool", {})
            data = tool.get("ragsight", {}) if isinstance(tool, dict) else {}
    elif suffix in (".yaml", ".yml"):
        data = _parse_guarded(_yaml_load, _read_text(path)) or {}
    elif suffix == ".json":
        data = _parse_guarded(json.loads, _read_text(path))
    else:
        raise ValueError(f"unknown file type {suffix!r}: use .toml, .yaml, .yml or .json")
    if not isinstance(data, dict):
        raise ValueError("the top level is not a table/mapping")
    return data


def flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Nested tables to dotted keys; known mapping-valued keys stay whole.

    Iterative, and refuses (ValueError) tables nested deeper than :data:`MAX_DEPTH`."""
    stack: list[tuple[Mapping[Any, Any], str, int]] = [(data, prefix, 0)]
    while stack:
        table, head, depth = stack.pop(0)
        for raw_key, value in table.items():
            key = f"{head}{raw_key}"
            if key in MAPPING_KEYS or key in BY_NAME or not isinstance(value, dict):
                yield key, value
            elif depth + 1 >= MAX_DEPTH:
                raise ValueError(f"{key[:60]!r}... is nested deeper than {MAX_DEPTH} levels")
            else:
                stack.append((value, key + ".", depth + 1))


def _beside(config_file: Path, value: Any) -> Any:
    """A relative path written in ``config_file``, as a path from that file's directory
    (``~`` paths and anything that is not a non-empty string are left as written)."""
    if not isinstance(value, str) or not value.strip() or value.startswith("~"):
        return value
    if Path(value).is_absolute():
        return value
    return str(config_file.parent / value)


def file_values(path: Path) -> tuple[list[Raw], list[Problem]]:
    label = f"file {path}"
    try:
        data = load_file(path)
    except FileNotFoundError:
        return [], [Problem("config_file", label, NO_VALUE, "file not found")]
    except Exception as exc:
        return [], [Problem("config_file", label, NO_VALUE, f"cannot be read: {exc}")]
    try:
        return [
            Raw(key, _beside(path, value) if key in PATH_KEYS else value, label)
            for key, value in flatten(data)
        ], []
    except ValueError as exc:
        return [], [Problem("config_file", label, NO_VALUE, f"cannot be read: {exc}")]


def env_values(environ: Mapping[str, str]) -> list[Raw]:
    """Known variables (first set name per key wins) plus unknown RAGSIGHT_* ones and
    OTEL_EXPORTER_OTLP_* ones that are near-misses of a variable ragsight reads (a
    misspelt endpoint would otherwise send telemetry somewhere else, silently)."""
    out: list[Raw] = []
    for key in KEYS:
        for env_name in key.env:
            value = environ.get(env_name)
            if value is not None and value.strip() != "":
                out.append(Raw(key.name, value, f"env {env_name}", True, key.env_scale))
                break
    for env_name, value in environ.items():
        if (
            env_name.startswith("RAGSIGHT_")
            and env_name not in ENV_NAMES
            and not env_name.startswith(FOREIGN_ENV_PREFIXES)
        ) or _misspelt_otlp_variable(env_name):
            out.append(Raw(f"${env_name}", value, f"env {env_name}", True))
    return out


def _misspelt_otlp_variable(env_name: str) -> bool:
    if (
        not env_name.startswith(OTLP_ENV_PREFIX)
        or env_name in ENV_NAMES
        or env_name in OTLP_SPEC_ONLY_ENV
    ):
        return False
    import difflib

    known = [e for e in ENV_NAMES if e.startswith(OTLP_ENV_PREFIX)]
    return bool(difflib.get_close_matches(env_name, known, n=1, cutoff=0.85))


def argument_values(arguments: Mapping[str, Any]) -> list[Raw]:
    out: list[Raw] = []
    for name, value in arguments.items():
        key = BY_ARGUMENT.get(name)
        dotted = key.name if key is not None else f"@{name}"
        out.append(Raw(dotted, value, f"configure({name}=...)"))
    return out


def gather(
    arguments: Mapping[str, Any],
    *,
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> Gathered:
    """All raw values, lowest precedence first; later entries for a key win."""
    environ = os.environ if environ is None else environ
    path, _why = find_config_file(config_file, environ, Path.cwd() if cwd is None else Path(cwd))
    values: list[Raw] = []
    problems: list[Problem] = []
    if path is not None:
        file_raw, file_problems = file_values(path)
        values += file_raw
        problems += file_problems
    values += env_values(environ)
    values += argument_values(arguments)
    return Gathered(path, values, problems)
