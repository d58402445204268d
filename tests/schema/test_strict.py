"""OpenAI strict mode: closed objects, every property required, limits as clear errors."""

from __future__ import annotations

from typing import Any, Literal, Optional

import pydantic
import pytest

from completions_core.schemas import SchemaError, sanitize_schema
from tests.schema.checkers import check_strict, is_valid, strict_instance


def strict(schema: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    out = sanitize_schema(schema, "strict", **kwargs)
    check_strict(out, **kwargs)
    return out


def obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required is not None:
        schema["required"] = required
    return schema


def test_every_object_is_closed_with_every_property_required() -> None:
    out = strict(obj({"a": {"type": "string"}, "b": obj({"c": {"type": "integer"}}, ["c"])}, ["a", "b"]))
    assert out == {
        "type": "object",
        "properties": {
            "a": {"type": "string"},
            "b": {
                "type": "object",
                "properties": {"c": {"type": "integer"}},
                "required": ["c"],
                "additionalProperties": False,
            },
        },
        "required": ["a", "b"],
        "additionalProperties": False,
    }


def test_an_optional_property_becomes_nullable() -> None:
    out = strict(obj({"a": {"type": "string"}, "b": {"type": "integer"}}, ["a"]))
    assert out["properties"] == {"a": {"type": "string"}, "b": {"type": ["integer", "null"]}}
    assert out["required"] == ["a", "b"]


def test_a_missing_optional_property_maps_to_an_explicit_null() -> None:
    schema = obj({"a": {"type": "string"}, "b": {"type": "integer"}}, ["a"])
    out = strict(schema)
    assert strict_instance(out, {"a": "x"}) == {"a": "x", "b": None}
    assert is_valid(out, strict_instance(out, {"a": "x"}))


def test_an_optional_enum_property_gets_null_in_its_enum() -> None:
    out = strict(obj({"unit": {"enum": ["C", "F"]}}))
    assert out["properties"]["unit"] == {"type": ["string", "null"], "enum": ["C", "F", None]}


def test_an_optional_union_property_gets_a_null_branch() -> None:
    out = strict(obj({"v": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}))
    assert out["properties"]["v"] == {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}


def test_a_required_nullable_type_list_stays_a_type_list() -> None:
    out = strict(obj({"a": {"type": ["string", "null"]}}, ["a"]))
    assert out["properties"]["a"] == {"type": ["string", "null"]}


def test_several_types_become_any_of_branches() -> None:
    out = strict(obj({"a": {"type": ["string", "integer"], "minimum": 1}}, ["a"]))
    assert out["properties"]["a"] == {"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 1}]}


def test_const_becomes_a_one_value_enum() -> None:
    assert strict(obj({"k": {"const": "v"}}, ["k"]))["properties"]["k"] == {"type": "string", "enum": ["v"]}


def test_references_are_inlined_and_all_of_merged() -> None:
    schema = {
        **obj({"p": {"$ref": "#/$defs/P"}}, ["p"]),
        "$defs": {"P": {"allOf": [obj({"x": {"type": "number"}}, ["x"]), obj({"y": {"type": "number"}})]}},
    }
    assert strict(schema)["properties"]["p"] == {
        "type": "object",
        "properties": {"x": {"type": "number"}, "y": {"type": ["number", "null"]}},
        "required": ["x", "y"],
        "additionalProperties": False,
    }


def test_numeric_keywords_are_kept() -> None:
    numeric = {"type": "number", "exclusiveMinimum": 0, "maximum": 9, "multipleOf": 0.5}
    assert strict(obj({"n": numeric}, ["n"]))["properties"]["n"] == numeric


def test_pattern_and_documented_formats_are_kept_lengths_restated() -> None:
    out = strict(obj({"s": {"type": "string", "pattern": "^a", "format": "email", "minLength": 3}}, ["s"]))
    assert out["properties"]["s"] == {
        "type": "string",
        "pattern": "^a",
        "format": "email",
        "description": "(at least 3 characters)",
    }


def test_an_undocumented_format_is_restated() -> None:
    out = strict(obj({"s": {"type": "string", "format": "color"}}, ["s"]))
    assert out["properties"]["s"] == {"type": "string", "description": "(format: color)"}


def test_a_default_is_restated_and_examples_dropped() -> None:
    out = strict(obj({"n": {"type": "integer", "default": 3, "examples": [1], "description": "Count."}}, ["n"]))
    assert out["properties"]["n"] == {"type": "integer", "description": "Count. (default: 3)"}


@pytest.mark.parametrize(
    ("schema", "note"),
    [
        ({"type": "array", "items": {"type": "string"}, "uniqueItems": True}, "items must be unique"),
        (obj({"a": {"type": "string"}}) | {"minProperties": 1}, "at least 1 properties"),
        ({"type": "string", "not": {"const": ""}}, 'must not match {"const":""}'),
    ],
)
def test_unsupported_keywords_are_dropped_and_restated(schema: dict[str, Any], note: str) -> None:
    assert strict(obj({"p": schema}, ["p"]))["properties"]["p"]["description"] == f"({note})"


def test_an_object_with_arbitrary_keys_is_refused() -> None:
    with pytest.raises(SchemaError, match=r"^#/properties/meta: an object with arbitrary keys cannot be strict"):
        sanitize_schema(obj({"meta": {"type": "object", "additionalProperties": {"type": "string"}}}), "strict")


def test_an_empty_closed_object_is_fine() -> None:
    out = strict(obj({"e": {"type": "object", "additionalProperties": False}}, ["e"]))
    assert out["properties"]["e"] == {"type": "object", "properties": {}, "required": [], "additionalProperties": False}


def test_a_value_of_any_type_is_refused() -> None:
    with pytest.raises(SchemaError, match=r"^#/properties/x: a value of any type cannot be strict"):
        sanitize_schema(obj({"x": {"description": "Anything."}}), "strict")


def test_an_array_without_items_is_refused_at_its_items() -> None:
    with pytest.raises(SchemaError, match=r"^#/properties/xs/items: a value of any type"):
        sanitize_schema(obj({"xs": {"type": "array"}}), "strict")


def test_a_required_name_without_a_schema_is_refused() -> None:
    with pytest.raises(SchemaError, match=r"^#: required property 'ghost' has no schema"):
        sanitize_schema(obj({"a": {"type": "string"}}, ["ghost"]), "strict")


@pytest.mark.parametrize(
    "root", [{"type": "string"}, {"type": ["object", "null"], "properties": {"a": {"type": "string"}}}]
)
def test_a_root_that_is_not_a_plain_object_is_refused(root: dict[str, Any]) -> None:
    with pytest.raises(SchemaError, match=r"^#: strict needs an object at the root"):
        sanitize_schema(root, "strict")


def test_nesting_deeper_than_ten_levels_is_refused() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(10):
        schema = obj({"n": schema}, ["n"])
    assert strict(schema)["type"] == "object"
    with pytest.raises(SchemaError, match="nesting depth 11 exceeds the strict limit of 10"):
        sanitize_schema(obj({"n": schema}, ["n"]), "strict")
    assert strict(obj({"n": schema}, ["n"]), max_depth=11)["type"] == "object"


def test_more_than_5000_properties_are_refused() -> None:
    properties = {f"p{i}": {"type": "integer"} for i in range(5001)}
    with pytest.raises(SchemaError, match="more than 5000 object properties in total"):
        sanitize_schema(obj(properties), "strict")


def test_more_than_1000_enum_values_are_refused() -> None:
    values = [f"v{i}" for i in range(1001)]
    with pytest.raises(SchemaError, match="more than 1000 enum values in total"):
        sanitize_schema(obj({"e": {"enum": values}}, ["e"]), "strict")


def test_a_recursive_schema_is_refused_as_a_cycle() -> None:
    schema = {**obj({"n": {"$ref": "#"}}), "$defs": {}}
    with pytest.raises(SchemaError, match=r"^#/properties/n: reference cycle through #$"):
        sanitize_schema(schema, "strict")


def test_a_pydantic_model_schema_becomes_strict_and_keeps_its_data_representable() -> None:
    class Stop(pydantic.BaseModel):
        city: str
        nights: int = pydantic.Field(gt=0)

    class Trip(pydantic.BaseModel):
        stops: list[Stop]
        budget: Optional[float] = None
        mode: Literal["train", "car"] = "train"

    out = strict(Trip.model_json_schema())
    assert out["properties"]["budget"] == {
        "type": ["number", "null"],
        "title": "Budget",
        "description": "(default: null)",
    }
    assert out["properties"]["mode"]["enum"] == ["train", "car", None]
    data = Trip(stops=[Stop(city="Oslo", nights=2)]).model_dump(exclude_defaults=True)
    assert is_valid(out, strict_instance(out, data))


def test_a_pydantic_dict_field_is_refused_as_an_open_object() -> None:
    class Tags(pydantic.BaseModel):
        tags: dict[str, str]

    with pytest.raises(SchemaError, match=r"^#/properties/tags: an object with arbitrary keys"):
        sanitize_schema(Tags.model_json_schema(), "strict")
