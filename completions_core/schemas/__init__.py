"""Rewrite a JSON Schema (tool parameters, ``response_schema``) into the dialect a provider takes.

The targets are named for what they are, not for who uses them: each adapter picks the ones its
provider accepts. ``sanitize_schema(schema, target)`` returns a new schema the target accepts,
keeping every value the original accepted valid wherever the target can express it, and
restating in the ``description`` whatever constraint it had to drop. What each target gets is in
``docs/schemas.md``.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from . import openapi, strict
from .emit import Emitter
from .errors import SchemaError, pointer
from .limits import check_depth, check_strict_sizes
from .refs import inline_refs, strip_meta

Target = Literal["openapi", "strict", "json_schema", "inlined"]
TARGETS: tuple[str, ...] = get_args(Target)

DEFAULT_MAX_DEPTH: dict[str, int | None] = {
    "openapi": openapi.DEFAULT_MAX_DEPTH,
    "strict": strict.DEFAULT_MAX_DEPTH,
    "json_schema": None,
    "inlined": None,
}

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "TARGETS",
    "SchemaError",
    "Target",
    "inline_refs",
    "pointer",
    "sanitize_schema",
    "strip_meta",
]


def sanitize_schema(schema: dict[str, Any], target: Target, *, max_depth: int | None = None) -> dict[str, Any]:
    """Return a copy of ``schema`` rewritten for ``target``; the input is never modified.

    - ``openapi``: the OpenAPI 3.0 schema subset of function declarations (references inlined,
      types split with ``nullable``, unsupported keywords restated in the description).
    - ``strict``: strict structured output (closed objects, every property required, optional
      ones nullable); an open object or an untyped value is a SchemaError.
    - ``inlined``: references inlined, meta keywords dropped.
    - ``json_schema``: full JSON Schema; meta keywords dropped, references checked and kept.

    ``max_depth`` overrides the target's nesting limit (object/array levels, root = 1);
    openapi's default is 5, strict's 10, the others have none unless given.
    Raises SchemaError (a ValueError) naming the JSON pointer of the problem: a reference
    cycle (for targets that inline), a reference that does not resolve, a schema nested too
    deep, a shape the target cannot express.
    """
    if target not in TARGETS:
        raise ValueError(f"unknown schema target {target!r}; expected one of {', '.join(TARGETS)}")
    if max_depth is not None and (isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 1):
        raise ValueError(f"max_depth must be a positive integer, got {max_depth!r}")
    if not isinstance(schema, dict):
        raise SchemaError((), f"a schema must be a JSON object, got {type(schema).__name__}")
    limit = max_depth if max_depth is not None else DEFAULT_MAX_DEPTH[target]
    result: dict[str, Any]
    if target == "json_schema":
        result = strip_meta(schema)
    elif target == "inlined":
        result = inline_refs(schema)
    else:
        emitter: Emitter = openapi.OpenAPIEmitter() if target == "openapi" else strict.StrictEmitter()
        result = emitter.root(inline_refs(schema))
        if target == "strict":
            check_strict_sizes(
                result,
                strict.MAX_PROPERTIES,
                strict.MAX_ENUM_VALUES,
                strict.MAX_STRING_LENGTH,
            )
    if limit is not None:
        check_depth(result, limit, target)
    return result
