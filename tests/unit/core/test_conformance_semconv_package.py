"""Every gen_ai.* name and enum value ragsight claims from the core conventions exists in
the official opentelemetry-semantic-conventions package (pinned in the dev extras)."""

from __future__ import annotations

import importlib.metadata
from enum import Enum

import pytest
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as attributes
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics as metrics
from opentelemetry.semconv.schemas import Schemas

from ragsight import names

_PINNED = "0.66b1"


def _strings(module: object) -> set[str]:
    return {v for k, v in vars(module).items() if k.isupper() and isinstance(v, str)}


def _values(enum: type[Enum]) -> set[str]:
    return {str(member.value) for member in enum}


def _claimed(kind: str) -> list[str]:
    return [c.name for c in names.CONVENTIONS if c.kind == kind and names.SRC_CORE in c.defined_in]


def test_the_package_is_the_pinned_version():
    assert importlib.metadata.version("opentelemetry-semantic-conventions") == _PINNED


@pytest.mark.parametrize("name", _claimed("attribute"))
def test_every_claimed_attribute_is_in_the_package(name):
    assert name in _strings(attributes)


@pytest.mark.parametrize("value", _claimed("operation"))
def test_every_claimed_operation_is_a_package_enum_value(value):
    assert value in _values(attributes.GenAiOperationNameValues)


@pytest.mark.parametrize("value", _claimed("provider"))
def test_every_claimed_provider_is_a_package_enum_value(value):
    assert value in _values(attributes.GenAiProviderNameValues)


@pytest.mark.parametrize("name", _claimed("metric"))
def test_every_claimed_metric_is_in_the_package(name):
    assert name in _strings(metrics)


def test_token_types_are_the_package_values():
    assert {names.TOKEN_TYPE_INPUT, names.TOKEN_TYPE_OUTPUT} <= _values(
        attributes.GenAiTokenTypeValues
    )


def test_custom_names_are_not_in_the_package():
    custom = [c.name for c in names.CONVENTIONS if names.SRC_CORE not in c.defined_in]
    known = _strings(attributes) | _values(attributes.GenAiOperationNameValues)
    assert custom
    assert not set(custom) & known


def test_schema_urls_are_the_package_schemas():
    assert set(names.SCHEMA_URLS.values()) <= {s.value for s in Schemas}


def test_genai_metric_specs_use_the_package_names_units_and_buckets():
    specs = {
        names.GEN_AI_CLIENT_OPERATION_DURATION: metrics.GEN_AI_CLIENT_OPERATION_DURATION,
        names.GEN_AI_CLIENT_TOKEN_USAGE: metrics.GEN_AI_CLIENT_TOKEN_USAGE,
        names.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK: (
            metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK
        ),
        names.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK: (
            metrics.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK
        ),
    }
    for spec, official in specs.items():
        assert spec.name == official
