"""Size limits measured on a rewritten schema: nesting depth, property and enum counts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .errors import Path, SchemaError
from .walk import LISTS, MAPS, SINGLE

_CONTAINERS = frozenset({"object", "array"})


def children(schema: dict[str, Any], path: Path) -> Iterator[tuple[Any, Path]]:
    """The direct subschemas of ``schema`` with their paths (``$defs`` excluded)."""
    for key, value in schema.items():
        if key in ("$defs", "definitions"):
            continue
        if key in SINGLE or (key == "items" and isinstance(value, dict)):
            yield value, (*path, key)
        elif (key in LISTS or key == "items") and isinstance(value, list):
            for index, sub in enumerate(value):
                yield sub, (*path, key, index)
        elif key in MAPS and isinstance(value, dict):
            for name, sub in value.items():
                yield sub, (*path, key, name)


def is_container(schema: dict[str, Any]) -> bool:
    """An object or array level: typed so, or carrying properties/items."""
    kind = schema.get("type")
    kinds = set(kind) if isinstance(kind, list) else {kind}
    return bool(kinds & _CONTAINERS) or "properties" in schema or "items" in schema


def deepest(schema: Any, path: Path = ()) -> tuple[int, Path]:
    """The most object/array levels on one path from ``schema`` down, and where it ends.

    ``anyOf`` branches and scalars add no level; the root object is level 1.
    """
    if not isinstance(schema, dict):
        return 0, path
    best: tuple[int, Path] = (0, path)
    for sub, sub_path in children(schema, path):
        found = deepest(sub, sub_path)
        if found[0] > best[0]:
            best = found
    own = 1 if is_container(schema) else 0
    return best[0] + own, best[1]


def check_depth(schema: dict[str, Any], limit: int, target: str) -> None:
    """SchemaError when the schema nests more object/array levels than ``limit``."""
    depth, where = deepest(schema)
    if depth > limit:
        raise SchemaError(where, f"nesting depth {depth} exceeds the {target} limit of {limit} object/array levels")


def _nodes(schema: Any, path: Path = ()) -> Iterator[tuple[dict[str, Any], Path]]:
    if isinstance(schema, dict):
        yield schema, path
        for sub, sub_path in children(schema, path):
            yield from _nodes(sub, sub_path)


def check_strict_sizes(schema: dict[str, Any], max_properties: int, max_enum: int, max_chars: int) -> None:
    """OpenAI strict mode's documented size limits, as SchemaErrors."""
    properties = enums = chars = 0
    for node, path in _nodes(schema):
        names = node.get("properties", {})
        properties += len(names)
        chars += sum(len(name) for name in names)
        values = node.get("enum", [])
        enums += len(values)
        chars += sum(len(value) for value in values if isinstance(value, str))
        if properties > max_properties:
            raise SchemaError(path, f"more than {max_properties} object properties in total")
        if enums > max_enum:
            raise SchemaError(path, f"more than {max_enum} enum values in total")
        if chars > max_chars:
            raise SchemaError(path, f"property names and enum values exceed {max_chars} characters in total")
