"""Settings precedence: defaults < config file < environment < configure() arguments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragsight._config.validation import load_settings

TOML = 'service_name = "from-file"\n[otlp]\nendpoint = "http://file:4318"\n'
YAML = "service_name: from-file\notlp:\n  endpoint: http://file:4318\n"
JSON = json.dumps({"service_name": "from-file", "otlp": {"endpoint": "http://file:4318"}})
PYPROJECT = (
    '[project]\nname = "x"\n[tool.ragsight]\nservice_name = "from-file"\n'
    '[tool.ragsight.otlp]\nendpoint = "http://file:4318"\n'
)
FILES = {
    "ragsight.toml": TOML,
    "ragsight.yaml": YAML,
    "ragsight.yml": YAML,
    "ragsight.json": JSON,
    "pyproject.toml": PYPROJECT,
}


@pytest.fixture(params=sorted(FILES))
def config_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / request.param
    path.write_text(FILES[request.param])
    return path


def test_defaults_apply_when_nothing_is_set(tmp_path: Path) -> None:
    settings = load_settings(environ={}, cwd=tmp_path)
    assert settings.service_name is None
    assert settings.otlp.protocol == "http/protobuf"
    assert settings.uses_file_sink()
    assert settings.source_of("otlp.protocol") == "default"


def test_file_overrides_defaults(config_file: Path) -> None:
    settings = load_settings(config_file, environ={}, cwd=config_file.parent)
    assert settings.service_name == "from-file"
    assert settings.otlp.endpoint == "http://file:4318"
    assert settings.source_of("service_name") == f"file {config_file}"


def test_file_is_discovered_in_the_working_directory(config_file: Path) -> None:
    settings = load_settings(environ={}, cwd=config_file.parent)
    assert settings.service_name == "from-file"


def test_file_path_can_come_from_ragsight_config(config_file: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    settings = load_settings(environ={"RAGSIGHT_CONFIG": str(config_file)}, cwd=elsewhere)
    assert settings.service_name == "from-file"


def test_pyproject_without_a_ragsight_table_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load_settings(environ={}, cwd=tmp_path).service_name is None


def test_environment_overrides_file(config_file: Path) -> None:
    env = {"OTEL_SERVICE_NAME": "from-env", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4318"}
    settings = load_settings(config_file, environ=env)
    assert settings.service_name == "from-env"
    assert settings.otlp.endpoint == "http://env:4318"
    assert settings.source_of("otlp.endpoint") == "env OTEL_EXPORTER_OTLP_ENDPOINT"


def test_arguments_override_environment_and_file(config_file: Path) -> None:
    settings = load_settings(
        config_file,
        environ={"OTEL_SERVICE_NAME": "from-env"},
        service_name="from-arg",
        otlp_endpoint="http://arg:4317",
    )
    assert settings.service_name == "from-arg"
    assert settings.otlp.endpoint == "http://arg:4317"
    assert settings.source_of("service_name") == "configure(service_name=...)"


def test_none_argument_leaves_the_lower_source_in_place(tmp_path: Path) -> None:
    settings = load_settings(environ={"OTEL_SERVICE_NAME": "env"}, cwd=tmp_path, service_name=None)
    assert settings.service_name == "env"


def test_ragsight_variable_wins_over_the_genai_capture_variable(tmp_path: Path) -> None:
    env = {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}
    assert load_settings(environ=env, cwd=tmp_path).content.capture is True
    env["RAGSIGHT_CONTENT_CAPTURE"] = "false"
    assert load_settings(environ=env, cwd=tmp_path).content.capture is False


@pytest.mark.parametrize(
    ("env", "key", "expected"),
    [
        (
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:1/v1/traces"},
            "otlp.traces_endpoint",
            "http://t:1/v1/traces",
        ),
        (
            {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://m:1"},
            "otlp.metrics_endpoint",
            "http://m:1",
        ),
        ({"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://l:1"}, "otlp.logs_endpoint", "http://l:1"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "otlp.protocol", "grpc"),
        ({"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"}, "otlp.compression", "gzip"),
        ({"OTEL_EXPORTER_OTLP_TIMEOUT": "2500"}, "otlp.timeout", 2.5),
        ({"OTEL_METRIC_EXPORT_INTERVAL": "500"}, "batch.metric_export_interval", 0.5),
        ({"OTEL_BSP_SCHEDULE_DELAY": "200"}, "batch.schedule_delay", 0.2),
        ({"OTEL_BSP_MAX_QUEUE_SIZE": "100"}, "batch.max_queue_size", 100),
        ({"OTEL_TRACES_SAMPLER": "traceidratio"}, "sampler", "traceidratio"),
        ({"OTEL_TRACES_SAMPLER_ARG": "0.25"}, "sampler_arg", 0.25),
        ({"OTEL_SDK_DISABLED": "TRUE"}, "disabled", True),
        (
            {"OTEL_RESOURCE_ATTRIBUTES": "team=search,region=eu%2Dwest"},
            "resource_attributes",
            {"team": "search", "region": "eu-west"},
        ),
        ({"RAGSIGHT_CONTENT_MAX_LENGTH": "64"}, "content.max_length", 64),
        (
            {"RAGSIGHT_CONTENT_REDACT_PATTERNS": '["\\\\d{4}", "a,b"]'},
            "content.redact_patterns",
            ("\\d{4}", "a,b"),
        ),
        (
            {"RAGSIGHT_CONTENT_SECRET_ARGUMENT_NAMES": "pin, otp"},
            "content.secret_argument_names",
            ("pin", "otp"),
        ),
        ({"RAGSIGHT_BREAKER_FAILURE_RATE_THRESHOLD": "0.3"}, "breaker.failure_rate_threshold", 0.3),
        ({"RAGSIGHT_RETRY_ATTEMPTS": "7"}, "retry.attempts", 7),
        ({"RAGSIGHT_RETRY_JITTER": "Equal"}, "retry.jitter", "equal"),
        ({"RAGSIGHT_LOGS_FORMAT": "json"}, "logs.format", "json"),
        ({"RAGSIGHT_FILE_SINK_DIRECTORY": "/tmp/x"}, "file_sink.directory", "/tmp/x"),
    ],
)
def test_each_environment_variable_sets_its_key(
    env: dict[str, str], key: str, expected: object, tmp_path: Path
) -> None:
    settings = load_settings(environ=env, cwd=tmp_path)
    value = settings.get(key)
    assert (dict(value) if key == "resource_attributes" else value) == expected
    assert settings.source_of(key) == f"env {next(iter(env))}"


def test_otlp_headers_from_env_are_parsed_and_kept_secret(tmp_path: Path) -> None:
    env = {"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20abc,x-team=t"}
    headers = load_settings(environ=env, cwd=tmp_path).otlp.headers
    assert {k: v.reveal() for k, v in headers.items()} == {
        "authorization": "Bearer abc",
        "x-team": "t",
    }


def test_file_sections_map_onto_resilience_defaults(tmp_path: Path) -> None:
    path = tmp_path / "ragsight.toml"
    path.write_text("[breaker]\nminimum_calls = 3\n[retry]\nmax_delay = 2.5\n")
    settings = load_settings(path, environ={})
    assert settings.breaker.minimum_calls == 3
    assert settings.retry.max_delay == 2.5


def test_equal_values_from_different_sources_are_equal_settings(tmp_path: Path) -> None:
    a = load_settings(environ={"OTEL_SERVICE_NAME": "s"}, cwd=tmp_path)
    b = load_settings(environ={}, cwd=tmp_path, service_name="s")
    assert a == b
