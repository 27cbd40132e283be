"""Secrets never show: repr, str, error messages, logs and config show all mask them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ragsight import ConfigError
from ragsight._config.settings import Secret, mask_url
from ragsight._config.validation import load_settings

TOKEN = "s3cr3t-t0ken"


def test_secret_masks_repr_str_and_format() -> None:
    secret = Secret(TOKEN)
    assert TOKEN not in repr(secret)
    assert TOKEN not in str(secret)
    assert TOKEN not in f"{secret}"
    assert secret.reveal() == TOKEN


def test_settings_repr_masks_headers_and_url_passwords(tmp_path: Path) -> None:
    settings = load_settings(
        environ={"OTEL_EXPORTER_OTLP_HEADERS": f"authorization=Bearer {TOKEN}"},
        cwd=tmp_path,
        otlp_endpoint=f"https://user:{TOKEN}@collector:4318",
    )
    assert TOKEN not in repr(settings)
    assert "authorization" in repr(settings)
    assert TOKEN in str(settings.otlp.endpoint)


def test_logging_settings_does_not_leak(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(environ={"OTEL_EXPORTER_OTLP_HEADERS": f"k={TOKEN}"}, cwd=tmp_path)
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("settings: %s / %r", settings, settings.otlp.headers)
    assert TOKEN not in caplog.text


def test_error_message_masks_a_bad_header_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"OTEL_EXPORTER_OTLP_HEADERS": f"{TOKEN}"}, cwd=tmp_path)
    assert TOKEN not in str(info.value)
    assert "otlp.headers = '****'" in str(info.value)


def test_error_message_masks_url_password(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={}, cwd=tmp_path, otlp_endpoint=f"ftp://u:{TOKEN}@h")
    assert TOKEN not in str(info.value)


def test_error_message_masks_unknown_secret_looking_keys(tmp_path: Path) -> None:
    (tmp_path / "ragsight.toml").write_text(f'api_key = "{TOKEN}"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(environ={}, cwd=tmp_path)
    assert TOKEN not in str(info.value)
    assert "api_key = '****'" in str(info.value)


def test_error_message_masks_unknown_secret_env_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"RAGSIGHT_API_TOKEN": TOKEN}, cwd=tmp_path)
    assert TOKEN not in str(info.value)


def test_mask_url_hides_secret_query_values() -> None:
    assert TOKEN not in mask_url(f"https://h/x?api_key={TOKEN}&a=1")
    assert mask_url("https://h/x?a=1") == "https://h/x?a=1"
