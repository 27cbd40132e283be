"""The public surface: names report ``ragsight``, import is cheap, ``python -m`` works."""

from __future__ import annotations

import copy
import importlib
import inspect
import pickle
import subprocess
import sys
import types

import pytest

import ragsight

PUBLIC = [name for name in ragsight.__all__ if name not in {"__version__", "names"}]
SUBMODULES = ("ragsight.testing", "ragsight.resilience_testing", "ragsight.instrumentation")
SUBMODULE_PUBLIC = [
    (module, name)
    for module in SUBMODULES
    for name in importlib.import_module(module).__all__
    if isinstance(getattr(importlib.import_module(module), name), (type, types.FunctionType))
]


def _fresh(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_object_reports_ragsight_as_its_module(name: str) -> None:
    value = getattr(ragsight, name)
    if inspect.ismodule(value):
        assert value.__name__.startswith("ragsight.")
    else:
        assert value.__module__ == "ragsight"


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_object_has_a_docstring(name: str) -> None:
    assert (inspect.getdoc(getattr(ragsight, name)) or "").strip()


@pytest.mark.parametrize(("module", "name"), SUBMODULE_PUBLIC)
def test_every_class_and_function_of_a_public_module_reports_a_public_module(
    module: str, name: str
) -> None:
    value = getattr(importlib.import_module(module), name)
    assert value.__module__ == ("ragsight" if name in ragsight.__all__ else module)
    assert pickle.loads(pickle.dumps(value)) is value


@pytest.mark.parametrize(("module", "name"), SUBMODULE_PUBLIC)
def test_every_class_and_function_of_a_public_module_has_a_docstring(
    module: str, name: str
) -> None:
    assert (inspect.getdoc(getattr(importlib.import_module(module), name)) or "").strip()


def test_a_hook_event_imported_first_reports_its_public_module() -> None:
    out = _fresh(
        "from ragsight.instrumentation import RetryGaveUp, StateChange\n"
        "print(RetryGaveUp.__module__, StateChange.__module__)"
    )
    assert out.split() == ["ragsight.instrumentation", "ragsight"]


def test_dir_lists_every_public_name_before_any_is_loaded() -> None:
    listed = _fresh("import ragsight; print(' '.join(dir(ragsight)))").split()
    assert set(ragsight.__all__) <= set(listed)


def test_an_exception_raised_before_its_public_name_was_read_reports_ragsight() -> None:
    out = _fresh(
        "import ragsight._resilience.errors as e\n"
        "print(type(e.CircuitOpenError('x', 'open', 1.0)).__module__)"
    )
    assert out.strip() == "ragsight"


def test_circuit_open_error_survives_pickle_and_copy_under_its_public_name() -> None:
    error = ragsight.CircuitOpenError("vector-store", "open", 2.5, "builtins.TimeoutError")
    for clone in (pickle.loads(pickle.dumps(error)), copy.deepcopy(error)):
        assert type(clone) is ragsight.CircuitOpenError
        assert (clone.name, clone.state, clone.retry_after) == ("vector-store", "open", 2.5)


def test_a_pickled_breaker_snapshot_loads_in_a_process_that_only_imported_ragsight() -> None:
    breaker = ragsight.CircuitBreaker("surface-snapshot")
    blob = pickle.dumps(breaker.snapshot())
    out = _fresh(
        f"import pickle, ragsight; s = pickle.loads({blob!r}); print(type(s).__module__, s.name)"
    )
    assert out.split() == ["ragsight", "surface-snapshot"]


def test_import_ragsight_loads_no_area_until_one_of_its_names_is_used() -> None:
    out = _fresh(
        "import sys, ragsight\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('ragsight', 'wrapt', "
        "'opentelemetry', 'yaml', 'asyncio')))))"
    )
    assert out.split() == ["ragsight", "ragsight._version", "ragsight.names"]


def test_using_a_decorator_loads_the_core_but_not_the_sdk_or_the_exporters() -> None:
    out = _fresh(
        "import sys, ragsight\n"
        "ragsight.retrieval(data_source='kb')(lambda q: [])\n"
        "print(' '.join(sorted(sys.modules)))"
    )
    loaded = set(out.split())
    assert "ragsight._core.engine" in loaded
    assert not {"opentelemetry.sdk", "ragsight._export.setup", "yaml"} & loaded


def test_resilience_hooks_are_installed_when_resilience_is_first_used() -> None:
    out = _fresh(
        "import ragsight\n"
        "from ragsight import instrumentation as i\n"
        "print(len(i.get_on_retry_scheduled_hooks()))"
    )
    assert out.strip() == "1"


def test_python_dash_m_ragsight_runs_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ragsight", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0
    assert "usage: ragsight" in result.stdout


def test_an_unknown_attribute_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = ragsight.no_such_thing  # type: ignore[attr-defined]
