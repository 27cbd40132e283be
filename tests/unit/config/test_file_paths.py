"""Relative paths in settings: from a settings file, relative to that file's directory; from
the environment or configure(), relative to the working directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragsight._config.keys import BY_NAME, PATH_KEYS
from ragsight._config.validation import load_settings

FILE_KEYS = {
    "file_sink.directory": '[file_sink]\ndirectory = "telemetry"\n',
    "spool.directory": '[spool]\ndirectory = "telemetry"\n',
}


@pytest.fixture
def elsewhere(tmp_path: Path) -> tuple[Path, Path]:
    """(a config directory, a different working directory)."""
    config_dir = tmp_path / "deploy" / "conf"
    config_dir.mkdir(parents=True)
    cwd = tmp_path / "work"
    cwd.mkdir()
    return config_dir, cwd


def _console_file(path: Path) -> None:
    path.write_text(
        'file_format: "1.0"\ntracer_provider:\n  processors:\n'
        "    - simple:\n        exporter:\n          console: {}\n"
    )


def test_a_relative_otel_config_file_in_a_settings_file_is_beside_that_file(
    elsewhere: tuple[Path, Path],
) -> None:
    config_dir, cwd = elsewhere
    _console_file(config_dir / "otel.yaml")
    (config_dir / "ragsight.toml").write_text('otel_config_file = "otel.yaml"\n')
    settings = load_settings(config_dir / "ragsight.toml", environ={}, cwd=cwd)
    assert settings.otel_config_file == str(config_dir / "otel.yaml")


def test_a_relative_otel_config_file_from_the_environment_is_relative_to_the_cwd(
    elsewhere: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _config_dir, cwd = elsewhere
    _console_file(cwd / "otel.yaml")
    monkeypatch.chdir(cwd)
    settings = load_settings(environ={"OTEL_CONFIG_FILE": "otel.yaml"}, cwd=cwd)
    assert settings.otel_config_file == "otel.yaml"


@pytest.mark.parametrize("key", sorted(FILE_KEYS))
def test_a_relative_directory_in_a_settings_file_is_beside_that_file(
    key: str, elsewhere: tuple[Path, Path]
) -> None:
    config_dir, cwd = elsewhere
    (config_dir / "ragsight.toml").write_text(FILE_KEYS[key])
    settings = load_settings(config_dir / "ragsight.toml", environ={}, cwd=cwd)
    assert settings.get(key) == str(config_dir / "telemetry")


def test_a_discovered_pyproject_table_resolves_against_its_directory(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.ragsight.file_sink]\ndirectory = "out"\n'
    )
    settings = load_settings(environ={}, cwd=tmp_path)
    assert settings.file_sink.directory == str(tmp_path / "out")


def test_a_relative_directory_given_to_configure_stays_relative_to_the_cwd(
    elsewhere: tuple[Path, Path],
) -> None:
    config_dir, cwd = elsewhere
    (config_dir / "ragsight.toml").write_text(FILE_KEYS["file_sink.directory"])
    settings = load_settings(
        config_dir / "ragsight.toml", environ={}, cwd=cwd, file_sink_directory="mine"
    )
    assert settings.file_sink.directory == "mine"


def test_absolute_and_home_paths_in_a_settings_file_are_kept_as_written(
    elsewhere: tuple[Path, Path],
) -> None:
    config_dir, cwd = elsewhere
    (config_dir / "ragsight.toml").write_text(
        f'[file_sink]\ndirectory = "{cwd / "abs"}"\n[spool]\ndirectory = "~/spool"\n'
    )
    settings = load_settings(config_dir / "ragsight.toml", environ={}, cwd=cwd)
    assert settings.file_sink.directory == str(cwd / "abs")
    assert settings.spool.directory == "~/spool"


def test_every_path_key_is_a_ragsight_key() -> None:
    assert PATH_KEYS.issubset(BY_NAME)
