"""The walk shared by the strict targets: flatten each node, split it by type, recurse.

A target subclass says how each type is written, how null is allowed, and what a value of
any type becomes. ``emit`` returns None for a node that accepts no value at all, so the
caller can drop it (a property that must be absent, an anyOf branch that never matches).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .errors import Path, SchemaError
from .flatten import flatten, matches_type
from .notes import compact, restate

Kind = Literal["typed", "any", "null"]

# The keywords that apply to each type: on another type they mean nothing and are ignored.
_FAMILIES: dict[str, tuple[str, ...]] = {
    "string": ("minLength", "maxLength", "pattern", "format"),
    "number": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "format"),
    "object": ("properties", "required", "additionalProperties", "minProperties", "maxProperties"),
    "array": ("items", "minItems", "maxItems"),
}
_STRUCTURAL = {
    "object": ("properties", "required", "additionalProperties", "minProperties", "maxProperties"),
    "array": ("items", "minItems", "maxItems"),
}


@dataclass
class Out:
    """An emitted node, and what it accepts: a typed value, any value, or only null."""

    schema: dict[str, Any]
    kind: Kind = "typed"


class Emitter:
    """Rewrites an inlined JSON Schema for one strict target."""

    target = ""

    def root(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Emit the whole schema; a schema that accepts nothing is a SchemaError."""
        out = self.emit(schema, ())
        if out is None:
            raise SchemaError((), "the schema accepts no value")
        return out.schema

    def emit(self, raw: Any, path: Path) -> Out | None:
        """Emit one node (and, through it, its subschemas)."""
        flat = flatten(raw, path)
        if flat.never:
            return None
        schema = flat.schema
        if "anyOf" in schema:
            return self._union(schema, flat.notes, path)
        types = schema.get("type")
        if types is None:
            types = _implied_type(schema)
        if types is None:
            notes = flat.notes + [restate(k, v) for k, v in schema.items() if _is_constraint(k)]
            return self.any_value(schema, notes, path)
        concrete = [kind for kind in types if kind != "null"]
        if not concrete:
            return self.null_value(schema, flat.notes, path)
        if len(concrete) == 1:
            body, notes = self.typed(concrete[0], schema, path)
            out = Out(self.finish(body, schema, flat.notes + notes))
        else:
            branches = []
            for kind in concrete:
                body, notes = self.typed(kind, schema, path)
                branches.append(self.finish(body, {}, notes))
            out = Out(self.finish({"anyOf": branches}, schema, flat.notes))
        return self.nullable(out) if "null" in types else out

    def typed(self, kind: str, schema: dict[str, Any], path: Path) -> tuple[dict[str, Any], list[str]]:
        """The body of a node of one type, and notes for what it could not say."""
        notes: list[str] = []
        body: dict[str, Any] = {"type": kind}
        if kind == "string":
            self.string(schema, body, notes)
        elif kind in ("number", "integer"):
            self.number(kind, schema, body, notes)
        elif kind == "object":
            self.object(schema, body, notes, path)
        elif kind == "array":
            self.array(schema, body, notes, path)
        if "enum" in schema and kind != "string" and kind not in ("number", "integer"):
            self.other_enum(kind, enum_of(schema, kind), body, notes)
        return body, notes

    # --- what each target fills in -------------------------------------------------------

    def string(self, schema: dict[str, Any], body: dict[str, Any], notes: list[str]) -> None:
        """Fill a string node."""
        raise NotImplementedError

    def number(self, kind: str, schema: dict[str, Any], body: dict[str, Any], notes: list[str]) -> None:
        """Fill a number or integer node."""
        raise NotImplementedError

    def object(self, schema: dict[str, Any], body: dict[str, Any], notes: list[str], path: Path) -> None:
        """Fill an object node."""
        raise NotImplementedError

    def other_enum(self, kind: str, values: list[Any], body: dict[str, Any], notes: list[str]) -> None:
        """An enum on a boolean, object or array node (default: restated)."""
        notes.append(restate("enum", values))

    def any_value(self, schema: dict[str, Any], notes: list[str], path: Path) -> Out:
        """A node that accepts any value."""
        raise NotImplementedError

    def null_value(self, schema: dict[str, Any], notes: list[str], path: Path) -> Out:
        """A node that accepts only null."""
        raise NotImplementedError

    def nullable(self, out: Out) -> Out:
        """The same node, also accepting null."""
        raise NotImplementedError

    def never_items(self) -> dict[str, Any]:
        """The items schema of an array that must stay empty."""
        raise NotImplementedError

    def finish(self, body: dict[str, Any], schema: dict[str, Any], notes: list[str]) -> dict[str, Any]:
        """Add the annotations (title, description with the notes, ...) to a body."""
        raise NotImplementedError

    # --- shared pieces ---------------------------------------------------------------------

    def properties(self, schema: dict[str, Any], notes: list[str], path: Path) -> dict[str, Out]:
        """Emit each property; a property that accepts nothing must be absent, so it goes."""
        out: dict[str, Out] = {}
        for name, sub in schema.get("properties", {}).items():
            emitted = self.emit(sub, (*path, "properties", name))
            if emitted is None:
                notes.append(f"must not include {compact(name)}")
            else:
                out[name] = emitted
        return out

    def array(self, schema: dict[str, Any], body: dict[str, Any], notes: list[str], path: Path) -> None:
        """Fill an array node: every target needs a typed (or any-value) ``items``."""
        items = self.emit(schema.get("items", True), (*path, "items"))
        if items is None:
            body["items"] = self.never_items()
            body["maxItems"] = 0
        else:
            body["items"] = items.schema
        for key in ("minItems", "maxItems"):
            if key in schema:
                body[key] = min(schema[key], body[key]) if key in body else schema[key]

    def _union(self, schema: dict[str, Any], notes: list[str], path: Path) -> Out | None:
        branches: list[Out] = []
        for index, branch in enumerate(schema["anyOf"]):
            emitted = self.emit(branch, (*path, "anyOf", index))
            if emitted is None:
                continue
            if emitted.kind == "any":
                return self.any_value(schema, notes, path)
            branches.append(emitted)
        if not branches:
            return None
        takes_null = any(branch.kind == "null" for branch in branches)
        branches = [branch for branch in branches if branch.kind != "null"]
        if not branches:
            return self.null_value(schema, notes, path)
        if len(branches) == 1:
            out = Out(self._lift(branches[0].schema, schema, notes))
        else:
            out = Out(self.finish({"anyOf": [branch.schema for branch in branches]}, schema, notes))
        return self.nullable(out) if takes_null else out

    def _lift(self, branch: dict[str, Any], parent: dict[str, Any], notes: list[str]) -> dict[str, Any]:
        # A one-branch anyOf is the branch itself, wearing the parent's annotations.
        lifted = dict(branch)
        for key, value in self.finish({}, parent, notes).items():
            if key == "description" and "description" in lifted:
                lifted[key] = f"{value} {lifted[key]}"
            else:
                lifted[key] = value
        return lifted


def enum_of(schema: dict[str, Any], kind: str) -> list[Any]:
    """The enum values of one type (numbers for ``number``, integral ones for ``integer``)."""
    return [value for value in schema.get("enum", []) if matches_type(value, [kind])]


def _implied_type(schema: dict[str, Any]) -> list[str] | None:
    # A node with only object keywords (or only array keywords) and no type is read as an
    # object (array): that is what hand-written tool schemas mean by it.
    implied = [kind for kind, keys in _STRUCTURAL.items() if any(key in schema for key in keys)]
    return implied if len(implied) == 1 else None


def _is_constraint(key: str) -> bool:
    return any(key in keys for keys in _FAMILIES.values())
