"""Anthropic provider plugin for the completions proxy: Claude through the Messages API.

Registers :class:`AnthropicAdapter` under the name ``anthropic``. The mapping (system collapse,
cache breakpoints, tools, thinking with signed blocks, structured output, errors) lives in the
submodules; :mod:`completions_anthropic_vertex` reuses all of it with another client.
"""

from __future__ import annotations

from completions_core.hookspecs import Register, hookimpl

from .adapter import (
    ANTHROPIC_BASE_URL,
    CLIENT_TIMEOUT,
    NATIVE_STRUCTURED_OUTPUT_MODELS,
    AnthropicAdapter,
    AnthropicClientConfig,
)
from .errors import map_error, retry_after_seconds
from .request import ANSWER_TOOL_NAME, DEFAULT_MAX_TOKENS, MAX_CACHE_BREAKPOINTS, Plan, build_request
from .response import FINISH_REASONS, StreamTranslator, completion_from_message

__all__ = [
    "ANSWER_TOOL_NAME",
    "ANTHROPIC_BASE_URL",
    "CLIENT_TIMEOUT",
    "DEFAULT_MAX_TOKENS",
    "FINISH_REASONS",
    "MAX_CACHE_BREAKPOINTS",
    "NATIVE_STRUCTURED_OUTPUT_MODELS",
    "AnthropicAdapter",
    "AnthropicClientConfig",
    "Plan",
    "StreamTranslator",
    "build_request",
    "completion_from_message",
    "map_error",
    "register_providers",
    "retry_after_seconds",
]


@hookimpl
def register_providers(register: Register) -> None:
    """Register the Anthropic provider."""
    register(AnthropicAdapter())
