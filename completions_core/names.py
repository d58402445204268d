"""Provider names: canonical spelling and the aliases users reach for."""

from __future__ import annotations

__all__ = ["ALIASES", "canonical_provider"]

# The host owns aliases, so plugins cannot fight over them.
ALIASES = {
    "gemini": "google",
    "claude": "anthropic",
    "vertex_anthropic": "anthropic_vertex",
    "qwen": "alibaba",
    "dashscope": "alibaba",
}


def canonical_provider(name: str) -> str:
    """Lower-case, trimmed, with aliases resolved (``"Gemini"`` -> ``"google"``)."""
    key = str(name).strip().lower()
    return ALIASES.get(key, key)
