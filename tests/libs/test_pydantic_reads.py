"""Readers skip pydantic's slow miss for names a model class lacks, and still read every
name an instance has: fields, extras, private attributes and properties, whatever was
asked of its class before (pydantic comes with the libs tier's clients)."""

from __future__ import annotations

import pydantic

import ragsight
from ragsight import names
from ragsight._core.semconv import model_lacks
from ragsight.testing import Telemetry


class Reply(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")
    model: str = "m"


class Usage(pydantic.BaseModel):
    prompt_tokens: int
    completion_tokens: int


class WithPrivate(pydantic.BaseModel):
    _note: str = pydantic.PrivateAttr(default="kept")

    @property
    def shape(self) -> tuple[int, int]:
        return (1, 2)


def test_a_name_no_field_extra_or_class_attribute_provides_is_lacking() -> None:
    assert model_lacks(Reply(), "usage")


def test_an_extra_is_read_after_the_class_was_found_to_lack_it() -> None:
    assert model_lacks(Reply(), "usage")
    assert not model_lacks(Reply(usage={"prompt_tokens": 1}), "usage")


def test_fields_private_attributes_and_properties_are_never_lacking() -> None:
    assert not model_lacks(Reply(), "model")
    assert not model_lacks(WithPrivate(), "_note")
    assert not model_lacks(WithPrivate(), "shape")


def test_objects_that_are_not_pydantic_models_are_never_lacking() -> None:
    assert not model_lacks(object(), "usage")
    assert not model_lacks({"usage": 1}, "usage")


def test_usage_given_as_an_extra_is_recorded_after_a_reply_without_it(telemetry: Telemetry) -> None:
    answer = ragsight.generation(model="m")(lambda reply: reply)
    answer(Reply())
    answer(Reply(usage=Usage(prompt_tokens=7, completion_tokens=3)))
    second = telemetry.spans[-1].attributes
    assert (second[names.GEN_AI_USAGE_INPUT_TOKENS], second[names.GEN_AI_USAGE_OUTPUT_TOKENS]) == (
        7,
        3,
    )
