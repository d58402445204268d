"""Small validators shared by the codec modules: each names the path of what it refuses."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Optional

from completions_core.errors import InvalidRequestError
from completions_core.limits import DEFAULT_LIMITS

# --- small validators ------------------------------------------------------------------------


def _as_mapping(value: Any, path: str, what: str) -> Mapping[str, Any]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return value
    raise InvalidRequestError(f"expected {what} (an object), got {_kind(value)}", path)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _check_keys(data: Mapping[str, Any], allowed: frozenset[str], path: str, what: str) -> None:
    unknown = [k for k in data if k not in allowed]
    if unknown:
        name = unknown[0]
        hint = ""
        if name == "api_key":
            hint = " (provider keys are registered with configure_provider, never sent in a request)"
        raise InvalidRequestError(
            f"unknown field {name!r} in {what}{hint}; allowed fields: {', '.join(sorted(allowed))}",
            _join(path, str(name)),
        )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _str(data: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> Optional[str]:
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidRequestError("is required (a string)", _join(path, key))
        return None
    if not isinstance(value, str):
        raise InvalidRequestError(f"expected a string, got {_kind(value)}", _join(path, key))
    if len(value) > DEFAULT_LIMITS.max_string_chars:
        raise InvalidRequestError(
            f"is {len(value)} characters long, over the limit of {DEFAULT_LIMITS.max_string_chars} (max_string_chars)",
            _join(path, key),
        )
    return value


def _number(data: Mapping[str, Any], key: str, path: str, *, minimum: float | None = None) -> Optional[float]:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidRequestError(f"expected a finite number, got {_kind(value)}", _join(path, key))
    if minimum is not None and value < minimum:
        raise InvalidRequestError(f"must be >= {minimum:g}, got {value!r}", _join(path, key))
    return float(value)


def _int(data: Mapping[str, Any], key: str, path: str, *, minimum: int | None = None) -> Optional[int]:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise InvalidRequestError(f"expected an integer, got {_kind(value)}", _join(path, key))
    if minimum is not None and value < minimum:
        raise InvalidRequestError(f"must be >= {minimum}, got {value!r}", _join(path, key))
    return value


def _bool(data: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidRequestError(f"expected true or false, got {_kind(value)}", _join(path, key))
    return value


def _object(data: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> Optional[dict[str, Any]]:
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidRequestError("is required (an object)", _join(path, key))
        return None
    if not isinstance(value, Mapping):
        raise InvalidRequestError(f"expected an object, got {_kind(value)}", _join(path, key))
    return dict(value)


def _list(data: Mapping[str, Any], key: str, path: str) -> Optional[list[Any]]:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise InvalidRequestError(f"expected an array, got {_kind(value)}", _join(path, key))
    return list(value)


