"""The outage spool's keys (spool.enabled, spool.directory, spool.max_bytes, spool.max_age):
their defaults, their environment variables, and the ConfigError that refuses what the
spool would refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragsight import ConfigError
from ragsight._config.validation import load_settings


def _problem(tmp_path: Path, env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env, cwd=tmp_path)
    (problem,) = info.value.problems
    return str(problem)


def test_the_spool_is_off_with_a_small_bound_by_default(tmp_path: Path) -> None:
    spool = load_settings(environ={}, cwd=tmp_path).spool
    assert (spool.enabled, spool.directory) == (False, None)
    assert (spool.max_bytes, spool.max_age) == (64 * 1024 * 1024, 3600.0)


def test_every_spool_key_reads_its_ragsight_environment_variable(tmp_path: Path) -> None:
    env = {
        "RAGSIGHT_SPOOL_ENABLED": "true",
        "RAGSIGHT_SPOOL_DIRECTORY": "/var/spool/app",
        "RAGSIGHT_SPOOL_MAX_BYTES": str(8 * 1024 * 1024),
        "RAGSIGHT_SPOOL_MAX_AGE": "600",
    }
    spool = load_settings(environ=env, cwd=tmp_path).spool
    assert (spool.enabled, spool.directory) == (True, "/var/spool/app")
    assert (spool.max_bytes, spool.max_age) == (8 * 1024 * 1024, 600.0)


def test_spool_keys_come_from_a_file_section(tmp_path: Path) -> None:
    config = tmp_path / "ragsight.toml"
    config.write_text("[spool]\nenabled = true\nmax_bytes = 2097152\nmax_age = 90\n")
    spool = load_settings(config, environ={}, cwd=tmp_path).spool
    assert (spool.enabled, spool.max_bytes, spool.max_age) == (True, 2097152, 90.0)


@pytest.mark.parametrize(
    ("variable", "value", "allowed"),
    [
        ("RAGSIGHT_SPOOL_MAX_BYTES", "1000", "an integer >= 1048576"),  # below one big batch
        ("RAGSIGHT_SPOOL_MAX_BYTES", str(2 << 30), "<= 1073741824"),
        ("RAGSIGHT_SPOOL_MAX_BYTES", "1.5e6", "not an integer"),
        ("RAGSIGHT_SPOOL_MAX_AGE", "0.5", "a number >= 1"),
        ("RAGSIGHT_SPOOL_MAX_AGE", "inf", "<= 604800"),
        ("RAGSIGHT_SPOOL_MAX_AGE", "nan", "a number"),
        ("RAGSIGHT_SPOOL_ENABLED", "maybe", "true or false"),
    ],
)
def test_a_spool_value_the_spool_would_refuse_is_a_config_error(
    variable: str, value: str, allowed: str, tmp_path: Path
) -> None:
    text = _problem(tmp_path, {variable: value})
    key = variable.removeprefix("RAGSIGHT_").lower().replace("spool_", "spool.", 1)
    assert text.startswith(f"{key} = ")
    assert f"(from env {variable})" in text
    assert allowed in text


def test_an_empty_spool_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"spool\.directory = ''.*allowed: a directory path"):
        load_settings(environ={}, cwd=tmp_path, spool_directory="")


def test_a_misspelt_spool_variable_gets_a_did_you_mean(tmp_path: Path) -> None:
    text = _problem(tmp_path, {"RAGSIGHT_SPOOL_MAXBYTES": "1048576"})
    assert "did you mean 'RAGSIGHT_SPOOL_MAX_BYTES'?" in text
