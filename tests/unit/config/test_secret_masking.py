"""No secret is ever printed: error messages, reprs and config show hide credentials for
known and unknown keys alike, by key name and by value shape (issue 11, item 1)."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ragsight
from ragsight import ConfigError
from ragsight._config.masking import mask, scrub, secret_shaped
from ragsight._config.validation import load_settings

TOKEN = "SECRET123abcXYZ"

SECRET_VALUES = [
    f"authorization=Bearer {TOKEN}",
    f"Bearer {TOKEN}",
    f"x-api-key={TOKEN},x-other=1",
    f"sk-{TOKEN}",
    f"sk-ant-api03-{TOKEN}",
    f"AKIA{TOKEN.upper()}0",
    f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.{TOKEN}",
    f"https://user:{TOKEN}@collector:4318",
    f"https://collector:4318/v1/traces?api_key={TOKEN}",
    f"ghp_{TOKEN}",
    f"k1=v1,dd-api-key={TOKEN}",
    f"{TOKEN}9f8e7d6c5b4a39281706f5e4",
]


def _message_of(**kwargs: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(**kwargs)
    return str(info.value)


@pytest.mark.parametrize(
    "variable", ["OTEL_EXPORTER_OTLP_HEADER", "RAGSIGHT_OTLP_HEADERS", "RAGSIGHT_OTLP_HEADER"]
)
def test_a_misspelt_header_variable_does_not_print_its_bearer_token(
    variable: str, tmp_path: Path
) -> None:
    text = _message_of(environ={variable: f"authorization=Bearer {TOKEN}"}, cwd=tmp_path)
    assert variable in text
    assert TOKEN not in text


def test_a_misspelt_configure_argument_does_not_print_its_value(tmp_path: Path) -> None:
    text = _message_of(environ={}, cwd=tmp_path, otlp_header=f"authorization=Bearer {TOKEN}")
    assert "otlp_header" in text
    assert TOKEN not in text


def test_a_misspelt_file_key_does_not_print_its_value(tmp_path: Path) -> None:
    (tmp_path / "ragsight.toml").write_text(f'[otlp]\nheader = "authorization=Bearer {TOKEN}"\n')
    text = _message_of(environ={}, cwd=tmp_path)
    assert "otlp.header" in text
    assert TOKEN not in text


def test_configure_itself_raises_without_the_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        ragsight.configure(config_file=tmp_path / "absent.toml", otlp_header=f"Bearer {TOKEN}")
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(info.value.problems)


@pytest.mark.parametrize("value", SECRET_VALUES)
def test_secret_shaped_values_are_masked_under_a_harmless_unknown_key(
    value: str, tmp_path: Path
) -> None:
    text = _message_of(environ={"RAGSIGHT_COLOUR": value}, cwd=tmp_path)
    assert TOKEN not in text
    assert TOKEN.upper() not in text


@pytest.mark.parametrize("value", SECRET_VALUES)
def test_secret_shaped_values_are_masked_under_a_known_key_that_refuses_them(
    value: str, tmp_path: Path
) -> None:
    text = _message_of(environ={"RAGSIGHT_SHUTDOWN_TIMEOUT": value}, cwd=tmp_path)
    assert "shutdown_timeout" in text
    assert TOKEN not in text


def test_a_yaml_parse_error_quoting_the_line_does_not_show_the_token(tmp_path: Path) -> None:
    config = tmp_path / "ragsight.yaml"
    config.write_text(f"otlp:\n  headers: {{authorization: Bearer {TOKEN}\n")
    text = _message_of(environ={}, cwd=tmp_path)
    assert str(config) in text
    assert TOKEN not in text


def test_harmless_values_are_still_shown(tmp_path: Path) -> None:
    text = _message_of(environ={"RAGSIGHT_SERVICE_NAMEE": "checkout-api"}, cwd=tmp_path)
    assert "'checkout-api'" in text
    assert "did you mean" in text


_names = st.text(alphabet=string.ascii_letters + "_.", min_size=1, max_size=30)
# A credential's random core: with a digit, so it can't be a word of the message's own text
# (a core "configuratio" would match "configuration" without any leak).
_secret_core = st.text(
    alphabet=string.ascii_letters + string.digits, min_size=12, max_size=40
).filter(lambda s: any(c.isdigit() for c in s))
_shapes = st.sampled_from(
    [
        "Bearer {}",
        "authorization=Bearer {}",
        "sk-{}",
        "https://u:{}@h:1",
        "eyJhbGciOi.{}",
        "ghp_{}",
        "x-api-key={}",
        "a=b,token={}",
        "hf_{}",
        "sk_live_{}",
        "glpat-{}",
        "pypi-{}",
        "/srv/https://u:{}@h/x",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_names, shape=_shapes, core=_secret_core)
def test_no_generated_secret_survives_masking_under_any_key_name(
    name: str, shape: str, core: str
) -> None:
    value = shape.format(core)
    shown = repr(mask(name, value))
    assert core not in shown.replace(name, "<name>")


@settings(max_examples=200, deadline=None)
@given(
    suffix=st.text(alphabet=string.ascii_uppercase + "_", min_size=1, max_size=20),
    shape=_shapes,
    core=_secret_core,
)
def test_no_generated_secret_appears_in_a_config_error(
    suffix: str, shape: str, core: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    environ = {f"RAGSIGHT_X{suffix}": shape.format(core)}
    with pytest.raises(ConfigError) as info:  # an unknown RAGSIGHT_* variable is refused
        load_settings(environ=environ, cwd=tmp_path_factory.getbasetemp())
    assert core not in str(info.value).replace(f"RAGSIGHT_X{suffix}", "<name>")


@settings(max_examples=200, deadline=None)
@given(
    prefix=st.text(alphabet=string.ascii_lowercase + " :=-", max_size=40),
    shape=_shapes,
    core=_secret_core,
)
def test_scrub_hides_a_credential_inside_free_text(prefix: str, shape: str, core: str) -> None:
    secret = shape.format(core)
    if "=" in secret:  # header lists are whole values, not phrases in text
        secret = secret.split("=", 1)[1] if "Bearer" in secret else "Bearer " + core
    assert core not in scrub(f"{prefix} {secret} trailing words").replace(prefix, "<prefix>")


def test_shape_detection_spares_ordinary_names_and_paths() -> None:
    for harmless in ("checkout-api", "/var/lib/app/ragsight-telemetry", "http://collector:4318"):
        assert not secret_shaped(harmless)


# More value shapes of the class (review of issue 11): each is masked under a harmless
# unknown key and refused without being echoed by a known key.
MORE_SECRET_VALUES = [
    "hf_abcdefghijklmnopqrstuvwxyzabcdefgh",  # Hugging Face token (letters only)
    "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
    "sk_live_51HabcdefghijklmnOPQRST",  # Stripe secret key
    "rk_test_51HabcdefghijklmnOPQRST",
    "pypi-AgEIcHlwaS5vcmcCJDAwMDAwMDAw",
    "dXNlcjpodW50ZXIyaHVudGVy",  # user:password in base64, as a bare Basic credential
]


@pytest.mark.parametrize("value", MORE_SECRET_VALUES)
def test_more_api_key_shapes_are_secret_shaped(value: str) -> None:
    assert secret_shaped(value)
    assert value not in repr(mask("nested.x.y", value))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OTEL_SERVICE_NAME", f"sk-{TOKEN}"),
        ("RAGSIGHT_ENVIRONMENT", f"Bearer {TOKEN}"),
        ("OTEL_RESOURCE_ATTRIBUTES", f"team=payments,note=ghp_{TOKEN}"),
        ("RAGSIGHT_FILE_SINK_DIRECTORY", f"/data/https://u:{TOKEN}@h/x"),
    ],
)
def test_settings_repr_masks_secret_shaped_values_of_ordinary_keys(
    variable: str, value: str, tmp_path: Path
) -> None:
    settings = load_settings(environ={variable: value}, cwd=tmp_path)
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings)


def test_settings_repr_still_shows_harmless_values(tmp_path: Path) -> None:
    settings = load_settings(
        environ={"OTEL_SERVICE_NAME": "checkout-api", "OTEL_RESOURCE_ATTRIBUTES": "team=pay"},
        cwd=tmp_path,
    )
    shown = repr(settings)
    assert "service_name='checkout-api'" in shown
    assert "'team': 'pay'" in shown
    assert "shutdown_timeout=5.0" in shown


@pytest.mark.parametrize("suffix", [".yaml", ".toml", ".json"])
def test_a_parse_error_does_not_quote_a_truncated_secret(suffix: str, tmp_path: Path) -> None:
    # The YAML parser quotes the offending line cut to a few characters, which no shape
    # recognises any more ("AKIAIOSFODNN7EX ..."): no line of the file is quoted at all.
    config = tmp_path / f"ragsight{suffix}"
    secret = "AKIAIOSFODNN7EXAMPLE"
    config.write_text(
        {
            ".yaml": f'otlp:\n  headers: {{authorization: "{secret}"\n  x: [\n',
            ".toml": f'[otlp]\nheaders = "{secret}\n',
            ".json": f'{{"otlp": {{"headers": "{secret}" ',
        }[suffix]
    )
    text = _message_of(environ={}, cwd=tmp_path)
    assert str(config) in text
    assert "line " in text
    assert "IOSFODNN" not in text


@pytest.mark.parametrize(
    "variable", ["RAGSIGHT_REDIS_PASS", "RAGSIGHT_DB_PASSPHRASE", "RAGSIGHT_SMTP_PASS"]
)
def test_an_unknown_variable_named_pass_does_not_print_its_plain_value(
    variable: str, tmp_path: Path
) -> None:
    text = _message_of(
        environ={variable: "hunter2", "OTEL_EXPORTER_OTLP_HEADERZ": "x"}, cwd=tmp_path
    )
    assert "hunter2" not in text


def test_a_wrong_environ_argument_does_not_print_the_environment(tmp_path: Path) -> None:
    environ = {"PGPASS": "hunter2", "HOME": "/root", "SHLVL": 1}
    with pytest.raises(ConfigError) as info:
        ragsight.configure(environ=environ, cwd=tmp_path)
    assert "environ" in str(info.value)
    assert "hunter2" not in str(info.value)
