"""Validation equals acceptance for every export setting (issue 11, item 2): each value the
configuration accepts, the component that uses it accepts; values just outside (and the
non-finite ones) are refused by both, with a message naming key, source and range."""

from __future__ import annotations

import contextlib
import math
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from limit_values import accepted, refused

import ragsight
from ragsight import ConfigError
from ragsight._config.export_limits import EXPORT_LIMITS
from ragsight._config.keys import BY_NAME, KEYS
from ragsight._config.validation import load_settings
from ragsight._core.limits import Limit, LimitError
from ragsight._export.filesink import JsonLinesWriter
from ragsight._export.health import BoundedBatchProcessor, ExportHealth
from ragsight._export.shutdown import ShutdownPlan, run_bounded
from ragsight._export.spool import SpoolBudget, SpoolStore


def _component_accepts(key: str, value: Any, tmp_path: Path) -> bool:
    """Build the component that uses ``key`` with ``value`` (the rest at defaults)."""
    try:
        if key == "shutdown_timeout":
            run_bounded(ShutdownPlan(), value)
        elif key.startswith("otlp.") or key == "batch.metric_export_interval":
            EXPORT_LIMITS[key].check(value, key)  # handed to the SDK after this very check
        elif key.startswith("batch."):
            field = key.split(".", 1)[1]
            arguments: dict[str, Any] = {
                "max_queue_size": 2048,
                "max_export_batch_size": 1,
                "schedule_delay": 1.0,
                field: value,
            }
            processor = BoundedBatchProcessor[Any](
                lambda batch: None, signal="traces", health=ExportHealth(), **arguments
            )
            processor.shutdown(0.01)
        elif key.startswith("file_sink."):
            field = key.split(".", 1)[1]
            sizes: dict[str, Any] = {"max_bytes": 1 << 20, "backups": 1, field: value}
            JsonLinesWriter(tmp_path, "traces", **sizes)
        elif key == "spool.max_bytes":
            SpoolBudget(value)
        elif key == "spool.max_age":
            SpoolStore(tmp_path, "traces", "http://collector:4318", SpoolBudget(1 << 20), value)
        else:
            raise AssertionError(f"no component known for {key}")
    except LimitError:
        return False
    return True


def _validation_accepts(key: str, value: Any, tmp_path: Path) -> bool:
    try:
        load_settings(environ={}, cwd=tmp_path, **{BY_NAME[key].argument: value})
    except ConfigError:
        return False
    return True


def _cases(pick: Any) -> list[Any]:
    return [
        pytest.param(key, value, id=f"{key}={value!r}")
        for key, limit in EXPORT_LIMITS.items()
        for value in pick(limit)
        if not (key == "batch.max_export_batch_size" and isinstance(value, int) and value > 2048)
    ]


def test_every_numeric_export_key_has_a_limit() -> None:
    numeric_export = {
        k.name
        for k in KEYS
        if k.name.startswith(("batch.", "file_sink.", "otlp.", "spool."))
        and k.name.endswith(("size", "delay", "interval", "timeout", "bytes", "backups", "age"))
    } | {"shutdown_timeout"}
    assert numeric_export == set(EXPORT_LIMITS)
    assert all(BY_NAME[k].limit is EXPORT_LIMITS[k] for k in EXPORT_LIMITS)


def test_every_export_limit_is_finite_on_both_sides() -> None:
    for limit in EXPORT_LIMITS.values():
        assert limit.minimum is not None
        assert limit.maximum is not None
        assert not limit.allow_inf


@pytest.mark.parametrize(("key", "value"), _cases(accepted))
def test_a_value_validation_accepts_the_component_accepts(
    key: str, value: Any, tmp_path: Path
) -> None:
    assert _validation_accepts(key, value, tmp_path)
    assert _component_accepts(key, value, tmp_path)


@pytest.mark.parametrize(("key", "value"), _cases(refused))
def test_a_value_just_outside_is_refused_by_validation_and_by_the_component(
    key: str, value: Any, tmp_path: Path
) -> None:
    assert not _validation_accepts(key, value, tmp_path)
    assert not _component_accepts(key, value, tmp_path)


