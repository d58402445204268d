"""Draw JSON values valid under a (test-generated) JSON Schema.

hypothesis-jsonschema does not run on current Hypothesis, so this covers the subset our
strategies produce: candidates come from the schema's shape and the caller keeps only those
that jsonschema says are valid, so a loose candidate can never make a test pass wrongly.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

ANY_JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from([0.5, -2.25]) | st.text("abz", max_size=3),
    lambda children: st.lists(children, max_size=2) | st.dictionaries(st.text("pq", max_size=2), children, max_size=2),
    max_leaves=4,
)
_ALL_TYPES = ["null", "boolean", "integer", "number", "string", "array", "object"]


def instances(schema: Any, root: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """Candidate values for ``schema`` (``root`` resolves ``$ref``)."""
    root = schema if root is None else root
    if schema is True or schema == {}:
        return ANY_JSON
    if schema is False or not isinstance(schema, dict):
        return st.nothing()
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return instances(target, root)
    if "allOf" in schema:
        return _all_of(schema, root)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([instances(branch, root) for branch in schema[key]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type", _ALL_TYPES)
    kinds = kind if isinstance(kind, list) else [kind]
    return st.one_of([_typed(each, schema, root) for each in kinds])


def _typed(kind: str, schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[Any]:
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind in ("integer", "number"):
        low = max(schema.get("minimum", -10), schema.get("exclusiveMinimum", -11) + 1e-9)
        high = min(schema.get("maximum", 10), schema.get("exclusiveMaximum", 11) - 1e-9)
        if low > high:
            return st.nothing()
        ints = st.integers(math.ceil(low), math.floor(high)) if math.ceil(low) <= math.floor(high) else st.nothing()
        if kind == "integer":
            return ints
        return ints | st.floats(low, high, allow_nan=False, allow_infinity=False)
    if kind == "string":
        low, high = schema.get("minLength", 0), schema.get("maxLength", 5)
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=schema["pattern"].startswith("^")).filter(
                lambda text: low <= len(text) <= high
            )
        return st.text("axy", min_size=low, max_size=max(low, high))
    if kind == "array":
        low = schema.get("minItems", 0)
        high = min(schema.get("maxItems", 3), low + 3)
        element = instances(schema.get("items", True), root)
        if element.is_empty:  # items nothing can match: only the empty array
            return st.just([]) if low == 0 else st.nothing()
        return st.lists(element, min_size=low, max_size=high)
    properties = schema.get("properties", {})
    required = [name for name in schema.get("required", []) if name in properties]
    optional: dict[str, st.SearchStrategy[Any]] = {
        name: instances(sub, root) for name, sub in properties.items() if name not in required
    }
    if schema.get("additionalProperties", True) is not False:
        optional["extra"] = ANY_JSON
    return st.fixed_dictionaries({name: instances(properties[name], root) for name in required}, optional=optional)


def _all_of(schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[Any]:
    # Objects: the union of the members' properties and required names; anything else: the
    # first member's values (the caller filters out those the other members reject).
    members = [member for member in schema["allOf"] if isinstance(member, dict)]
    if members and all(member.get("type") == "object" for member in members):
        properties: dict[str, Any] = {}
        required: list[str] = []
        for member in members:
            for name, sub in member.get("properties", {}).items():
                properties.setdefault(name, sub)
            required += member.get("required", [])
        closed = any(member.get("additionalProperties") is False for member in members)
        merged: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
        if closed:
            merged["additionalProperties"] = False
        return instances(merged, root)
    rest = {k: v for k, v in schema.items() if k != "allOf"}
    return instances(rest if "type" in rest else schema["allOf"][0], root)
