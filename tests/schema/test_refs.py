"""Reference inlining, cycles and the errors that name where the problem is."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from completions_core.errors import InvalidRequestError
from completions_core.schemas import SchemaError, inline_refs, sanitize_schema, strip_meta

NODE = {
    "type": "object",
    "properties": {"head": {"$ref": "#/$defs/Node"}},
    "$defs": {
        "Node": {
            "type": "object",
            "properties": {"value": {"type": "integer"}, "next": {"$ref": "#/$defs/Node"}},
        }
    },
}


def test_inline_refs_replaces_defs_references_with_their_targets() -> None:
    schema = {"properties": {"a": {"$ref": "#/$defs/A"}}, "$defs": {"A": {"type": "string"}}}
    assert inline_refs(schema) == {"properties": {"a": {"type": "string"}}}


def test_inline_refs_resolves_draft_07_definitions() -> None:
    schema = {"items": {"$ref": "#/definitions/A"}, "definitions": {"A": {"const": 1}}}
    assert inline_refs(schema) == {"items": {"const": 1}}


def test_inline_refs_follows_any_json_pointer_with_escapes() -> None:
    schema = {
        "properties": {"a/b": {"type": "integer"}, "c~d": {"type": "string"}, "x": {"$ref": "#/properties/a~1b"}},
        "items": [{"$ref": "#/properties/c~0d"}, {"$ref": "#/properties/a%7E1b"}],
    }
    out = inline_refs(schema)
    assert out["properties"]["x"] == {"type": "integer"}
    assert out["items"] == [{"type": "string"}, {"type": "integer"}]


def test_inline_refs_inlines_nested_references_inside_definitions() -> None:
    schema = {
        "$ref": "#/$defs/Outer",
        "$defs": {"Outer": {"items": {"$ref": "#/$defs/Inner"}}, "Inner": {"type": "boolean"}},
    }
    assert inline_refs(schema) == {"items": {"type": "boolean"}}


def test_a_reference_cycle_is_an_error_naming_the_reference_and_its_place() -> None:
    with pytest.raises(SchemaError) as caught:
        inline_refs(NODE)
    assert str(caught.value) == "#/$defs/Node/properties/next: reference cycle through #/$defs/Node"
    assert caught.value.parts == ("$defs", "Node", "properties", "next")


def test_an_indirect_reference_cycle_is_an_error() -> None:
    schema = {
        "$ref": "#/$defs/A",
        "$defs": {"A": {"items": {"$ref": "#/$defs/B"}}, "B": {"properties": {"a": {"$ref": "#/$defs/A"}}}},
    }
    with pytest.raises(SchemaError, match=r"^#/\$defs/B/properties/a: reference cycle through #/\$defs/A$"):
        inline_refs(schema)


def test_a_reference_to_the_whole_schema_is_a_cycle() -> None:
    with pytest.raises(SchemaError, match=r"reference cycle through #$"):
        inline_refs({"type": "array", "items": {"$ref": "#"}})


def test_a_cycle_in_an_unused_definition_is_not_an_error() -> None:
    schema = {"type": "string", "$defs": {"Loop": {"$ref": "#/$defs/Loop"}}}
    assert inline_refs(schema) == {"type": "string"}


def test_a_definition_used_twice_is_not_a_cycle() -> None:
    schema = {
        "properties": {"a": {"$ref": "#/$defs/T"}, "b": {"items": {"$ref": "#/$defs/T"}}},
        "$defs": {"T": {"type": "integer"}},
    }
    assert inline_refs(schema)["properties"] == {"a": {"type": "integer"}, "b": {"items": {"type": "integer"}}}


def test_a_reference_that_does_not_resolve_is_an_error() -> None:
    with pytest.raises(SchemaError, match=r"^#/properties/a: reference #/\$defs/Missing does not resolve$"):
        inline_refs({"properties": {"a": {"$ref": "#/$defs/Missing"}}})


def test_a_remote_reference_is_an_error() -> None:
    with pytest.raises(SchemaError, match="only local references"):
        inline_refs({"items": {"$ref": "https://example.com/schema.json"}})


def test_an_anchor_reference_is_an_error() -> None:
    with pytest.raises(SchemaError, match="anchor references are not supported"):
        inline_refs({"items": {"$ref": "#thing"}})


def test_a_dynamic_reference_is_an_error() -> None:
    with pytest.raises(SchemaError, match=r"\$dynamicRef is not supported"):
        inline_refs({"items": {"$dynamicRef": "#node"}})


def test_annotations_next_to_a_reference_overwrite_the_targets() -> None:
    schema = {
        "properties": {"a": {"$ref": "#/$defs/A", "description": "Used here."}},
        "$defs": {"A": {"type": "string", "description": "Generic."}},
    }
    assert inline_refs(schema)["properties"]["a"] == {"type": "string", "description": "Used here."}


def test_assertions_next_to_a_reference_apply_as_well() -> None:
    schema = {"items": {"$ref": "#/$defs/A", "maxLength": 3}, "$defs": {"A": {"type": "string"}}}
    assert inline_refs(schema)["items"] == {"allOf": [{"type": "string"}, {"maxLength": 3}]}


def test_a_reference_inside_data_keywords_is_left_alone() -> None:
    schema = {"type": "object", "default": {"$ref": "#/nowhere"}, "enum": [{"$ref": "#/nowhere"}]}
    assert inline_refs(schema) == schema


def test_inlining_that_explodes_is_an_error() -> None:
    defs: dict[str, Any] = {"D0": {"type": "string"}}
    for level in range(1, 20):  # each level uses the one below twice: 2**19 copies
        below = {"$ref": f"#/$defs/D{level - 1}"}
        defs[f"D{level}"] = {"type": "array", "items": {"anyOf": [below, below]}}
    with pytest.raises(SchemaError, match="more than 20000 schemas"):
        inline_refs({"$ref": "#/$defs/D19", "$defs": defs})


def test_strip_meta_keeps_recursive_references() -> None:
    assert strip_meta({**NODE, "$schema": "x", "$id": "y"}) == NODE


def test_strip_meta_still_checks_that_references_resolve() -> None:
    with pytest.raises(SchemaError, match="does not resolve"):
        strip_meta({"items": {"$ref": "#/$defs/Gone"}})


@pytest.mark.parametrize("target", ["openapi", "strict", "json_schema", "inlined"])
def test_no_target_modifies_its_input(target: str) -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "a": {"$ref": "#/$defs/A"},
            "b": {"allOf": [{"type": "integer", "minimum": 0}, {"exclusiveMaximum": 10}]},
            "c": {"type": ["string", "null"], "const": "x"},
        },
        "required": ["a"],
        "$defs": {"A": {"type": "object", "properties": {"x": {"type": "number"}}, "additionalProperties": False}},
    }
    before = copy.deepcopy(schema)
    out = sanitize_schema(schema, target)  # type: ignore[arg-type]
    assert schema == before
    out["properties"]["a"]["mutated"] = True  # the result shares nothing with the input
    assert schema == before


def test_schema_error_is_a_value_error_and_a_400_invalid_request() -> None:
    error = SchemaError(("properties", "a"), "broken")
    assert isinstance(error, ValueError)
    assert isinstance(error, InvalidRequestError)
    assert error.status_code == 400
    assert (error.path, error.reason, str(error)) == ("#/properties/a", "broken", "#/properties/a: broken")


def test_qwen_gets_references_inlined_and_nothing_else_changed() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/A"}, "b": {"type": ["string", "null"], "const": "x"}},
        "$defs": {"A": {"allOf": [{"minimum": 1}]}},
    }
    assert sanitize_schema(schema, "inlined") == {
        "type": "object",
        "properties": {"a": {"allOf": [{"minimum": 1}]}, "b": {"type": ["string", "null"], "const": "x"}},
    }


def test_qwen_refuses_a_recursive_schema() -> None:
    with pytest.raises(SchemaError, match="reference cycle"):
        sanitize_schema(NODE, "inlined")


@pytest.mark.parametrize("target", ["json_schema"])
def test_light_targets_keep_definitions_and_drop_meta_keywords(target: str) -> None:
    schema = {**NODE, "$schema": "https://json-schema.org/draft/2020-12/schema", "$comment": "note"}
    assert sanitize_schema(schema, target) == NODE  # type: ignore[arg-type]


def test_an_unknown_target_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown schema target 'mistral'"):
        sanitize_schema({}, "mistral")  # type: ignore[arg-type]


@pytest.mark.parametrize("max_depth", [0, -1, True, 2.5])
def test_max_depth_must_be_a_positive_integer(max_depth: Any) -> None:
    with pytest.raises(ValueError, match="max_depth must be a positive integer"):
        sanitize_schema({"type": "object"}, "json_schema", max_depth=max_depth)


def test_a_schema_that_is_not_an_object_is_an_error() -> None:
    with pytest.raises(SchemaError, match="a schema must be a JSON object, got list"):
        sanitize_schema([], "openapi")  # type: ignore[arg-type]


def test_max_depth_applies_to_light_targets_when_given() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "object"}}}}
    assert sanitize_schema(schema, "json_schema", max_depth=3) == schema
    with pytest.raises(SchemaError, match=r"^#/properties/a/items: nesting depth 3 exceeds the json_schema limit of 2"):
        sanitize_schema(schema, "json_schema", max_depth=2)
