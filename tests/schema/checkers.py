"""Each target's rules written out on their own, to check rewritten schemas against.

Deliberately independent of completions_core.schemas: these restate the provider rules
(SDK_NOTES.md section 3 for Gemini, OpenAI's "supported schemas" page for strict mode), so a
bug in the rewriter cannot hide behind a shared constant.
"""

from __future__ import annotations

import math
from typing import Any

import jsonschema
from google.genai import types as genai_types

GEMINI_KEYS = set(
    "type format description nullable enum properties required items minItems maxItems minLength maxLength pattern"
    " minimum maximum minProperties maxProperties anyOf default example title propertyOrdering".split()
)
GEMINI_TYPES = {"string", "number", "integer", "boolean", "object", "array"}
OPENAI_STRICT_KEYS = set(
    "type enum anyOf properties required additionalProperties items pattern format minimum maximum exclusiveMinimum"
    " exclusiveMaximum multipleOf minItems maxItems title description".split()
)
OPENAI_TYPES = {"string", "number", "integer", "boolean", "object", "array", "null"}
OPENAI_FORMATS = {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
META = {"$schema", "$id", "$comment"}


def _levels(schema: dict[str, Any]) -> int:
    """Object/array levels on the deepest path (anyOf adds none)."""
    below = [_levels(sub) for sub in _subschemas(schema)]
    kind = schema.get("type")
    kinds = set(kind) if isinstance(kind, list) else {kind}
    own = 1 if kinds & {"object", "array"} else 0
    return own + max(below, default=0)


def _subschemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    subs = list(schema.get("properties", {}).values()) + list(schema.get("anyOf", []))
    if isinstance(schema.get("items"), dict):
        subs.append(schema["items"])
    return subs


def check_openapi(schema: dict[str, Any], max_depth: int = 5) -> None:
    """Raise AssertionError unless ``schema`` fits Gemini's function-declaration subset."""
    _check_openapi_node(schema, "#")
    assert _levels(schema) <= max_depth, f"deeper than {max_depth} levels"
    # The SDK's own validation: it forbids unknown keys and wrong value types.
    genai_types.Schema.model_validate(schema)
    if schema.get("type") == "object":
        genai_types.FunctionDeclaration(name="tool", parameters=schema)  # type: ignore[arg-type]


def _check_openapi_node(node: Any, where: str) -> None:
    assert isinstance(node, dict), f"{where}: not an object"
    unknown = set(node) - GEMINI_KEYS
    assert not unknown, f"{where}: keys Gemini rejects: {sorted(unknown)}"
    kind = node.get("type")
    assert kind is None or kind in GEMINI_TYPES, f"{where}: type {kind!r}"
    if "enum" in node:
        assert kind == "string", f"{where}: enum on type {kind!r}"
        assert all(isinstance(value, str) for value in node["enum"]), f"{where}: non-string enum"
    if kind == "array":
        assert isinstance(node.get("items"), dict), f"{where}: array without items"
    for key in ("minimum", "maximum"):
        if key in node:
            assert math.isfinite(float(node[key])), f"{where}: {key} not a float"
    properties = node.get("properties", {})
    assert set(node.get("required", [])) <= set(properties), f"{where}: required names undeclared"
    if "anyOf" in node:
        assert node["anyOf"], f"{where}: empty anyOf"
    for name, sub in properties.items():
        _check_openapi_node(sub, f"{where}/properties/{name}")
    if "items" in node:
        _check_openapi_node(node["items"], f"{where}/items")
    for index, sub in enumerate(node.get("anyOf", [])):
        _check_openapi_node(sub, f"{where}/anyOf/{index}")


def check_strict(schema: dict[str, Any], max_depth: int = 10) -> None:
    """Raise AssertionError unless ``schema`` follows OpenAI's strict-mode rules."""
    assert schema.get("type") == "object", "root must be an object"
    _check_openai_node(schema, "#")
    assert _levels(schema) <= max_depth, f"deeper than {max_depth} levels"


def _check_openai_node(node: Any, where: str) -> None:
    assert isinstance(node, dict), f"{where}: not an object"
    unknown = set(node) - OPENAI_STRICT_KEYS
    assert not unknown, f"{where}: keys strict mode rejects: {sorted(unknown)}"
    assert "type" in node or "anyOf" in node, f"{where}: no type"
    kinds = node.get("type", [])
    kinds = kinds if isinstance(kinds, list) else [kinds]
    assert set(kinds) <= OPENAI_TYPES, f"{where}: type {kinds!r}"
    assert len([kind for kind in kinds if kind != "null"]) <= 1, f"{where}: several non-null types"
    if "object" in kinds:
        assert node.get("additionalProperties") is False, f"{where}: object not closed"
        assert node.get("required") == list(node.get("properties", {})), f"{where}: not all required"
    if "array" in kinds:
        assert isinstance(node.get("items"), dict), f"{where}: array without items"
    if "format" in node:
        assert node["format"] in OPENAI_FORMATS, f"{where}: format {node['format']!r}"
    for name, sub in node.get("properties", {}).items():
        _check_openai_node(sub, f"{where}/properties/{name}")
    if "items" in node:
        _check_openai_node(node["items"], f"{where}/items")
    for index, sub in enumerate(node.get("anyOf", [])):
        _check_openai_node(sub, f"{where}/anyOf/{index}")


def check_inlined(schema: Any, where: str = "#") -> None:
    """No reference, definitions or meta keyword left anywhere a subschema can be."""
    if not isinstance(schema, dict):
        return
    banned = {"$ref", "$defs", "definitions"} | META
    assert not banned & set(schema), f"{where}: {sorted(banned & set(schema))}"
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "dependentSchemas") and isinstance(value, dict):
            for name, sub in value.items():
                check_inlined(sub, f"{where}/{key}/{name}")
        elif key in ("allOf", "anyOf", "oneOf", "prefixItems") or (key == "items" and isinstance(value, list)):
            for index, sub in enumerate(value):
                check_inlined(sub, f"{where}/{key}/{index}")
        elif key in ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames"):
            check_inlined(value, f"{where}/{key}")


