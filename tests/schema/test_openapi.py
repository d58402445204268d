"""Gemini: one rule per test, each checked against the SDK's own Schema validation too."""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import types as genai_types

from completions_core.schemas import SchemaError, sanitize_schema
from tests.schema.checkers import check_openapi


def openapi(schema: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    out = sanitize_schema(schema, "openapi", **kwargs)
    check_openapi(out, **kwargs)
    return out


def prop(schema: dict[str, Any], **kwargs: Any) -> Any:
    """Rewrite ``schema`` as the one property of an object and return what it became."""
    return openapi({"type": "object", "properties": {"p": schema}}, **kwargs)["properties"]["p"]


def test_references_are_inlined_and_meta_keywords_dropped() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://example.com/tool",
        "$comment": "internal",
        "type": "object",
        "properties": {"city": {"$ref": "#/$defs/City"}},
        "$defs": {"City": {"type": "string", "description": "A city."}},
    }
    assert openapi(schema) == {"type": "object", "properties": {"city": {"type": "string", "description": "A city."}}}


def test_a_string_const_becomes_a_one_value_enum() -> None:
    assert prop({"const": "celsius"}) == {"type": "string", "enum": ["celsius"]}


def test_a_number_const_keeps_its_type_and_is_restated() -> None:
    assert prop({"const": 3}) == {"type": "integer", "description": "(one of: 3)"}


def test_a_nullable_type_list_becomes_nullable() -> None:
    assert prop({"type": ["string", "null"], "maxLength": 5}) == {"type": "string", "maxLength": 5, "nullable": True}


def test_an_openapi_nullable_flag_is_understood() -> None:
    assert prop({"type": "integer", "nullable": True}) == {"type": "integer", "nullable": True}


def test_a_type_list_splits_into_any_of_with_each_types_own_constraints() -> None:
    out = prop({"type": ["string", "integer", "null"], "minLength": 1, "minimum": 0, "description": "Id."})
    assert out == {
        "anyOf": [{"type": "string", "minLength": 1}, {"type": "integer", "minimum": 0}],
        "description": "Id.",
        "nullable": True,
    }


def test_an_optional_any_of_collapses_into_a_nullable_field() -> None:
    # what pydantic writes for ``x: Optional[int] = None``
    out = prop({"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None, "title": "X"})
    assert out == {"type": "integer", "title": "X", "default": None, "nullable": True}


def test_one_of_becomes_any_of() -> None:
    out = prop({"oneOf": [{"type": "string"}, {"type": "boolean"}]})
    assert out == {"anyOf": [{"type": "string"}, {"type": "boolean"}]}


def test_any_of_next_to_assertions_gets_them_pushed_into_each_branch() -> None:
    out = prop({"type": "object", "properties": {"k": {"type": "string"}}, "anyOf": [{"required": ["k"]}, {}]})
    assert out == {"type": "object", "properties": {"k": {"type": "string"}}}
    out = prop({"type": "string", "anyOf": [{"minLength": 2}, {"maxLength": 0}]})
    assert out == {"anyOf": [{"type": "string", "minLength": 2}, {"type": "string", "maxLength": 0}]}


def test_all_of_merges_properties_required_and_bounds() -> None:
    out = prop(
        {
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "integer", "minimum": 0}}, "required": ["a"]},
                {"properties": {"a": {"maximum": 9}, "b": {"type": "string"}}, "required": ["b"]},
            ]
        }
    )
    assert out == {
        "type": "object",
        "properties": {"a": {"type": "integer", "minimum": 0, "maximum": 9}, "b": {"type": "string"}},
        "required": ["a", "b"],
    }


def test_all_of_takes_the_tighter_of_two_bounds() -> None:
    out = prop({"allOf": [{"type": "number", "minimum": 1, "maximum": 9}, {"minimum": 3, "maximum": 12}]})
    assert out == {"type": "number", "minimum": 3, "maximum": 9}


def test_all_of_intersects_types() -> None:
    assert prop({"allOf": [{"type": ["number", "string"]}, {"type": ["integer", "null"]}]}) == {"type": "integer"}


