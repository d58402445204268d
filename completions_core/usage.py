"""Usage normalization: the one meaning every provider's token counts are turned into.

Providers count differently (some include cached prompt tokens in the prompt count, some report
thinking apart from the answer), so each adapter implements
:meth:`~completions_core.adapter.ProviderAdapter.normalize_usage` with the building blocks here
and gives every count the same meaning:

- ``input_tokens``: every prompt token, cached or not;
- ``output_tokens``: every generated token, reasoning included;
- ``cached_input_tokens``: prompt tokens read from a cache;
- ``cache_write_tokens``: prompt tokens written to a cache;
- ``reasoning_tokens``: generated tokens spent thinking.

The default (:func:`chat_completions_usage`) reads the Chat Completions layout that many
compatible APIs share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["NormalizedUsage", "chat_completions_usage", "count", "section"]


@dataclass(frozen=True)
class NormalizedUsage:
    """Token counts with the same meaning for every provider."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts as a plain dict."""
        return asdict(self)


def count(data: Mapping[str, Any] | None, *keys: str) -> int:
    """The first present integer among ``keys`` (list snake_case and camelCase spellings), else 0."""
    if not data:
        return 0
    for key in keys:
        value = data.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value)
    return 0


def section(data: Mapping[str, Any] | None, *keys: str) -> Mapping[str, Any] | None:
    """The first nested mapping among ``keys`` (a ``..._details`` object), or None."""
    if not data:
        return None
    for key in keys:
        value = data.get(key)
        if isinstance(value, Mapping):
            return value
    return None


def chat_completions_usage(usage: Mapping[str, Any] | None) -> NormalizedUsage:
    """The Chat Completions layout: ``prompt_tokens`` (cached ones included), ``completion_tokens``
    (reasoning included) and their ``*_details``."""
    if not usage:
        return NormalizedUsage()
    prompt = section(usage, "prompt_tokens_details")
    completion = section(usage, "completion_tokens_details")
    return NormalizedUsage(
        input_tokens=count(usage, "prompt_tokens"),
        output_tokens=count(usage, "completion_tokens"),
        cached_input_tokens=count(prompt, "cached_tokens"),
        cache_write_tokens=count(prompt, "cache_write_tokens", "cache_creation_tokens"),
        reasoning_tokens=count(completion, "reasoning_tokens"),
    )