def openapi_as_json_schema(schema: Any) -> Any:
    """Read a Gemini schema as JSON Schema (``nullable`` -> also null), to validate data."""
    if not isinstance(schema, dict):
        return schema
    out = {k: v for k, v in schema.items() if k not in ("nullable", "example", "propertyOrdering")}
    if "properties" in out:
        out["properties"] = {name: openapi_as_json_schema(sub) for name, sub in out["properties"].items()}
    if "items" in out:
        out["items"] = openapi_as_json_schema(out["items"])
    if "anyOf" in out:
        out["anyOf"] = [openapi_as_json_schema(sub) for sub in out["anyOf"]]
    if schema.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def strict_instance(schema: dict[str, Any], value: Any) -> Any:
    """Map data valid under an original schema to what strict mode represents it as.

    A missing optional property becomes an explicit null; a key the schema does not declare
    is dropped (strict objects are closed).
    """
    if "anyOf" in schema:
        for branch in schema["anyOf"]:
            mapped = strict_instance(branch, value)
            if is_valid(branch, mapped):
                return mapped
        return value
    if isinstance(value, dict) and "properties" in schema:
        return {
            name: strict_instance(sub, value[name]) if name in value else None
            for name, sub in schema["properties"].items()
        }
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [strict_instance(schema["items"], item) for item in value]
    return value


def is_valid(schema: Any, value: Any) -> bool:
    """Validate with the 2020-12 validator (formats are annotations, as in the providers)."""
    return bool(jsonschema.Draft202012Validator(schema).is_valid(value))


def validation_error(schema: Any, value: Any) -> str | None:
    """The first validation error's message, or None."""
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(value))
    return None if error is None else f"{error.json_path}: {error.message}"
