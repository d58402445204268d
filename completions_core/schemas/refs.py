"""Local ``$ref`` resolution: inline every reference, or just check that each one resolves."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from .errors import Path, SchemaError
from .walk import META, map_subschemas

# Inlining copies a definition at every use; a schema that shares definitions in many places
# can grow exponentially, and nothing downstream should hold millions of nodes.
MAX_INLINED_SCHEMAS = 20_000

# Keywords that describe rather than constrain: next to a ``$ref`` they just annotate the target.
ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "example", "deprecated", "readOnly", "writeOnly"}
)

_DEFS = ("$defs", "definitions")


def parse_local_ref(ref: Any, path: Path) -> tuple[str, ...]:
    """Parse a local reference (``#``, ``#/$defs/X``, any JSON pointer) into its path parts."""
    if not isinstance(ref, str):
        raise SchemaError(path, f"$ref must be a string, got {ref!r}")
    if not ref.startswith("#"):
        raise SchemaError(path, f"only local references ('#/...') are supported, got {ref!r}")
    fragment = unquote(ref[1:])
    if fragment == "":
        return ()
    if not fragment.startswith("/"):
        raise SchemaError(path, f"anchor references are not supported, got {ref!r}")
    return tuple(part.replace("~1", "/").replace("~0", "~") for part in fragment[1:].split("/"))


def resolve_pointer(root: dict[str, Any], parts: tuple[str, ...], ref: str, path: Path) -> Any:
    """Follow ``parts`` from ``root``; a missing step is a SchemaError naming the reference."""
    node: Any = root
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise SchemaError(path, f"reference {ref} does not resolve")
    if not isinstance(node, (dict, bool)):
        raise SchemaError(path, f"reference {ref} points at {type(node).__name__}, not a schema")
    return node


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``schema`` with every local ``$ref`` replaced by its target.

    ``$defs`` / ``definitions`` disappear, as do ``$schema``, ``$id`` and ``$comment``. A
    reference that reaches back into the schema it is part of is a cycle, and a SchemaError:
    an inlined schema has to be finite. Keywords next to a ``$ref`` follow 2019-09 semantics
    (they apply as well): annotations overwrite the target's, assertions join it in an
    ``allOf``. The input is never modified.
    """
    if not isinstance(schema, dict):
        raise SchemaError((), f"a schema must be a JSON object, got {type(schema).__name__}")
    inliner = _Inliner(schema)
    result = inliner.walk(schema, (), ())
    assert isinstance(result, dict)  # a dict root with a $ref resolves to a dict or an allOf
    return result


class _Inliner:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.count = 0

    def walk(self, node: Any, path: Path, exits: tuple[tuple[str, ...], ...]) -> Any:
        """Inline ``node`` found at ``path`` (a place in the original document).

        ``exits`` holds, for each reference being expanded, the place it was found: a
        reference whose target contains one of them, or the current place, is a cycle.
        """
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict):
            raise SchemaError(path, f"a schema must be an object or a boolean, got {type(node).__name__}")
        self.count += 1
        if self.count > MAX_INLINED_SCHEMAS:
            raise SchemaError(path, f"inlining references produces more than {MAX_INLINED_SCHEMAS} schemas")
        for dynamic in ("$dynamicRef", "$recursiveRef"):
            if dynamic in node:
                raise SchemaError(path, f"{dynamic} is not supported")
        body = {k: v for k, v in node.items() if k not in _DEFS and k not in META}
        if "$ref" not in body:
            return map_subschemas(body, path, lambda sub, sub_path: self.walk(sub, sub_path, exits))
        ref = body.pop("$ref")
        target_parts = parse_local_ref(ref, path)
        here = tuple(str(part) for part in path)
        for place in (*exits, here):
            if place[: len(target_parts)] == target_parts:
                raise SchemaError(path, f"reference cycle through {ref}")
        target = resolve_pointer(self.root, target_parts, ref, path)
        resolved = self.walk(target, target_parts, (*exits, here))
        if not body:
            return resolved
        siblings = map_subschemas(body, path, lambda sub, sub_path: self.walk(sub, sub_path, exits))
        if isinstance(resolved, dict) and all(key in ANNOTATIONS for key in siblings):
            return {**resolved, **siblings}
        return {"allOf": [resolved, siblings]}


def strip_meta(schema: dict[str, Any]) -> dict[str, Any]:
    """Copy ``schema`` without ``$schema``/``$id``/``$comment``, keeping ``$ref`` and ``$defs``.

    Every reference must still resolve locally once ``$id`` is gone (SchemaError otherwise);
    cycles are fine here, since the schema stays as written.
    """
    if not isinstance(schema, dict):
        raise SchemaError((), f"a schema must be a JSON object, got {type(schema).__name__}")

    def visit(node: Any, path: Path) -> Any:
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict):
            raise SchemaError(path, f"a schema must be an object or a boolean, got {type(node).__name__}")
        if "$ref" in node:
            ref = node["$ref"]
            resolve_pointer(schema, parse_local_ref(ref, path), ref, path)
        return map_subschemas({k: v for k, v in node.items() if k not in META}, path, visit)

    result = visit(schema, ())
    assert isinstance(result, dict)
    return result
