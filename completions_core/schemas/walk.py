"""Which JSON Schema keywords hold subschemas, and a walker that rebuilds a schema.

Only these keywords are walked: a ``$ref`` inside ``enum``, ``const``, ``default``,
``examples`` or a vendor extension is data, not a reference.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .errors import Path

# keyword -> a single subschema
SINGLE = frozenset(
    {
        "additionalProperties",
        "additionalItems",
        "unevaluatedItems",
        "unevaluatedProperties",
        "contains",
        "propertyNames",
        "not",
        "if",
        "then",
        "else",
    }
)
# keyword -> a list of subschemas
LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
# keyword -> an object whose values are subschemas
MAPS = frozenset({"properties", "patternProperties", "dependentSchemas", "$defs", "definitions"})

# Meta keywords every target drops: they carry no constraint, and some providers reject them.
META = frozenset({"$schema", "$id", "$comment"})

Schema = dict[str, Any] | bool
Visit = Callable[[Any, Path], Any]


def map_subschemas(schema: dict[str, Any], path: Path, visit: Visit) -> dict[str, Any]:
    """Return a copy of ``schema`` whose subschemas are replaced by ``visit(sub, sub_path)``.

    Non-schema values are deep-copied, so the result shares nothing with the input.
    """
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in SINGLE or (key == "items" and not isinstance(value, list)):
            out[key] = visit(value, (*path, key))
        elif (key in LISTS or key == "items") and isinstance(value, list):
            out[key] = [visit(sub, (*path, key, i)) for i, sub in enumerate(value)]
        elif key in MAPS and isinstance(value, dict):
            out[key] = {name: visit(sub, (*path, key, name)) for name, sub in value.items()}
        elif key == "dependencies" and isinstance(value, dict):
            # draft-07: each value is either a list of names (data) or a subschema
            out[key] = {
                name: (copy.deepcopy(sub) if isinstance(sub, list) else visit(sub, (*path, key, name)))
                for name, sub in value.items()
            }
        else:
            out[key] = copy.deepcopy(value)
    return out


def is_schema(value: Any) -> bool:
    """True for the two shapes a JSON Schema can take: an object or a boolean."""
    return isinstance(value, (dict, bool))
