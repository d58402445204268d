"""One schema node in a normal form the strict targets can emit from.

``flatten`` takes one node of an inlined schema (no ``$ref`` left) and returns it with:
``const`` as a one-value ``enum``; ``type`` as a list (``nullable: true`` folded in); ``allOf``
merged into the node; ``oneOf`` as ``anyOf``; ``anyOf`` alone with annotations (other
assertions pushed into each branch); tuple forms folded into ``items``; and the keywords that
neither Gemini nor OpenAI strict mode carry dropped, each restated as a note. Subschemas stay
as they are: the emitters flatten them when they get there.

Every rewrite keeps every value the node accepted (it may accept more, never less): that is
the property the tests check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .errors import Path, SchemaError
from .notes import compact, restate
from .walk import META

TYPE_ORDER = ("string", "number", "integer", "boolean", "object", "array", "null")
ANNOTATION_KEYS = frozenset({"title", "description", "default", "examples", "example"})
KNOWN = frozenset(
    {
        "type",
        "enum",
        "anyOf",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
    }
    | ANNOTATION_KEYS
)
# Neither Gemini nor OpenAI strict mode has these: they go into the description.
RESTATED = (
    "not",
    "if",
    "then",
    "else",
    "contains",
    "minContains",
    "maxContains",
    "propertyNames",
    "dependentRequired",
    "dependentSchemas",
    "dependencies",
    "unevaluatedItems",
    "unevaluatedProperties",
    "uniqueItems",
)
_LOWER = frozenset({"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"})
_UPPER = frozenset({"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"})
_COUNTS = frozenset({"minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"})
_NUMBERS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"})
# allOf members that each carry an anyOf multiply out; past this many branches, keep the first
# anyOf and restate the others.
MAX_ANY_OF_PRODUCT = 16


@dataclass
class Flat:
    """A flattened node: the schema, notes for its description, and whether nothing matches."""

    schema: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    never: bool = False


def json_key(value: Any) -> Any:
    """A hashable key with JSON equality: ``1 == 1.0``, but ``true != 1``."""
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list):
        return ("array", tuple(json_key(item) for item in value))
    if isinstance(value, dict):
        return ("object", tuple(sorted((key, json_key(item)) for key, item in value.items())))
    raise TypeError(f"not a JSON value: {value!r}")


def json_type(value: Any) -> str:
    """The narrowest JSON Schema type of a value (``1.0`` is an integer, as in JSON Schema)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {value!r}")


def matches_type(value: Any, types: list[str]) -> bool:
    """Whether ``value`` is of one of ``types`` (``number`` includes integers)."""
    kind = json_type(value)
    return kind in types or (kind == "integer" and "number" in types)


