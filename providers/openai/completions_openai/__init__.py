"""OpenAI provider plugin for the completions proxy: Chat Completions through ``openai.AsyncOpenAI``.

``import completions_openai`` stays cheap: the openai SDK is imported only when a client is built
or a response is parsed. See README.md for the mapping and the supported ``provider_kwargs``.
"""

from __future__ import annotations

from completions_core.hookspecs import Register, hookimpl

from .adapter import OpenAIAdapter, OpenAIClientConfig
from .errors import map_error

__all__ = ["OpenAIAdapter", "OpenAIClientConfig", "map_error", "register_providers"]


@hookimpl
def register_providers(register: Register) -> None:
    """Register the OpenAI provider."""
    register(OpenAIAdapter())
