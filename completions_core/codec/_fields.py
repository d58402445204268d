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
    if type(value) is dict:  # what a JSON body decodes to: the common case, checked first
        return value
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


def _check_keys(
    data: Mapping[str, Any], allowed: frozenset[str], path: str, what: str, *, listed: frozenset[str] = frozenset()
) -> None:
    """Refuse an unknown key, listing every allowed one (``listed``: more fields the caller may send here)."""
    unknown = [k for k in data if k not in allowed]
    if unknown:
        name = unknown[0]
        hint = ""
        if name == "api_key":
            hint = " (provider keys are registered with configure_provider, never sent in a request)"
        shown = str(name) if len(str(name)) <= 64 else f"{str(name)[:64]}..."
        raise InvalidRequestError(
            f"unknown field {shown!r} in {what}{hint}; allowed fields: {', '.join(sorted(allowed | listed))}",
            _join(path, shown),
        )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _str(
    data: Mapping[str, Any], key: str, path: str, *, required: bool = False, limit: str = "max_string_chars"
) -> Optional[str]:
    """A string field, at most ``limit`` (a :class:`~completions_core.limits.Limits` field) characters."""
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidRequestError("is required (a string)", _join(path, key))
        return None
    if not isinstance(value, str):
        raise InvalidRequestError(f"expected a string, got {_kind(value)}", _join(path, key))
    most: int = getattr(DEFAULT_LIMITS, limit)
    if len(value) > most:
        raise InvalidRequestError(
            f"is {len(value)} characters long, over the limit of {most} ({limit})", _join(path, key)
        )
    return value


def _too_big(value: float, limit: str, path: str, unit: str = "") -> InvalidRequestError:
    most = getattr(DEFAULT_LIMITS, limit)
    return InvalidRequestError(f"must be at most {most:g}{unit} ({limit}), got {value:g}", path)


def _number(
    data: Mapping[str, Any], key: str, path: str, *, minimum: float | None = None, limit: str | None = None
) -> Optional[float]:
    """A finite number, >= ``minimum`` and <= the :class:`~completions_core.limits.Limits` field ``limit``."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequestError(f"expected a finite number, got {_kind(value)}", _join(path, key))
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        number = math.inf
    if not math.isfinite(number):
        if limit is not None and number > 0:
            raise _too_big(number, limit, _join(path, key))
        raise InvalidRequestError(f"expected a finite number, got {_kind(value)}", _join(path, key))
    if minimum is not None and number < minimum:
        raise InvalidRequestError(f"must be >= {minimum:g}, got {number:g}", _join(path, key))
    if limit is not None and number > getattr(DEFAULT_LIMITS, limit):
        raise _too_big(number, limit, _join(path, key))
    return number


def _int(
    data: Mapping[str, Any], key: str, path: str, *, minimum: int | None = None, limit: str | None = None
) -> Optional[int]:
    """An integer (a float with no fraction accepted), >= ``minimum`` and <= the limit named ``limit``."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise InvalidRequestError(f"expected an integer, got {_kind(value)}", _join(path, key))
    if minimum is not None and value < minimum:
        raise InvalidRequestError(f"must be >= {minimum}, got {_short_int(value)}", _join(path, key))
    if limit is not None and value > getattr(DEFAULT_LIMITS, limit):
        most = getattr(DEFAULT_LIMITS, limit)
        raise InvalidRequestError(f"must be at most {most} ({limit}), got {_short_int(value)}", _join(path, key))
    return value


def _short_int(value: int) -> str:
    # str() of a 4300+ digit integer raises (and a huge one is slow): say how big it is instead.
    if -(10**18) < value < 10**18:
        return str(value)
    return f"an integer of {value.bit_length()} bits"


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


def _list(data: Mapping[str, Any], key: str, path: str, *, limit: str | None = None) -> Optional[list[Any]]:
    """An array, at most as long as the :class:`~completions_core.limits.Limits` field ``limit``."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise InvalidRequestError(f"expected an array, got {_kind(value)}", _join(path, key))
    if limit is not None and len(value) > getattr(DEFAULT_LIMITS, limit):
        raise DEFAULT_LIMITS.too_many(key.replace("_", " "), len(value), limit, _join(path, key))
    return list(value)