def is_number(value: Any) -> bool:
    """A JSON number: int or finite float, never a bool."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def both(first: Any, second: Any) -> Any:
    """A schema for values valid under both (left for a later flatten to merge)."""
    if first is True or first == {}:
        return second
    if second is True or second == {}:
        return first
    if first is False or second is False:
        return False
    if json_key(first) == json_key(second):
        return first
    return {"allOf": [first, second]}


def flatten(raw: Any, path: Path) -> Flat:
    """Flatten one inlined schema node found at ``path``."""
    if raw is True:
        return Flat({})
    if raw is False:
        return Flat({}, never=True)
    if not isinstance(raw, dict):
        raise SchemaError(path, f"a schema must be an object or a boolean, got {type(raw).__name__}")
    if "$ref" in raw:
        raise SchemaError(path, "unresolved $ref: inline references first")
    schema = {k: v for k, v in raw.items() if k not in META and k not in ("$defs", "definitions")}
    notes: list[str] = []
    _legacy_forms(schema, path)
    _check_values(schema, path)
    _fold_tuple(schema, notes, path)
    if "patternProperties" in schema:
        # Keys matching a pattern were exempt from additionalProperties: without the patterns,
        # additionalProperties would reject them, so it goes too.
        notes.append(restate("patternProperties", schema.pop("patternProperties")))
        if "additionalProperties" in schema:
            notes.append(restate("additionalProperties", schema.pop("additionalProperties")))
    for keyword in RESTATED:
        if keyword in schema:
            notes.append(restate(keyword, schema.pop(keyword)))
    all_of = _schema_list(schema.pop("allOf", None), "allOf", path)
    one_of = _schema_list(schema.pop("oneOf", None), "oneOf", path)
    any_of = _schema_list(schema.pop("anyOf", None), "anyOf", path)
    for key in list(schema):
        if key not in KNOWN:
            del schema[key]  # vendor extensions and unknown keywords: nothing to tell the model
    flat = Flat(schema, notes)
    # oneOf is anyOf without exclusivity: every value it accepted is still accepted.
    for branches in (any_of, one_of):
        # A branch that takes anything makes the whole union take anything.
        if branches is not None and not any(branch is True or branch == {} for branch in branches):
            flat = merge(flat, Flat({"anyOf": branches}))
    for index, member in enumerate(all_of or ()):
        flat = merge(flat, flatten(member, (*path, "allOf", index)))
    _narrow(flat)
    _distribute(flat)
    return flat


def merge(first: Flat, second: Flat) -> Flat:
    """Merge two flattened nodes into one that accepts the values both accept (or more)."""
    notes = first.notes + second.notes
    if first.never or second.never:
        return Flat({k: v for k, v in first.schema.items() if k in ANNOTATION_KEYS}, notes, never=True)
    a, b = first.schema, second.schema
    out = dict(a)
    for key, theirs in b.items():
        if key not in out:
            out[key] = theirs
            continue
        ours = out[key]
        if key == "type":
            out[key] = intersect_types(ours, theirs)
        elif key == "enum":
            keys = {json_key(value) for value in theirs}
            out[key] = [value for value in ours if json_key(value) in keys]
        elif key == "required":
            out[key] = ours + [name for name in theirs if name not in ours]
        elif key in _LOWER:
            out[key] = max(ours, theirs)
        elif key in _UPPER:
            out[key] = min(ours, theirs)
        elif key in ("multipleOf", "pattern", "format"):
            if ours != theirs:
                notes.append(restate(key, theirs))  # one of them fits the keyword; say the other
        elif key in ("items", "additionalProperties"):
            out[key] = both(ours, theirs)
        elif key == "anyOf":
            if len(ours) * len(theirs) <= MAX_ANY_OF_PRODUCT:
                out[key] = [both(x, y) for x in ours for y in theirs]
            else:
                notes.append("must also match one of: " + ", ".join(compact(y) for y in theirs))
        elif key == "description":
            if ours != theirs:
                out[key] = f"{ours} {theirs}"
        # title, default, examples, example: the first one stays
    if "properties" in a or "properties" in b:
        out["properties"] = _merge_properties(a, b)
    return Flat(out, notes)


def intersect_types(first: list[str], second: list[str]) -> list[str]:
    """Types allowed by both lists (``number`` with ``integer`` gives ``integer``)."""
    result = []
    for kind in TYPE_ORDER:
        in_first = kind in first or (kind == "integer" and "number" in first)
        in_second = kind in second or (kind == "integer" and "number" in second)
        if in_first and in_second:
            result.append(kind)
    if "number" in result and "integer" in result:
        result.remove("integer")
    return result


def _merge_properties(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    # A key that one side does not declare is checked by that side's additionalProperties
    # (patternProperties are gone by now, so nothing else can claim it).
    ours, theirs = a.get("properties", {}), b.get("properties", {})
    our_rest, their_rest = a.get("additionalProperties", True), b.get("additionalProperties", True)
    merged = {}
    for name in [*ours, *(n for n in theirs if n not in ours)]:
        merged[name] = both(ours.get(name, our_rest), theirs.get(name, their_rest))
    return merged


def _legacy_forms(schema: dict[str, Any], path: Path) -> None:
    # draft-04: exclusiveMinimum/Maximum are booleans that modify minimum/maximum
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        flag = schema.get(exclusive)
        if isinstance(flag, bool):
            del schema[exclusive]
            if flag and bound in schema:
                schema[exclusive] = schema.pop(bound)
    nullable = schema.pop("nullable", None)  # OpenAPI 3.0 spelling, common in hand-written tools
    if "type" in schema:
        types = _types(schema["type"], path)
        if nullable is True and "null" not in types:
            types.append("null")
        schema["type"] = types
    if "const" in schema:
        const = schema.pop("const")
        if "enum" in schema:
            _enum_list(schema["enum"], path)
            schema["enum"] = [v for v in schema["enum"] if json_key(v) == json_key(const)]
        else:
            schema["enum"] = [const]
    if "enum" in schema:
        schema["enum"] = _dedupe(_enum_list(schema["enum"], path))


def _fold_tuple(schema: dict[str, Any], notes: list[str], path: Path) -> None:
    items = schema.get("items")
    if isinstance(items, list):  # draft-04 tuple form
        schema["prefixItems"] = schema.pop("items")
        if "additionalItems" in schema:
            schema["items"] = schema.pop("additionalItems")
    schema.pop("additionalItems", None)  # meaningless without a tuple
    if "prefixItems" in schema:
        prefix = _schema_list(schema.pop("prefixItems"), "prefixItems", path) or []
        rest = schema.pop("items", True)
        notes.append(restate("prefixItems", prefix))
        if rest is False:
            schema["maxItems"] = min(schema.get("maxItems", len(prefix)), len(prefix))
        # Every item matches its own prefix schema or the rest: together, their anyOf.
        branches = [*prefix, *([] if rest is False else [rest])]
        if rest is not False and any(branch is True or branch == {} for branch in branches):
            pass  # one branch takes anything: items stay unconstrained
        elif branches:
            schema["items"] = branches[0] if len(branches) == 1 else {"anyOf": branches}
    if schema.get("items") is True or schema.get("items") == {}:
        del schema["items"]
    elif schema.get("items") is False:
        del schema["items"]
        schema["maxItems"] = 0


def _narrow(flat: Flat) -> None:
    schema = flat.schema
    types = schema.get("type")
    if "enum" in schema:
        values = schema["enum"]
        if types is not None:
            values = [value for value in values if matches_type(value, types)]
        schema["enum"] = values
        present = {json_type(value) for value in values}
        if types is None:
            types = [kind for kind in TYPE_ORDER if kind in present]
        else:
            types = [kind for kind in types if any(matches_type(value, [kind]) for value in values)]
        if "number" in types and "integer" in types:
            types.remove("integer")
        schema["type"] = types
    if types is not None and not types:
        flat.never = True


def _distribute(flat: Flat) -> None:
    # anyOf next to assertions means "both": each branch gets the assertions, so the emitted
    # anyOf needs no siblings but annotations (Gemini and OpenAI read it that way too).
    schema = flat.schema
    if "anyOf" not in schema:
        return
    assertions = {k: v for k, v in schema.items() if k not in ANNOTATION_KEYS and k != "anyOf"}
    if not assertions:
        return
    branches = [both(assertions, branch) for branch in schema["anyOf"]]
    flat.schema = {k: v for k, v in schema.items() if k in ANNOTATION_KEYS}
    flat.schema["anyOf"] = branches


def _types(raw: Any, path: Path) -> list[str]:
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise SchemaError(path, f"type must be a string or a list of strings, got {compact(raw)}")
    unknown = [name for name in names if name not in TYPE_ORDER]
    if unknown:
        raise SchemaError(path, f"unknown type {unknown[0]!r}")
    types = [kind for kind in TYPE_ORDER if kind in names]
    if "number" in types and "integer" in types:
        types.remove("integer")
    return types


def _schema_list(value: Any, keyword: str, path: Path) -> list[Any] | None:
    if value is None:
        return None
    if not isinstance(value, list) or (keyword != "prefixItems" and not value):
        raise SchemaError((*path, keyword), f"{keyword} must be a non-empty list of schemas")
    return list(value)


def _enum_list(value: Any, path: Path) -> list[Any]:
    if not isinstance(value, list):
        raise SchemaError((*path, "enum"), f"enum must be a list, got {compact(value)}")
    return value


def _dedupe(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for value in values:
        key = json_key(value)
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


def _check_values(schema: dict[str, Any], path: Path) -> None:
    for key in _NUMBERS & schema.keys():
        if not is_number(schema[key]):
            raise SchemaError((*path, key), f"{key} must be a number, got {compact(schema[key])}")
    for key in _COUNTS & schema.keys():
        value = schema[key]
        if not is_number(value) or value < 0 or not float(value).is_integer():
            raise SchemaError((*path, key), f"{key} must be a non-negative integer, got {compact(value)}")
        schema[key] = int(value)
    if "properties" in schema and not isinstance(schema["properties"], dict):
        raise SchemaError((*path, "properties"), "properties must be an object")
    required = schema.get("required")
    if required is not None and (not isinstance(required, list) or not all(isinstance(name, str) for name in required)):
        raise SchemaError((*path, "required"), "required must be a list of strings")
    for key in ("pattern", "format", "title", "description"):
        if key in schema and not isinstance(schema[key], str):
            raise SchemaError((*path, key), f"{key} must be a string")
