"""Restating dropped constraints in plain words, so the model still sees them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

MAX_JSON_IN_NOTE = 200


def compact(value: Any) -> str:
    """Compact JSON for a note, shortened when long (a note guides the model, it is no schema)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    if len(text) > MAX_JSON_IN_NOTE:
        return text[: MAX_JSON_IN_NOTE - 1] + "…"
    return text


def one_of(values: Iterable[Any]) -> str:
    """``one of: "a", 1, null``."""
    return "one of: " + ", ".join(compact(value) for value in values)


_PHRASES: dict[str, str] = {
    "minimum": "must be >= {}",
    "maximum": "must be <= {}",
    "exclusiveMinimum": "must be > {}",
    "exclusiveMaximum": "must be < {}",
    "multipleOf": "must be a multiple of {}",
    "minLength": "at least {} characters",
    "maxLength": "at most {} characters",
    "pattern": "must match the regular expression {}",
    "format": "format: {}",
    "minItems": "at least {} items",
    "maxItems": "at most {} items",
    "minProperties": "at least {} properties",
    "maxProperties": "at most {} properties",
    "propertyNames": "property names must match {}",
    "contains": "must contain an item matching {}",
    "minContains": "at least {} matching items",
    "maxContains": "at most {} matching items",
    "not": "must not match {}",
    "if": "if it matches {}",
    "then": "then it must match {}",
    "else": "otherwise it must match {}",
    "default": "default: {}",
}


def restate(keyword: str, value: Any) -> str:
    """One short phrase for a keyword the target cannot carry."""
    if keyword == "enum":
        return one_of(value)
    if keyword == "uniqueItems":
        return "items must be unique" if value else ""
    if keyword == "additionalProperties":
        if value is False:
            return "no other properties"
        if value is True or value == {}:
            return ""
        return f"other properties must match {compact(value)}"
    if keyword == "patternProperties" and isinstance(value, dict):
        return "; ".join(
            f"properties named like {compact(name)} must match {compact(sub)}" for name, sub in value.items()
        )
    if keyword == "dependentRequired" and isinstance(value, dict):
        return "; ".join(
            f"if {compact(name)} is present, so must be {', '.join(compact(n) for n in needs)}"
            for name, needs in value.items()
        )
    if keyword == "prefixItems" and isinstance(value, list):
        return "; ".join(f"item {i} must match {compact(sub)}" for i, sub in enumerate(value))
    template = _PHRASES.get(keyword)
    shown = value if isinstance(value, str) and keyword in ("format",) else compact(value)
    if template is None:
        return f"{keyword}: {compact(value)}"
    return template.format(shown)


def describe(description: Any, notes: Iterable[str]) -> str | None:
    """The description with the notes appended in parentheses: ``"Age. (must be > 0)"``."""
    kept = []
    for note in notes:
        if note and note not in kept:
            kept.append(note)
    text = description if isinstance(description, str) else ""
    if not kept:
        return text or None
    suffix = "(" + "; ".join(kept) + ")"
    return f"{text} {suffix}" if text else suffix
