"""OTEL_CONFIG_FILE: OpenTelemetry's declarative configuration builds the providers.

Runs that install providers use a fresh interpreter (OpenTelemetry's global providers can
be set once per process) and the file's console exporters, whose JSON the test reads back
from the child's standard output. Failures are checked in-process: configure() raises
ConfigError before it installs anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import ragsight
from ragsight import ConfigError, names
from ragsight._config.validation import load_settings

CONSOLE_FILE = """\
file_format: "1.0"
resource:
  attributes:
    - name: service.name
      value: from-the-file
tracer_provider:
  processors:
    - simple:
        exporter:
          console: {}
meter_provider:
  readers:
    - periodic:
        interval: 60000
        exporter:
          console: {}
{views}
"""

EXPONENTIAL_VIEW = """\
  views:
    - selector:
        instrument_name: rag.operation.duration
      stream:
        aggregation:
          base2_exponential_bucket_histogram:
            max_size: 40
"""


def _console_file(views: str = "") -> str:
    return CONSOLE_FILE.replace("{views}", views)


APP = """
import logging, sys
import ragsight
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
ragsight.configure()

@ragsight.retrieval(data_source="kb-main", top_k=2)
def search(query):
    return ["a", "b"]

search("what is declarative configuration?")
ragsight.shutdown()
"""


def _run_app(
    tmp_path: Path, config_text: str, app: str = APP, **env: str
) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "otel-config.yaml"
    config.write_text(config_text)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(app)],
        cwd=tmp_path,
        env={**base, "OTEL_CONFIG_FILE": str(config), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result


def _documents(stdout: str) -> list[dict[str, Any]]:
    """The console exporters' JSON documents, one after another on standard output."""
    decoder = json.JSONDecoder()
    documents: list[dict[str, Any]] = []
    position = 0
    while True:
        while position < len(stdout) and stdout[position].isspace():
            position += 1
        if position >= len(stdout):
            return documents
        document, position = decoder.raw_decode(stdout, position)
        documents.append(document)


def _spans(stdout: str) -> list[dict[str, Any]]:
    return [d for d in _documents(stdout) if "context" in d and "name" in d]


def _metrics(stdout: str) -> dict[str, list[dict[str, Any]]]:
    """Metric name -> its data points, from every console metrics document."""
    found: dict[str, list[dict[str, Any]]] = {}
    for document in _documents(stdout):
        for resource_metrics in document.get("resource_metrics", []):
            for scope_metrics in resource_metrics["scope_metrics"]:
                for metric in scope_metrics["metrics"]:
                    points = metric["data"]["data_points"]
                    found.setdefault(metric["name"], []).extend(points)
    return found


def test_ragsight_spans_go_through_the_providers_the_file_builds(tmp_path: Path) -> None:
    result = _run_app(tmp_path, _console_file())
    (span,) = _spans(result.stdout)
    assert span["name"] == "retrieval kb-main"
    assert span["attributes"][names.GEN_AI_DATA_SOURCE_ID] == "kb-main"
    assert span["resource"]["attributes"]["service.name"] == "from-the-file"


def test_ragsight_export_settings_are_not_used_when_the_file_is_set(tmp_path: Path) -> None:
    result = _run_app(
        tmp_path,
        _console_file(),
        OTEL_SERVICE_NAME="from-the-environment",
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
    )
    (span,) = _spans(result.stdout)
    assert span["resource"]["attributes"]["service.name"] == "from-the-file"
    assert not (tmp_path / ".ragsight").exists()  # no embedded file sink either


def test_otel_sdk_disabled_is_ignored_when_the_file_is_set(tmp_path: Path) -> None:
    result = _run_app(tmp_path, _console_file(), OTEL_SDK_DISABLED="true")
    (span,) = _spans(result.stdout)
    assert span["name"] == "retrieval kb-main"
    (line,) = [line for line in result.stderr.splitlines() if "OTEL_SDK_DISABLED" in line]
    assert line.startswith("WARNING:ragsight:")
    assert "is ignored" in line
    assert str(tmp_path / "otel-config.yaml") in line