@pytest.mark.parametrize(
    ("variable", "value", "key"),
    [
        ("RAGSIGHT_SHUTDOWN_TIMEOUT", "inf", "shutdown_timeout"),
        ("OTEL_BSP_SCHEDULE_DELAY", "1e15", "batch.schedule_delay"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "1e15", "batch.metric_export_interval"),
        ("RAGSIGHT_FILE_SINK_BACKUPS", str(10**9), "file_sink.backups"),
        ("RAGSIGHT_FILE_SINK_MAX_BYTES", "1024", "file_sink.max_bytes"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "1e12", "otlp.timeout"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", str(10**12), "batch.max_queue_size"),
        ("RAGSIGHT_BREAKER_WINDOW", "1e-320", "breaker.window"),
    ],
)
def test_an_absurd_environment_value_is_refused_naming_key_source_and_range(
    variable: str, value: str, key: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={variable: value}, cwd=tmp_path)
    text = str(info.value)
    assert key in text
    assert f"env {variable}" in text
    assert ">=" in text


def test_milliseconds_are_judged_after_scaling_to_seconds(tmp_path: Path) -> None:
    """2,000,000 ms is 2,000 s: inside the 1 h schedule-delay range; 0.5 ms is below 1 ms."""
    settings = load_settings(environ={"OTEL_BSP_SCHEDULE_DELAY": "2000000"}, cwd=tmp_path)
    assert settings.batch.schedule_delay == pytest.approx(2000.0)
    with pytest.raises(ConfigError):
        load_settings(environ={"OTEL_BSP_SCHEDULE_DELAY": "0.5"}, cwd=tmp_path)


@pytest.mark.parametrize(
    "arguments",
    [
        {"config_file": 123},
        {"config_file": b"ragsight.toml"},
        {"settings": "x"},
        {"settings": {"service_name": "x"}},
        {"redact_hook": "not callable"},
        {"environ": "OTEL_SERVICE_NAME=x"},
        {"environ": {"OTEL_SERVICE_NAME": 5}},  # raised AttributeError ('int' ... 'strip')
        {"environ": {5: "x"}},  # raised AttributeError ('int' ... 'startswith')
        {"environ": {"RAGSIGHT_CONFIG": 5}},  # raised TypeError out of pathlib
        {"cwd": 5},
    ],
)
def test_wrong_types_of_configures_own_parameters_are_config_errors(
    arguments: dict[str, Any],
) -> None:
    with pytest.raises(ConfigError) as info:
        ragsight.configure(**arguments)
    assert next(iter(arguments)) in str(info.value)


def _yaml_nested(depth: int) -> str:
    lines = ["  " * i + f"k{i}:" for i in range(depth)]
    return "\n".join(lines) + "\n" + "  " * depth + "x: 1\n"


def _nested(depth: int) -> str:
    return "[" + ".".join(f"k{i}" for i in range(depth)) + "]\nx = 1\n"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("ragsight.toml", _nested(3000)),
        ("ragsight.json", '{"a":' * 3000 + "1" + "}" * 3000),
        (
            "ragsight.yaml",
            "a:\n" + "".join("  " * i + f"b{i}:\n" for i in range(1, 400)) + "  " * 400 + "c: 1\n",
        ),
        ("ragsight.yaml", "[" * 3000 + "]" * 3000),
        ("ragsight.toml", 'service_name = "' + "x" * (2 * 1024 * 1024) + '"\n'),
        ("ragsight.toml", b'service_name = "\xff\xfe"\n'),
        ("ragsight.json", b"\x00\x01\x02binary"),
        ("ragsight.yaml", b"\x89PNG\r\n\x1a\n\x00\x00"),
    ],
)
def test_a_pathological_file_is_a_config_error_naming_the_file(
    name: str, content: str | bytes, tmp_path: Path
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_settings(environ={}, cwd=tmp_path)
    assert str(path) in str(info.value)


def test_limits_describe_their_range_in_words() -> None:
    assert Limit(float, minimum=0.01, maximum=300.0, unit="seconds").describe() == (
        "a number >= 0.01 and <= 300 (seconds)"
    )
    assert not math.isinf(EXPORT_LIMITS["shutdown_timeout"].maximum or math.inf)


def test_a_fifo_named_as_the_config_file_is_refused_without_waiting_for_a_writer(
    tmp_path: Path,
) -> None:
    # A writer that would answer: read blockingly, the FIFO was taken as a valid file
    # (and with no writer at all, configure() blocked for ever).
    fifo = tmp_path / "ragsight.toml"
    os.mkfifo(fifo)

    def write() -> None:
        with contextlib.suppress(OSError):
            fifo.write_text('service_name = "from-a-fifo"\n')

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        with pytest.raises(ConfigError) as info:
            load_settings(fifo, environ={}, cwd=tmp_path)
        assert str(fifo) in str(info.value)
        assert "not a regular file" in str(info.value)
    finally:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # releases a writer still waiting
        writer.join(5)
        os.close(fd)


def test_a_utf16_file_is_refused_saying_its_encoding(tmp_path: Path) -> None:
    path = tmp_path / "ragsight.toml"
    path.write_bytes('service_name = "x"\n'.encode("utf-16"))
    with pytest.raises(ConfigError) as info:
        load_settings(environ={}, cwd=tmp_path)
    assert str(path) in str(info.value)
    assert "UTF-16" in str(info.value)
