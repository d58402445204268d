"""OpenAI structured outputs / strict function calling.

Documented rules (platform.openai.com, "Structured Outputs: supported schemas"): the root is
an object; every object has ``additionalProperties: false`` and lists all its properties in
``required`` (optional ones are expressed as a union with null); supported keywords are
``type``/``enum``/``const``/``anyOf``/``properties``/``required``/``additionalProperties``/
``items``, ``pattern`` and a list of ``format`` values for strings, ``minimum``/``maximum``/
``exclusiveMinimum``/``exclusiveMaximum``/``multipleOf`` for numbers, ``minItems``/``maxItems``
for arrays; at most 5000 object properties, 10 levels of nesting, 1000 enum values, and
120,000 characters of property names and enum values.
"""

from __future__ import annotations

from typing import Any

from .emit import Emitter, Out, enum_of
from .errors import Path, SchemaError
from .notes import describe, restate

ALLOWED = frozenset(
    {
        "type",
        "enum",
        "anyOf",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minItems",
        "maxItems",
        "title",
        "description",
    }
)
STRING_FORMATS = frozenset({"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"})
DEFAULT_MAX_DEPTH = 10
MAX_PROPERTIES = 5000
MAX_ENUM_VALUES = 1000
MAX_STRING_LENGTH = 120_000

_STRICT_HINT = "send it with strict mode off (target 'json_schema') or give the value a closed shape"


class StrictEmitter(Emitter):
    """JSON Schema -> the subset OpenAI accepts with ``strict: true``."""

    target = "strict"

    def root(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The root must be a plain (non-null, non-union) object."""
        out = super().root(schema)
        if out.get("type") != "object":
            raise SchemaError((), "strict needs an object at the root (not null, not a union)")
        return out

    def string(self, schema: dict[str, Any], body: dict[str, Any], notes: list[str]) -> None:
        """Pattern and documented formats carry over; lengths are restated."""
        if "pattern" in schema:
            body["pattern"] = schema["pattern"]
        fmt = schema.get("format")
        if fmt in STRING_FORMATS:
            body["format"] = fmt
        elif fmt is not None:
            notes.append(restate("format", fmt))
        for key in ("minLength", "maxLength"):
            if key in schema:
                notes.append(restate(key, schema[key]))
        if "enum" in schema:
            body["enum"] = enum_of(schema, "string")

    def number(self, kind: str, schema: dict[str, Any], body: dict[str, Any], notes: list[str]) -> None:
        """Every numeric keyword is supported."""
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
            if key in schema:
                body[key] = schema[key]
        if "format" in schema:
            notes.append(restate("format", schema["format"]))
        if "enum" in schema:
            body["enum"] = enum_of(schema, kind)

    def object(self, schema: dict[str, Any], body: dict[str, Any], notes: list[str], path: Path) -> None:
        """Closed, every property required, the optional ones nullable."""
        properties = self.properties(schema, notes, path)
        if not schema.get("properties") and schema.get("additionalProperties", True) is not False:
            raise SchemaError(path, f"an object with arbitrary keys cannot be strict: {_STRICT_HINT}")
        declared = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in declared:
                raise SchemaError(path, f"required property {name!r} has no schema: declare it in properties")
        required = set(schema.get("required", []))
        body["properties"] = {
            name: (out if name in required else self.nullable(out)).schema for name, out in properties.items()
        }
        body["required"] = list(properties)
        body["additionalProperties"] = False
        for key in ("minProperties", "maxProperties"):
            if key in schema:
                notes.append(restate(key, schema[key]))

    def other_enum(self, kind: str, values: list[Any], body: dict[str, Any], notes: list[str]) -> None:
        """Boolean enums are fine; enums of objects or arrays are restated."""
        if kind == "boolean":
            body["enum"] = values
        else:
            notes.append(restate("enum", values))

    def any_value(self, schema: dict[str, Any], notes: list[str], path: Path) -> Out:
        """Strict mode needs a type everywhere."""
        raise SchemaError(path, f"a value of any type cannot be strict: {_STRICT_HINT}")

    def null_value(self, schema: dict[str, Any], notes: list[str], path: Path) -> Out:
        """``{"type": "null"}``."""
        return Out(self.finish({"type": "null"}, schema, notes), "null")

    def nullable(self, out: Out) -> Out:
        """A type list with ``"null"`` (or a null branch on a union), null added to an enum."""
        schema = dict(out.schema)
        if out.kind == "null":
            return out
        if "anyOf" in schema:
            branches = list(schema["anyOf"])
            if not any(branch.get("type") == "null" for branch in branches):
                branches.append({"type": "null"})
            schema["anyOf"] = branches
            return Out(schema, out.kind)
        kind = schema.get("type")
        kinds = list(kind) if isinstance(kind, list) else [kind]
        if "null" not in kinds:
            schema["type"] = [*kinds, "null"]
        if "enum" in schema and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
        return Out(schema, out.kind)

    def never_items(self) -> dict[str, Any]:
        """Items of an array that must be empty: null (``maxItems: 0`` does the work)."""
        return {"type": "null"}

    def finish(self, body: dict[str, Any], schema: dict[str, Any], notes: list[str]) -> dict[str, Any]:
        """Title and description; a default is restated (strict mode has no optional fields)."""
        out = dict(body)
        if "title" in schema:
            out["title"] = schema["title"]
        extra = [restate("default", schema["default"])] if "default" in schema else []
        description = describe(schema.get("description"), [*notes, *extra])
        if description:
            out["description"] = description
        return out
