"""Usage normalization: one place that turns provider-native counts into comparable numbers.

Providers count differently: OpenAI's ``prompt_tokens`` already include cached tokens, while
Anthropic's ``input_tokens`` exclude both cache writes and cache reads; Gemini reports thinking
tokens apart from ``candidates``. :func:`normalize_usage` gives every provider the same meaning:

- ``input_tokens``: every prompt token, cached or not;
- ``output_tokens``: every generated token, reasoning included;
- ``cached_input_tokens``: prompt tokens read from a cache;
- ``cache_write_tokens``: prompt tokens written to a cache;
- ``reasoning_tokens``: generated tokens spent thinking.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["NormalizedUsage", "normalize_usage"]


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


def _n(data: Mapping[str, Any] | None, *keys: str) -> int:
    """The first present integer among ``keys`` (snake_case or camelCase spellings)."""
    if not data:
        return 0
    for key in keys:
        value = data.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value)
    return 0


def _sub(data: Mapping[str, Any], *keys: str) -> Mapping[str, Any] | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, Mapping):
            return value
    return None


def _openai(u: Mapping[str, Any]) -> NormalizedUsage:
    prompt = _sub(u, "prompt_tokens_details")
    completion = _sub(u, "completion_tokens_details")
    return NormalizedUsage(
        input_tokens=_n(u, "prompt_tokens"),
        output_tokens=_n(u, "completion_tokens"),
        cached_input_tokens=_n(prompt, "cached_tokens"),
        cache_write_tokens=_n(prompt, "cache_write_tokens", "cache_creation_tokens"),
        reasoning_tokens=_n(completion, "reasoning_tokens"),
    )


def _anthropic(u: Mapping[str, Any]) -> NormalizedUsage:
    read = _n(u, "cache_read_input_tokens")
    write = _n(u, "cache_creation_input_tokens")
    details = _sub(u, "output_tokens_details")
    return NormalizedUsage(
        # Anthropic's input_tokens exclude cached and cache-written tokens: add them back.
        input_tokens=_n(u, "input_tokens") + read + write,
        output_tokens=_n(u, "output_tokens"),
        cached_input_tokens=read,
        cache_write_tokens=write,
        reasoning_tokens=_n(details, "thinking_tokens", "reasoning_tokens"),
    )


def _google(u: Mapping[str, Any]) -> NormalizedUsage:
    thoughts = _n(u, "thoughts_token_count", "thoughtsTokenCount")
    return NormalizedUsage(
        input_tokens=_n(u, "prompt_token_count", "promptTokenCount")
        + _n(u, "tool_use_prompt_token_count", "toolUsePromptTokenCount"),
        # Gemini bills thinking as output but reports it apart from the candidates.
        output_tokens=_n(u, "candidates_token_count", "candidatesTokenCount") + thoughts,
        cached_input_tokens=_n(u, "cached_content_token_count", "cachedContentTokenCount"),
        reasoning_tokens=thoughts,
    )


_FORMATS = {"openai": _openai, "anthropic": _anthropic, "google": _google}


def normalize_usage(usage_format: str, usage: Mapping[str, Any] | None) -> NormalizedUsage:
    """Normalize provider-native ``usage`` laid out as ``usage_format`` ("openai", "anthropic", "google")."""
    if not usage:
        return NormalizedUsage()
    try:
        return _FORMATS[usage_format](usage)
    except KeyError:
        raise ValueError(f"unknown usage format {usage_format!r}; expected one of {', '.join(_FORMATS)}") from None
