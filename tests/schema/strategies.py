"""Hypothesis strategies for random JSON Schemas: objects, arrays, refs, const, allOf, type
lists, nullable, enums and bounds, kept small and satisfiable so that instances can be drawn.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

NAMES = st.sampled_from(["a", "b", "c", "d", "e"])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.5, -1.5, 2.0]), st.sampled_from(["x", "y", ""])
)
DESCRIPTIONS = st.sampled_from(["", "Some value.", "Ünïcode ✓"])
Strategy = st.SearchStrategy[dict[str, Any]]


def _with(base: dict[str, Any], optional: dict[str, st.SearchStrategy[Any]]) -> Strategy:
    return st.fixed_dictionaries({k: st.just(v) for k, v in base.items()}, optional=optional)


def _bounds(low: st.SearchStrategy[Any], high: st.SearchStrategy[Any]) -> dict[str, st.SearchStrategy[Any]]:
    # Lower bounds at or below 0, upper ones above: always satisfiable together.
    return {
        "minimum": low,
        "maximum": high,
        "exclusiveMinimum": low,
        "exclusiveMaximum": high,
        "description": DESCRIPTIONS,
    }


def leaves(*, untyped: bool = True) -> Strategy:
    """Scalar schemas. ``untyped=False`` leaves out the ones with no type (``{}``, enum of mixed)."""
    options: list[Strategy] = [
        _with(
            {"type": "string"},
            {
                "minLength": st.integers(0, 2),
                "maxLength": st.integers(3, 6),
                "pattern": st.sampled_from(["^[a-z]*$", "a"]),
                "format": st.sampled_from(["email", "date-time", "uuid", "color"]),
                "description": DESCRIPTIONS,
            },
        ),
        _with({"type": "integer"}, {**_bounds(st.integers(-5, 0), st.integers(1, 5)), "multipleOf": st.just(1)}),
        _with({"type": "number"}, _bounds(st.sampled_from([-2.5, -1, 0]), st.sampled_from([0.5, 1, 2.5]))),
        st.just({"type": "boolean"}),
        st.just({"type": "null"}),
        st.builds(lambda v: {"const": v}, SCALARS),
        st.lists(st.sampled_from(["x", "y", "z"]), min_size=1, max_size=3, unique=True).map(
            lambda values: {"type": "string", "enum": values}
        ),
        st.sampled_from(
            [
                {"type": ["string", "null"]},
                {"type": ["integer", "string"]},
                {"type": ["number", "boolean", "null"]},
                {"type": "string", "nullable": True},
                {"type": "integer", "enum": [1, 2, None]},
                {"enum": ["a", 1, None]},
                {"enum": [True, "b"]},
                {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 10.5},
                {"type": "integer", "exclusiveMinimum": 0.5, "maximum": 7},
                {"const": "fixed", "description": "A constant."},
            ]
        ),
    ]
    if untyped:
        options.append(st.sampled_from([{}, {"description": "Anything."}, {"minimum": 1}]))
    return st.one_of(options)


def _objects(children: Strategy, *, closed_only: bool) -> Strategy:
    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        properties = draw(st.dictionaries(NAMES, children, min_size=1 if closed_only else 0, max_size=4))
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        required = [name for name in properties if draw(st.booleans())]
        if required:
            schema["required"] = required
        if draw(st.booleans()):
            schema["additionalProperties"] = False
        if draw(st.booleans()):
            schema["description"] = draw(DESCRIPTIONS)
        return schema

    return build()


def _arrays(children: Strategy, *, typed_items: bool) -> Strategy:
    with_items = st.builds(
        lambda items, low, high: {"type": "array", "items": items, "minItems": low, "maxItems": high},
        children,
        st.integers(0, 1),
        st.integers(2, 3),
    )
    return with_items if typed_items else st.one_of(with_items, st.just({"type": "array"}))


def _combinators(children: Strategy, objects: Strategy) -> Strategy:
    return st.one_of(
        st.lists(children, min_size=1, max_size=3).map(lambda branches: {"anyOf": branches}),
        st.lists(objects, min_size=2, max_size=2).map(lambda members: {"allOf": members}),
        st.just({"allOf": [{"type": "integer", "minimum": 0}, {"maximum": 5}, {"type": "number"}]}),
        st.just({"oneOf": [{"type": "string"}, {"type": "integer"}]}),
    )


@st.composite
def schemas(draw: st.DrawFn, *, strict_friendly: bool = False) -> dict[str, Any]:
    """A root object schema, maybe with ``$defs`` (or ``definitions``) used through ``$ref``.

    ``strict_friendly`` keeps to shapes OpenAI strict mode can express (typed values,
    objects with properties, arrays with items) so that most examples get through.
    """
    defs_key = draw(st.sampled_from(["$defs", "definitions"]))
    base = leaves(untyped=not strict_friendly)
    defs = draw(st.dictionaries(st.sampled_from(["Item", "Tag", "Point"]), base, max_size=2))
    if defs:
        base = st.one_of(base, st.sampled_from([{"$ref": f"#/{defs_key}/{name}"} for name in defs]))

    def extend(children: Strategy) -> Strategy:
        objects = _objects(children, closed_only=strict_friendly)
        return st.one_of(objects, _arrays(children, typed_items=strict_friendly), _combinators(children, objects))

    tree = st.recursive(base, extend, max_leaves=6)
    root = draw(_objects(tree, closed_only=True))
    if defs:
        root[defs_key] = defs
    if draw(st.booleans()):
        root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return root
