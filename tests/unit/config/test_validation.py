"""Validation: one ConfigError listing every problem with key, source, value and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

import ragsight
from ragsight import ConfigError
from ragsight._config.keys import KEYS
from ragsight._config.validation import load_settings
from ragsight._core.policy import BREAKER_LIMITS


def _problems(tmp_path: Path, env: dict[str, str] | None = None, **arguments: object) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env or {}, cwd=tmp_path, **arguments)
    return str(info.value)


def test_every_problem_is_reported_in_one_error(tmp_path: Path) -> None:
    env = {"OTEL_EXPORTER_OTLP_PROTOCOL": "htp", "OTEL_TRACES_SAMPLER_ARG": "2"}
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env, cwd=tmp_path, retry_attempts=0)
    assert [p.key for p in info.value.problems] == [
        "sampler_arg",
        "otlp.protocol",
        "retry.attempts",
    ]
    assert str(info.value).startswith("ragsight configuration has 3 problems:")


def test_problem_names_key_env_source_value_and_allowed(tmp_path: Path) -> None:
    text = _problems(tmp_path, {"OTEL_EXPORTER_OTLP_PROTOCOL": "htp"})
    assert (
        "otlp.protocol = 'htp' (from env OTEL_EXPORTER_OTLP_PROTOCOL): not one of the allowed "
        "values; allowed: one of grpc, http/protobuf" in text
    )


def test_problem_names_the_file_path(tmp_path: Path) -> None:
    path = tmp_path / "ragsight.yaml"
    path.write_text("otlp:\n  timeout: -1\n")
    text = _problems(tmp_path)
    assert f"otlp.timeout = -1 (from file {path}): out of range" in text


def test_problem_names_the_configure_argument(tmp_path: Path) -> None:
    text = _problems(tmp_path, content_max_length="long")
    assert (
        "content.max_length = 'long' (from configure(content_max_length=...)): not an integer"
        in text
    )


def test_invalid_higher_source_does_not_fall_back_to_a_lower_one(tmp_path: Path) -> None:
    (tmp_path / "ragsight.toml").write_text('sampler = "always_on"\n')
    text = _problems(tmp_path, {"OTEL_TRACES_SAMPLER": "sometimes"})
    assert "sampler = 'sometimes'" in text


@pytest.mark.parametrize(
    ("key", "bad"),
    [
        ("disabled", "maybe"),
        ("file_sink.backups", "0"),
        ("otlp.endpoint", "localhost:4317"),
        ("otlp.endpoint", "http://host:notaport"),
        ("otlp.compression", "brotli"),
        ("otlp.timeout", "0"),
        ("batch.max_queue_size", "0"),
        ("batch.metric_export_interval", "nan"),
        ("sampler_arg", "-0.1"),
        ("content.redact_patterns", "(unclosed"),
        ("content.redact_patterns", "[not json"),
        ("logs.level", "loud"),
        ("file_sink.max_bytes", "10"),
        ("breaker.failure_rate_threshold", "0"),
        ("retry.jitter", "random"),
        ("resource_attributes", "novalue"),
    ],
)
def test_bad_environment_values_are_rejected_with_what_is_allowed(
    key: str, bad: str, tmp_path: Path
) -> None:
    spec = next(k for k in KEYS if k.name == key)
    with pytest.raises(ConfigError) as info:
        load_settings(environ={spec.env[0]: bad}, cwd=tmp_path)
    (problem,) = info.value.problems
    assert problem.key == key
    assert problem.source == f"env {spec.env[0]}"
    assert problem.message.endswith("allowed: " + spec.allowed)


@pytest.mark.parametrize(
    ("value", "message"),
    [(True, "not an integer"), (1.5, "not an integer"), ([1], "not an integer")],
)
def test_file_values_must_have_the_right_type(value: object, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={}, cwd=tmp_path, retry_attempts=value)
    assert info.value.problems[0].message.startswith(message)


def test_unknown_file_key_gets_a_did_you_mean(tmp_path: Path) -> None:
    (tmp_path / "ragsight.toml").write_text('[otlp]\nendpiont = "http://x:1"\n')
    text = _problems(tmp_path)
    assert "otlp.endpiont" in text
    assert "unknown key; did you mean 'otlp.endpoint'?" in text


def test_unknown_ragsight_env_variable_gets_a_did_you_mean(tmp_path: Path) -> None:
    text = _problems(tmp_path, {"RAGSIGHT_RETRY_ATEMPTS": "3"})
    assert "did you mean 'RAGSIGHT_RETRY_ATTEMPTS'?" in text


def test_unknown_configure_argument_gets_a_did_you_mean(tmp_path: Path) -> None:
    text = _problems(tmp_path, servce_name="x")
    assert "unknown configure() argument; did you mean 'service_name'?" in text


def test_unknown_key_without_a_close_match_has_no_suggestion(tmp_path: Path) -> None:
    (tmp_path / "ragsight.json").write_text('{"zzzz": 1}')
    text = _problems(tmp_path)
    assert "zzzz = 1" in text
    assert "unknown key" in text
    assert "did you mean" not in text


def test_missing_explicit_file_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_unparseable_file_is_a_problem_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "ragsight.toml"
    path.write_text("service_name = \n")
    with pytest.raises(ConfigError, match=f"from file {path}.*cannot be read"):
        load_settings(path, environ={})


def test_unknown_file_type_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "ragsight.ini"
    path.write_text("x=1")
    with pytest.raises(ConfigError, match="unknown file type"):
        load_settings(path, environ={})


def test_top_level_must_be_a_table(tmp_path: Path) -> None:
    path = tmp_path / "ragsight.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="not a table"):
        load_settings(path, environ={})


@pytest.mark.parametrize(
    ("arguments", "key"),
    [
        (
            {"batch_max_queue_size": 10, "batch_max_export_batch_size": 20},
            "batch.max_export_batch_size",
        ),
        ({"exporter": "otlp"}, "exporter"),
    ],
)
def test_inconsistent_combinations_are_rejected(
    arguments: dict[str, object], key: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={}, cwd=tmp_path, **arguments)
    assert [p.key for p in info.value.problems] == [key]


def test_small_queue_shrinks_the_default_batch_size(tmp_path: Path) -> None:
    settings = load_settings(environ={"OTEL_BSP_MAX_QUEUE_SIZE": "100"}, cwd=tmp_path)
    assert settings.batch.max_export_batch_size == 100


def test_empty_environment_variable_counts_as_unset(tmp_path: Path) -> None:
    assert load_settings(environ={"OTEL_SERVICE_NAME": ""}, cwd=tmp_path).service_name is None


def test_empty_service_name_argument_is_rejected(tmp_path: Path) -> None:
    assert "service_name = '' (from configure(service_name=...))" in _problems(
        tmp_path, service_name=""
    )


@pytest.mark.parametrize(
    ("toml", "key", "message"),
    [
        ("disabled = 3\n", "disabled", "not a boolean"),
        (
            "[content]\nsecret_argument_names = [1, 2]\n",
            "content.secret_argument_names",
            "not a list of strings",
        ),
        (
            "[content]\nredact_patterns = 5\n",
            "content.redact_patterns",
            "not a list of regular expressions",
        ),
        ("[otlp.headers]\nauthorization = true\n", "otlp.headers", "is not a string"),
        ("resource_attributes = 7\n", "resource_attributes", "not a key=value list"),
        ("service_name = 7\n", "service_name", "not a non-empty string"),
        ('sampler = "ALWAYS_SOMETIMES"\n', "sampler", "not one of the allowed values"),
        ('[content]\ncapture_to = "disk"\n', "content.capture_to", "not one of the allowed"),
        ("[breaker]\nwindow = 0\n", "breaker.window", "out of range"),
    ],
)
def test_bad_file_values_name_the_key_and_the_file(
    toml: str, key: str, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "ragsight.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_settings(environ={}, cwd=tmp_path)
    (problem,) = info.value.problems
    assert problem.key == key
    assert problem.source == f"file {path}"
    assert message in problem.message


def test_foreign_ragsight_variables_of_the_stack_are_not_reported(tmp_path: Path) -> None:
    env = {"RAGSIGHT_OTELCOL_REPLAY_GLOB": "/x/*.jsonl", "RAGSIGHT_CONFIG": ""}
    assert load_settings(environ=env, cwd=tmp_path).service_name is None


@pytest.mark.parametrize(
    ("variable", "value", "key"),
    [
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json", "otlp.traces_protocol"),
        ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "brotli", "otlp.metrics_compression"),
        ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "soon", "otlp.logs_timeout"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "no-equals-sign", "otlp.traces_headers"),
    ],
)
def test_per_signal_otlp_variables_are_validated(
    variable: str, value: str, key: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={variable: value}, cwd=tmp_path)
    assert [p.key for p in info.value.problems] == [key]
    assert variable in info.value.problems[0].source


def test_per_signal_headers_from_a_file_are_a_table(tmp_path: Path) -> None:
    (tmp_path / "ragsight.toml").write_text('[otlp.traces_headers]\n"x-api-key" = "abc"\n')
    settings = load_settings(environ={}, cwd=tmp_path)
    headers = settings.otlp.for_signal("traces").headers
    assert {k: v.reveal() for k, v in headers.items()} == {"x-api-key": "abc"}
    assert "abc" not in repr(settings)


@pytest.mark.parametrize(
    ("variable", "meant"),
    [
        ("OTEL_EXPORTER_OTLP_ENDPONT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ("OTEL_EXPORTER_OTLP_HEADRES", "OTEL_EXPORTER_OTLP_HEADERS"),
        ("OTEL_EXPORTER_OTLP_TRACE_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
    ],
)
def test_misspelt_otlp_variable_is_a_problem_with_a_did_you_mean(
    variable: str, meant: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={variable: "http://collector:4318"}, cwd=tmp_path)
    (problem,) = info.value.problems
    assert problem.key == variable
    assert problem.message == f"unknown OpenTelemetry environment variable; did you mean {meant!r}?"


@pytest.mark.parametrize(
    "variable",
    [
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        "OTEL_EXPORTER_OTLP_SOMETHING_A_VENDOR_READS",
        "OTEL_LOGS_EXPORTER",
    ],
)
def test_other_opentelemetry_variables_are_left_alone(variable: str, tmp_path: Path) -> None:
    load_settings(environ={variable: "x"}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("breaker_consecutive_failures", 10**30),  # OverflowError building the breaker
        ("breaker_buckets", 10**9),  # three lists of 10**9 counts per breaker
    ],
)
def test_a_breaker_count_no_breaker_can_hold_is_refused(
    argument: str, value: int, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={}, cwd=tmp_path, **{argument: value})
    assert "out of range" in str(info.value)
    with pytest.raises(ValueError):  # the breaker refuses it alike
        ragsight.CircuitBreaker("refused", **{argument.removeprefix("breaker_"): value})


def test_the_largest_accepted_breaker_counts_build_a_working_breaker(tmp_path: Path) -> None:
    largest = {
        f"breaker_{name}": limit.maximum if limit.maximum is not None else 10**30
        for name, limit in BREAKER_LIMITS.items()
        if limit.type is int
    }
    settings = load_settings(environ={}, cwd=tmp_path, **largest)
    counts = {name[8:]: settings.get(name.replace("_", ".", 1)) for name in largest}
    breaker = ragsight.CircuitBreaker("largest-counts", **counts)
    assert breaker(lambda: 42)() == 42
