"""Input limits: every request is bounded in size, count and depth before any work is done.

Each exceeded limit is an :class:`~completions_core.errors.InvalidRequestError` that names the
limit, the value found and where (a 400), so the caller knows what to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from completions_core.errors import InvalidRequestError

__all__ = ["DEFAULT_LIMITS", "Limits", "check_json"]


@dataclass(frozen=True)
class Limits:
    """The bounds a request must stay within."""

    # Lists.
    max_messages: int = 1000
    max_tools: int = 128
    max_tool_calls: int = 128
    max_fallbacks: int = 8
    max_punctuation_marks: int = 64
    max_credentials: int = 16
    # Strings.
    max_string_chars: int = 1_000_000
    max_model_chars: int = 256
    max_provider_chars: int = 64
    max_punctuation_mark_chars: int = 16
    max_key_chars: int = 16_384
    # Free-form JSON (schemas, tool arguments and results, provider kwargs, provider state).
    max_depth: int = 32
    max_json_nodes: int = 20_000
    # Numbers a caller sets. A real voice agent never comes near these; they exist so that one
    # request can neither make the proxy sleep for ever nor make it plan an unbounded schedule.
    max_retries: int = 10
    max_retry_delay: float = 30.0
    max_backoff_multiplier: float = 10.0
    min_timeout: float = 0.01
    max_timeout: float = 3600.0
    max_temperature: float = 2.0
    max_output_tokens: int = 1_000_000
    max_tool_call_index: int = 10_000
    max_min_sentence_length: int = 10_000
    # Response headers: each value the proxy sends is cut (with a marker) at this many bytes.
    max_header_bytes: int = 4096

    def too_many(self, what: str, count: int, limit_name: str, path: str) -> InvalidRequestError:
        """The error for a list longer than its limit."""
        limit = getattr(self, limit_name)
        return InvalidRequestError(f"{count} {what} exceed the limit of {limit} ({limit_name})", path)

    def as_dict(self) -> dict[str, int | float]:
        """Every limit by name (SECURITY.md lists them; a test keeps the two in step)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


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