def test_all_of_with_two_patterns_keeps_one_and_restates_the_other() -> None:
    out = prop({"allOf": [{"type": "string", "pattern": "^a"}, {"pattern": "z$"}]})
    assert out == {"type": "string", "pattern": "^a", "description": '(must match the regular expression "z$")'}


def test_all_of_with_a_closed_object_drops_what_the_other_member_adds() -> None:
    out = prop(
        {
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False},
                {"type": "object", "properties": {"b": {"type": "string"}}},
            ]
        }
    )
    assert out == {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "description": '(must not include "b"; no other properties)',
    }


def test_all_of_that_no_value_can_satisfy_is_an_error_at_the_root() -> None:
    with pytest.raises(SchemaError, match=r"^#: the schema accepts no value$"):
        sanitize_schema({"allOf": [{"type": "string"}, {"type": "integer"}]}, "openapi")


def test_exclusive_minimum_on_an_integer_becomes_an_exact_minimum() -> None:
    assert prop({"type": "integer", "exclusiveMinimum": 0}) == {"type": "integer", "minimum": 1}
    assert prop({"type": "integer", "exclusiveMinimum": 1.5, "exclusiveMaximum": 4}) == {
        "type": "integer",
        "minimum": 2,
        "maximum": 3,
    }


def test_exclusive_minimum_on_a_number_is_restated_in_the_description() -> None:
    out = prop({"type": "number", "exclusiveMinimum": 0, "description": "Price."})
    assert out == {"type": "number", "minimum": 0, "description": "Price. (must be > 0)"}


def test_a_tighter_inclusive_bound_beats_an_exclusive_one() -> None:
    assert prop({"type": "number", "minimum": 5, "exclusiveMinimum": 0}) == {"type": "number", "minimum": 5}


def test_draft_04_boolean_exclusive_bounds_are_understood() -> None:
    assert prop({"type": "integer", "minimum": 0, "exclusiveMinimum": True}) == {"type": "integer", "minimum": 1}


def test_a_bound_too_big_for_a_float_is_restated() -> None:
    out = prop({"type": "integer", "maximum": 10**400})
    assert "maximum" not in out
    assert out["description"].startswith("(must be <= 10000")


def test_additional_properties_is_dropped_and_restated() -> None:
    out = prop({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "integer"}})
    assert out == {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "description": '(other properties must match {"type":"integer"})',
    }


@pytest.mark.parametrize(
    ("schema", "note"),
    [
        ({"type": "object", "propertyNames": {"pattern": "^x"}}, 'property names must match {"pattern":"^x"}'),
        (
            {"type": "object", "patternProperties": {"^x": {"type": "string"}}, "additionalProperties": False},
            'properties named like "^x" must match {"type":"string"}; no other properties',
        ),
        ({"type": "array", "items": {"type": "string"}, "uniqueItems": True}, "items must be unique"),
        ({"type": "integer", "multipleOf": 5}, "must be a multiple of 5"),
        ({"type": "string", "not": {"const": "x"}}, 'must not match {"const":"x"}'),
        (
            {"type": "string", "if": {"minLength": 2}, "then": {"pattern": "^a"}},
            'if it matches {"minLength":2}; then it must match {"pattern":"^a"}',
        ),
        ({"type": "string", "format": "uuid"}, "format: uuid"),
        (
            {"type": "object", "dependentRequired": {"a": ["b"]}},
            'if "a" is present, so must be "b"',
        ),
    ],
)
def test_unsupported_keywords_are_dropped_and_restated(schema: dict[str, Any], note: str) -> None:
    out = prop(schema)
    assert out["description"] == f"({note})"


def test_a_supported_format_is_kept() -> None:
    assert prop({"type": "string", "format": "date-time"}) == {"type": "string", "format": "date-time"}


def test_examples_become_one_example() -> None:
    assert prop({"type": "string", "examples": ["Paris", "Rome"]}) == {"type": "string", "example": "Paris"}


def test_an_array_without_items_gets_items_of_any_type() -> None:
    assert prop({"type": "array", "maxItems": 3}) == {"type": "array", "items": {}, "maxItems": 3}


def test_an_array_whose_items_match_nothing_must_be_empty() -> None:
    assert prop({"type": "array", "items": False}) == {"type": "array", "items": {}, "maxItems": 0}