def test_otel_sdk_disabled_shows_as_ignored_in_the_settings(tmp_path: Path) -> None:
    path = tmp_path / "otel-config.yaml"
    path.write_text(_console_file())
    settings = load_settings(
        environ={"OTEL_CONFIG_FILE": str(path), "OTEL_SDK_DISABLED": "true"}, cwd=tmp_path
    )
    assert settings.disabled is False
    assert "ignored: env OTEL_SDK_DISABLED" in settings.source_of("disabled")


def test_otel_sdk_disabled_still_disables_without_the_file(tmp_path: Path) -> None:
    settings = load_settings(environ={"OTEL_SDK_DISABLED": "true"}, cwd=tmp_path)
    assert settings.disabled is True
    assert settings.source_of("disabled") == "env OTEL_SDK_DISABLED"


def test_ragsight_own_disabled_setting_still_applies_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "otel-config.yaml"
    path.write_text(_console_file())
    settings = load_settings(environ={"OTEL_CONFIG_FILE": str(path)}, cwd=tmp_path, disabled=True)
    assert settings.disabled is True


def test_configure_says_in_one_info_line_that_the_file_built_the_providers(
    tmp_path: Path,
) -> None:
    result = _run_app(tmp_path, _console_file())
    lines = [line for line in result.stderr.splitlines() if "declarative configuration" in line]
    assert len(lines) == 1
    assert lines[0].startswith("INFO:ragsight:")
    assert str(tmp_path / "otel-config.yaml") in lines[0]
    assert "env OTEL_CONFIG_FILE" in lines[0]


def test_configure_warns_naming_each_export_setting_the_file_replaces(tmp_path: Path) -> None:
    app = APP.replace("ragsight.configure()", 'ragsight.configure(sampler="always_off")')
    result = _run_app(
        tmp_path,
        _console_file(),
        app,
        OTEL_SERVICE_NAME="from-the-environment",
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
    )
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("WARNING:ragsight")]
    assert "not used" in line
    assert "otlp.endpoint (env OTEL_EXPORTER_OTLP_ENDPOINT)" in line
    assert "service_name (env OTEL_SERVICE_NAME)" in line
    assert "sampler (configure(sampler=...))" in line
    assert "${OTEL_SERVICE_NAME}" in line  # how to keep using a variable: substitute it


def test_configure_does_not_warn_when_only_the_file_is_set(tmp_path: Path) -> None:
    result = _run_app(tmp_path, _console_file())
    assert [line for line in result.stderr.splitlines() if line.startswith("WARNING")] == []


def test_every_replaced_setting_is_a_ragsight_key() -> None:
    from ragsight._config.keys import BY_NAME
    from ragsight._export import declarative as built

    replaced = [key for key in BY_NAME if built.replaced_by_file(key)]
    assert "otlp.endpoint" in replaced
    assert "spool.enabled" in replaced
    assert "shutdown_timeout" not in replaced
    assert "semconv" not in replaced
    assert "logs.export" not in replaced  # bridges Python logging into the file's provider
    assert all(key in BY_NAME for key in built.REPLACED_KEYS)


def test_ragsight_histogram_buckets_apply_when_the_file_has_no_view_for_them(
    tmp_path: Path,
) -> None:
    result = _run_app(tmp_path, _console_file())
    (point,) = _metrics(result.stdout)[names.RAG_OPERATION_DURATION.name]
    assert tuple(point["explicit_bounds"]) == names.RAG_OPERATION_DURATION.buckets


def test_a_view_in_the_file_selecting_a_ragsight_histogram_wins_over_its_buckets(
    tmp_path: Path,
) -> None:
    result = _run_app(tmp_path, _console_file(EXPONENTIAL_VIEW))
    metrics = _metrics(result.stdout)
    (duration,) = metrics[names.RAG_OPERATION_DURATION.name]
    assert "scale" in duration  # exponential, as the file asked
    assert "explicit_bounds" not in duration
    (documents,) = metrics[names.RAG_RETRIEVAL_DOCUMENTS.name]
    assert tuple(documents["explicit_bounds"]) == names.RAG_RETRIEVAL_DOCUMENTS.buckets


