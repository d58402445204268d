"""Input limits: every request is bounded in size, count and depth before any work is done.

Each exceeded limit is an :class:`~completions_core.errors.InvalidRequestError` that names the
limit, the value found and where (a 400), so the caller knows what to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from completions_core.errors import InvalidRequestError

__all__ = ["DEFAULT_LIMITS", "Limits", "check_json"]


@dataclass(frozen=True)
class Limits:
    """The bounds a request must stay within."""

    max_messages: int = 1000
    max_tools: int = 128
    max_fallbacks: int = 8
    max_string_chars: int = 1_000_000
    max_depth: int = 32
    max_json_nodes: int = 20_000

    def too_many(self, what: str, count: int, limit_name: str, path: str) -> InvalidRequestError:
        """The error for a list longer than its limit."""
        limit = getattr(self, limit_name)
        return InvalidRequestError(f"{count} {what} exceed the limit of {limit} ({limit_name})", path)


DEFAULT_LIMITS = Limits()


def check_json(value: Any, path: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """Bound free-form JSON (schemas, tool arguments and results, provider kwargs).

    Walks iteratively, so a hostile depth cannot exhaust the interpreter's stack.
    """
    nodes = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > limits.max_json_nodes:
            raise InvalidRequestError(
                f"holds more than {limits.max_json_nodes} JSON values (max_json_nodes)", path
            )
        if depth > limits.max_depth:
            raise InvalidRequestError(f"is nested deeper than {limits.max_depth} levels (max_depth)", path)
        if isinstance(item, str):
            if len(item) > limits.max_string_chars:
                raise InvalidRequestError(
                    f"holds a string of {len(item)} characters, over the limit of {limits.max_string_chars} "
                    "(max_string_chars)",
                    path,
                )
        elif isinstance(item, Mapping):
            for key, child in item.items():
                if isinstance(key, str) and len(key) > limits.max_string_chars:
                    raise InvalidRequestError("holds an over-long key (max_string_chars)", path)
                stack.append((child, depth + 1))
        elif isinstance(item, (list, tuple)):
            stack.extend((child, depth + 1) for child in item)