def test_prefix_items_become_an_any_of_of_the_positions() -> None:
    out = prop({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False})
    assert out == {
        "type": "array",
        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        "maxItems": 2,
        "description": '(item 0 must match {"type":"string"}; item 1 must match {"type":"integer"})',
    }


def test_a_string_enum_with_null_becomes_a_nullable_string_enum() -> None:
    assert prop({"enum": ["a", "b", None]}) == {"type": "string", "enum": ["a", "b"], "nullable": True}


def test_a_number_enum_keeps_its_type_and_is_restated() -> None:
    assert prop({"type": "integer", "enum": [1, 2, 3]}) == {"type": "integer", "description": "(one of: 1, 2, 3)"}


def test_a_mixed_enum_splits_by_type_keeping_the_string_values_as_enum() -> None:
    assert prop({"enum": ["auto", 0, True]}) == {
        "anyOf": [
            {"type": "string", "enum": ["auto"]},
            {"type": "integer", "description": "(one of: 0)"},
            {"type": "boolean", "description": "(one of: true)"},
        ]
    }


def test_enum_values_outside_the_declared_type_are_dropped() -> None:
    assert prop({"type": "string", "enum": ["a", 1]}) == {"type": "string", "enum": ["a"]}


def test_a_required_name_without_a_schema_is_restated() -> None:
    out = prop({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a", "ghost"]})
    assert out == {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "required": ["a"],
        "description": '(must include "ghost")',
    }


def test_a_property_that_matches_nothing_is_dropped() -> None:
    out = prop({"type": "object", "properties": {"a": False, "b": {"type": "string"}}})
    assert out == {"type": "object", "properties": {"b": {"type": "string"}}, "description": '(must not include "a")'}


def test_a_value_of_any_type_is_left_untyped() -> None:
    assert prop({"description": "Anything."}) == {"description": "Anything."}


def test_object_keywords_without_a_type_describe_an_object() -> None:
    assert prop({"properties": {"a": {"type": "string"}}, "required": ["a"]}) == {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "required": ["a"],
    }


def test_a_null_only_value_becomes_a_nullable_string_that_says_so() -> None:
    assert prop({"type": "null"}) == {"type": "string", "nullable": True, "description": "(must be null)"}


def test_nesting_deeper_than_five_levels_is_an_error_naming_the_place() -> None:
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(5):
        deep = {"type": "array", "items": deep}
    schema = {"type": "object", "properties": {"a": deep}}
    with pytest.raises(SchemaError) as caught:
        sanitize_schema(schema, "openapi")
    assert str(caught.value) == (
        "#/properties/a/items/items/items/items: nesting depth 6 exceeds the openapi limit of 5 object/array levels"
    )
    assert openapi(schema, max_depth=6)["properties"]["a"]["type"] == "array"


def test_a_pydantic_style_tool_schema_becomes_a_valid_function_declaration() -> None:
    schema = {
        "$defs": {
            "Stop": {
                "properties": {
                    "city": {"title": "City", "type": "string"},
                    "nights": {"exclusiveMinimum": 0, "title": "Nights", "type": "integer"},
                },
                "required": ["city", "nights"],
                "title": "Stop",
                "type": "object",
            }
        },
        "additionalProperties": False,
        "properties": {
            "stops": {"items": {"$ref": "#/$defs/Stop"}, "title": "Stops", "type": "array"},
            "budget": {"anyOf": [{"type": "number"}, {"type": "null"}], "default": None, "title": "Budget"},
            "mode": {"const": "train", "default": "train", "title": "Mode", "type": "string"},
        },
        "required": ["stops"],
        "title": "PlanTrip",
        "type": "object",
    }
    out = openapi(schema)
    declaration = genai_types.FunctionDeclaration(name="plan_trip", parameters=out)  # type: ignore[arg-type]
    assert declaration.parameters is not None and declaration.parameters.properties is not None
    stop = out["properties"]["stops"]["items"]
    assert stop["properties"]["nights"] == {"type": "integer", "minimum": 1, "title": "Nights"}
    assert out["properties"]["budget"] == {"type": "number", "title": "Budget", "default": None, "nullable": True}
    assert out["properties"]["mode"] == {"type": "string", "enum": ["train"], "title": "Mode", "default": "train"}
    assert out["description"] == "(no other properties)"