def _configure_with(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        ragsight.configure(otel_config_file=str(path), exporter="none")
    return caught.value


def test_a_missing_declarative_package_is_a_config_error_naming_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "otel-config.yaml"
    path.write_text(_console_file())
    monkeypatch.setitem(sys.modules, "opentelemetry.configuration", None)
    error = _configure_with(path)
    (problem,) = error.problems
    assert problem.key == "otel_config_file"
    assert problem.value == str(path)
    assert "opentelemetry-configuration" in problem.message
    assert "pip install 'ragsight[otelconfig]'" in problem.message


def test_a_file_that_does_not_match_the_schema_names_the_line_to_fix(tmp_path: Path) -> None:
    path = tmp_path / "otel-config.yaml"
    path.write_text(
        'file_format: "1.0"\n'
        "tracer_provider:\n"
        "  processors:\n"
        "    - simple:\n"
        "        exporter:\n"
        "          console: {}\n"
        "meter_provider:\n"
        "  readers:\n"
        "    - periodic:\n"
        "        interval: soon\n"
        "        exporter:\n"
        "          console: {}\n"
    )
    (problem,) = _configure_with(path).problems
    assert f"{path}, line 10:" in problem.message
    assert "interval" in problem.message
    assert "fix the file" in problem.message


OTLP_FILE = """\
file_format: "1.0"
tracer_provider:
  processors:
    - batch:
        exporter:
          {kind}:
            endpoint: {endpoint}
"""


@pytest.mark.parametrize(
    ("kind", "endpoint"),
    [
        ("otlp_http", '"not a url"'),
        ("otlp_http", "collector:4318/v1/traces"),
        ("otlp_http", "ftp://collector:4318"),
        ("otlp_http", "http://collector:99999"),
        ("otlp_grpc", '"not a url"'),
        ("otlp_grpc", "http://"),
    ],
)
def test_an_otlp_endpoint_that_is_not_a_url_names_the_line_to_fix(
    tmp_path: Path, kind: str, endpoint: str
) -> None:
    from ragsight._config.validation import load_settings

    path = tmp_path / "otel-config.yaml"
    path.write_text(OTLP_FILE.format(kind=kind, endpoint=endpoint))
    with pytest.raises(ConfigError) as caught:  # what configure() and config check load
        load_settings(None, otel_config_file=str(path))
    (problem,) = caught.value.problems
    assert f"{path}, line 7:" in problem.message
    assert "endpoint" in problem.message
    assert "http(s) URL" in problem.message


@pytest.mark.parametrize(
    ("kind", "endpoint"),
    [
        ("otlp_http", "http://collector:4318/v1/traces"),
        ("otlp_grpc", "https://collector:4317"),
        ("otlp_grpc", "collector:4317"),  # the gRPC exporter takes a bare host:port
        ("otlp_http", '"${UNSET_ENDPOINT_VARIABLE}"'),  # empty: the exporter's default
    ],
)
def test_an_otlp_endpoint_that_is_a_url_or_left_empty_is_accepted(
    tmp_path: Path, kind: str, endpoint: str
) -> None:
    from ragsight._config import declarative

    path = tmp_path / "otel-config.yaml"
    path.write_text(OTLP_FILE.format(kind=kind, endpoint=endpoint))
    assert declarative.problems(str(path), "test") == []


ENV_FILE = """\
file_format: "1.0"
resource:
  attributes:
    - name: service.name
      value: {value}
tracer_provider:
  processors:
    - simple:
        exporter:
          console: {{}}
"""


def test_an_env_prefixed_reference_the_sdk_leaves_unsubstituted_names_the_line_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the data model spells ${env:NAME} as ${NAME}; opentelemetry-configuration 0.66b1 keeps
    # it literally, which would make the service name the text "${env:SERVICE}"
    from opentelemetry.configuration import load_config_file

    from ragsight._config import declarative

    monkeypatch.setenv("SERVICE", "from-the-environment")
    path = tmp_path / "otel-config.yaml"
    path.write_text(ENV_FILE.format(value="${env:SERVICE}"))
    if load_config_file(path).resource.attributes[0].value == "from-the-environment":
        pytest.skip("the installed opentelemetry-configuration substitutes ${env:NAME}")
    (problem,) = declarative.problems(str(path), "test")
    assert f"{path}, line 5:" in problem.message
    assert "${SERVICE}" in problem.message


@pytest.mark.parametrize("value", ["${SERVICE}", "${SERVICE:-fallback}", "$${env:SERVICE}"])
def test_plain_and_escaped_references_are_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    from ragsight._config import declarative

    monkeypatch.setenv("SERVICE", "from-the-environment")
    path = tmp_path / "otel-config.yaml"
    path.write_text(ENV_FILE.format(value=value))
    assert declarative.problems(str(path), "test") == []


def test_a_file_that_is_not_yaml_names_the_line_to_fix(tmp_path: Path) -> None:
    path = tmp_path / "otel-config.yaml"
    path.write_text('file_format: "1.0"\ntracer_provider:\n  processors: [\n')
    (problem,) = _configure_with(path).problems
    assert f"{path}, line 4:" in problem.message


def _counting_loader(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    import opentelemetry.configuration as configuration

    calls: list[Path] = []
    real = configuration.load_config_file

    def counting(path: Any) -> Any:
        calls.append(Path(path))
        return real(path)

    monkeypatch.setattr(configuration, "load_config_file", counting)
    return calls


def test_the_file_is_parsed_and_validated_once_for_validation_and_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the schema check costs about 0.6 s; configure() validates, then builds
    from ragsight._config import declarative

    calls = _counting_loader(monkeypatch)
    path = tmp_path / "otel-config.yaml"
    path.write_text(_console_file())
    first = declarative.load(str(path), "test")
    assert declarative.load(str(path), "test") is first
    assert len(calls) == 1


def test_a_changed_file_or_environment_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ragsight._config import declarative

    calls = _counting_loader(monkeypatch)
    path = tmp_path / "otel-config.yaml"
    path.write_text(ENV_FILE.format(value="${SERVICE}"))
    monkeypatch.setenv("SERVICE", "one")
    assert declarative.load(str(path), "test").resource.attributes[0].value == "one"
    monkeypatch.setenv("SERVICE", "two")  # substituted at load: the environment is an input
    assert declarative.load(str(path), "test").resource.attributes[0].value == "two"
    path.write_text(ENV_FILE.format(value="three-from-the-file"))
    assert declarative.load(str(path), "test").resource.attributes[0].value.endswith("file")
    assert len(calls) == 3


def test_a_file_that_does_not_exist_is_a_config_error(tmp_path: Path) -> None:
    (problem,) = _configure_with(tmp_path / "nowhere.yaml").problems
    assert "is not a file" in problem.message
    assert "OTEL_CONFIG_FILE" in problem.message


def test_an_exporter_whose_package_is_missing_fails_at_configure_not_at_export(
    tmp_path: Path,
) -> None:
    path = tmp_path / "otel-config.yaml"
    path.write_text(
        'file_format: "1.0"\n'
        "tracer_provider:\n"
        "  processors:\n"
        "    - simple:\n"
        "        exporter:\n"
        "          otlp_file/development:\n"
        "            output_stream: stdout\n"
    )
    from ragsight._export.setup import build_providers

    settings = ragsight.Settings(otel_config_file=str(path))
    with pytest.raises(ConfigError) as caught:
        build_providers(settings)
    (problem,) = caught.value.problems
    assert "the providers cannot be built" in problem.message
    assert "opentelemetry-exporter-otlp-json-file" in problem.message


def _cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}
    return subprocess.run(
        [sys.executable, "-m", "ragsight.cli", *args],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_config_show_says_the_declarative_file_decides_export(tmp_path: Path) -> None:
    path = tmp_path / "otel-config.yaml"
    path.write_text(_console_file())
    result = _cli("config", "show", cwd=tmp_path, env={"OTEL_CONFIG_FILE": str(path)})
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"export: as the OpenTelemetry declarative configuration {path} says")


def test_config_check_fails_on_an_invalid_declarative_file(tmp_path: Path) -> None:
    path = tmp_path / "otel-config.yaml"
    path.write_text('file_format: "9.0"\n')
    result = _cli("config", "check", cwd=tmp_path, env={"OTEL_CONFIG_FILE": str(path)})
    assert result.returncode == 1
    assert "otel_config_file" in result.stderr
    assert "Unsupported file_format" in result.stderr


PROPAGATION_APP = """
import ragsight
from opentelemetry import propagate
ragsight.configure()
print(sorted(propagate.get_global_textmap().fields))
ragsight.shutdown()
"""


def _propagated_fields(tmp_path: Path, config_text: str) -> list[str]:
    config = tmp_path / "otel-config.yaml"
    config.write_text(config_text)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PROPAGATION_APP)],
        cwd=tmp_path,
        env={**base, "OTEL_CONFIG_FILE": str(config)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    fields: list[str] = json.loads(result.stdout.strip().splitlines()[-1].replace("'", '"'))
    return fields


def test_the_file_propagator_section_replaces_the_global_propagator(tmp_path: Path) -> None:
    fields = _propagated_fields(
        tmp_path, _console_file() + "propagator:\n  composite:\n    - baggage: {}\n"
    )
    assert fields == ["baggage"]


def test_without_a_propagator_section_the_default_propagators_stay(tmp_path: Path) -> None:
    assert _propagated_fields(tmp_path, _console_file()) == ["baggage", "traceparent", "tracestate"]


def test_a_file_that_says_disabled_builds_no_providers(tmp_path: Path) -> None:
    from ragsight._export.setup import build_providers

    path = tmp_path / "otel-config.yaml"
    path.write_text('file_format: "1.0"\ndisabled: true\n' + _console_file().split("\n", 1)[1])
    providers = build_providers(ragsight.Settings(otel_config_file=str(path)))
    assert (providers.tracer_provider, providers.meter_provider, providers.logger_provider) == (
        None,
        None,
        None,
    )
    assert providers.notes == [f"{path} says disabled: true; no providers were built"]


LOGGER_PROVIDER = """\
logger_provider:
  processors:
    - simple:
        exporter:
          console: {}
"""
EVALUATION_APP = """
import ragsight
ragsight.configure()

@ragsight.generation(provider="openai", model="gpt-4o-mini")
def answer(question):
    return "Paris"

answer("capital of France?")
ragsight.record_evaluation("answer_relevance", 0.8, label="relevant")
ragsight.shutdown()
"""


def test_ragsight_events_go_through_the_logger_provider_the_file_builds(tmp_path: Path) -> None:
    result = _run_app(tmp_path, _console_file() + LOGGER_PROVIDER, app=EVALUATION_APP)
    (event,) = [d for d in _documents(result.stdout) if d.get("event_name")]
    assert event["event_name"] == names.EVENT_GEN_AI_EVALUATION_RESULT
    assert event["attributes"][names.GEN_AI_EVALUATION_NAME] == "answer_relevance"
    (span,) = _spans(result.stdout)
    assert event["span_id"] == span["context"]["span_id"]  # parented to the judged answer


def test_an_sdk_without_declarative_configuration_is_a_config_error_saying_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry.sdk import environment_variables

    path = tmp_path / "otel-config.yaml"
    path.write_text(_console_file())
    monkeypatch.delattr(environment_variables, "OTEL_CONFIG_FILE")
    (problem,) = _configure_with(path).problems
    assert "does not support declarative configuration" in problem.message
    assert "upgrade it" in problem.message


def _views_left_to_the_file(selector: dict[str, Any]) -> set[str]:
    from opentelemetry.configuration.models import (
        InstrumentType,
        MeterProvider,
        View,
        ViewSelector,
        ViewStream,
    )

    from ragsight._export.declarative import with_ragsight_views

    if "instrument_type" in selector:
        selector = {**selector, "instrument_type": InstrumentType(selector["instrument_type"])}
    config = MeterProvider(readers=[], views=[View(ViewSelector(**selector), ViewStream())])
    merged, added, left = with_ragsight_views(config)
    assert len(merged.views) == 1 + len(added)
    assert set(added).isdisjoint(left)
    return set(left)


def test_a_wildcard_view_in_the_file_covers_every_histogram_it_matches() -> None:
    left = _views_left_to_the_file({"instrument_name": "rag.retrieval.*"})
    assert left == {
        s.name
        for s in names.METRICS
        if s.name.startswith("rag.retrieval.") and s.instrument == "histogram" and s.buckets
    }
    assert names.RAG_RETRIEVAL_DOCUMENTS.name in left


@pytest.mark.parametrize(
    "selector",
    [
        {"instrument_name": "rag.operation.duration", "meter_name": "another-library"},
        {"instrument_name": "rag.operation.duration", "instrument_type": "counter"},
        {"instrument_name": "rag.operation.duration", "unit": "ms"},
    ],
    ids=["another meter", "another instrument type", "another unit"],
)
def test_a_file_view_that_cannot_match_a_ragsight_histogram_leaves_its_buckets(
    selector: dict[str, Any],
) -> None:
    assert _views_left_to_the_file(selector) == set()
