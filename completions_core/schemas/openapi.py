"""Gemini's function-declaration ``parameters`` (and ``response_schema``): an OpenAPI 3.0 subset.

google-genai's ``types.Schema`` forbids every key outside its field list, and the server
rejects more (``additionalProperties``, ``const``, type lists, ...): see
``shared/data/wire/SDK_NOTES.md`` section 3 and ``docs/schemas.md``.
"""

from __future__ import annotations

import math
from typing import Any

from .emit import Emitter, Out, enum_of
from .errors import Path
from .notes import compact, describe, restate

# The keys this target may emit (google-genai ``types.Schema`` field names, camelCase).
ALLOWED = frozenset(
    {
        "type",
        "format",
        "description",
        "nullable",
        "enum",
        "properties",
        "required",
        "items",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "minProperties",
        "maxProperties",
        "anyOf",
        "default",
        "example",
        "title",
        "propertyOrdering",
    }
)
# Formats Gemini documents per type; any other is restated.
FORMATS: dict[str, frozenset[str]] = {
    "string": frozenset({"date-time", "date", "email", "byte", "password"}),
    "number": frozenset({"float", "double"}),
    "integer": frozenset({"int32", "int64"}),
}
# Not documented by Google: third-party reports put the server's limit at 4 to 6 levels.
# Counted as nested object/array levels, the root object being level 1.
DEFAULT_MAX_DEPTH = 5


def _float_safe(value: Any) -> bool:
    # The SDK types minimum/maximum as float: a bigger integer fails its validation.
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


class OpenAPIEmitter(Emitter):
    """JSON Schema -> Gemini ``Schema`` (as a dict with the SDK's camelCase names)."""

    target = "openapi"

    def string(self, schema: dict[str, Any], body: dict[str, Any], notes: list[str]) -> None:
        """Lengths and pattern carry over; enums are the one place Gemini wants them."""
        for key in ("minLength", "maxLength", "pattern"):
            if key in schema:
                body[key] = schema[key]
        self._format("string", schema, body, notes)
        if "enum" in schema:
            body["enum"] = enum_of(schema, "string")

    def number(self, kind: str, schema: dict[str, Any], body: dict[str, Any], notes: list[str]) -> None:
        """Bounds become inclusive (exact for integers); the rest is restated."""
        integer = kind == "integer"
        low = _bound(schema, "minimum", "exclusiveMinimum", max)
        if low is not None:
            value, exclusive = low
            if exclusive and integer:
                value = math.floor(value) + 1  # the first integer above the bound
            elif exclusive:
                notes.append(restate("exclusiveMinimum", value))
            self._set_bound(body, notes, "minimum", value)
        high = _bound(schema, "maximum", "exclusiveMaximum", min)
        if high is not None:
            value, exclusive = high
            if exclusive and integer:
                value = math.ceil(value) - 1
            elif exclusive:
                notes.append(restate("exclusiveMaximum", value))
            self._set_bound(body, notes, "maximum", value)
        if "multipleOf" in schema:
            notes.append(restate("multipleOf", schema["multipleOf"]))
        self._format(kind, schema, body, notes)
        if "enum" in schema:
            notes.append(restate("enum", enum_of(schema, kind)))

    def object(self, schema: dict[str, Any], body: dict[str, Any], notes: list[str], path: Path) -> None:
        """Properties and required carry over; additionalProperties is restated."""
        properties = self.properties(schema, notes, path)
        if properties:
            body["properties"] = {name: out.schema for name, out in properties.items()}
        required = [name for name in schema.get("required", []) if name in properties]
        undeclared = [
            name
            for name in schema.get("required", [])
            if name not in properties and name not in schema.get("properties", {})
        ]
        if required:
            body["required"] = required
        if undeclared:
            # Gemini wants every required name declared; the model is still told.
            notes.append("must include " + ", ".join(compact(name) for name in undeclared))
        rest = schema.get("additionalProperties", True)
        if rest is not True:
            notes.append(restate("additionalProperties", rest))
        for key in ("minProperties", "maxProperties"):
            if key in schema:
                body[key] = schema[key]

    def any_value(self, schema: dict[str, Any], notes: list[str], path: Path) -> Out:
        """No type at all: the only Gemini schema that keeps every value valid.

        google-genai itself emits an untyped ``Schema()`` where it cannot resolve a type.
        """
        return Out(self.finish({}, schema, notes), "any")

    def null_value(self, schema: dict[str, Any], notes: list[str], path: Path) -> Out:
        """Only null: a nullable string (Gemini has no null-only field in this subset)."""
        body = {"type": "string", "nullable": True}
        return Out(self.finish(body, schema, [*notes, "must be null"]), "null")

    def nullable(self, out: Out) -> Out:
        """``nullable: true``, the OpenAPI 3.0 way."""
        return Out({**out.schema, "nullable": True}, out.kind)

    def never_items(self) -> dict[str, Any]:
        """Items of an array that must be empty: anything (``maxItems: 0`` does the work)."""
        return {}

    def finish(self, body: dict[str, Any], schema: dict[str, Any], notes: list[str]) -> dict[str, Any]:
        """Title, description (with notes), default, and ``examples[0]`` as ``example``."""
        out = dict(body)
        if "title" in schema:
            out["title"] = schema["title"]
        description = describe(schema.get("description"), notes)
        if description:
            out["description"] = description
        if "default" in schema:
            out["default"] = schema["default"]
        if "example" in schema:
            out["example"] = schema["example"]
        elif isinstance(schema.get("examples"), list) and schema["examples"]:
            out["example"] = schema["examples"][0]
        return out

    def _format(self, kind: str, schema: dict[str, Any], body: dict[str, Any], notes: list[str]) -> None:
        value = schema.get("format")
        if value is None:
            return
        if value in FORMATS.get(kind, frozenset()):
            body["format"] = value
        else:
            notes.append(restate("format", value))

    def _set_bound(self, body: dict[str, Any], notes: list[str], key: str, value: Any) -> None:
        if _float_safe(value):
            body[key] = value
        else:
            notes.append(restate(key, value))


def _bound(schema: dict[str, Any], inclusive: str, exclusive: str, tighter: Any) -> tuple[Any, bool] | None:
    """The tighter of an inclusive and an exclusive bound, and whether it is exclusive."""
    has_in, has_ex = inclusive in schema, exclusive in schema
    if not has_in and not has_ex:
        return None
    if not has_ex:
        return schema[inclusive], False
    if not has_in:
        return schema[exclusive], True
    value_in, value_ex = schema[inclusive], schema[exclusive]
    # On a tie the exclusive bound is the tighter one.
    if tighter(value_in, value_ex) == value_ex or value_in == value_ex:
        return value_ex, True
    return value_in, False
