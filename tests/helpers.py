"""Adapters used by the proxy and end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Hashable
from typing import Any

import anyio
from completions_embedded import EmbeddedAdapter

from completions_core.adapter import Completion, Credential, Finish, ProviderAdapter, StreamEvent, TextDelta
from completions_core.plugins import ProviderRegistry
from completions_core.request import ProviderRequest
from completions_core.types import AssistantMessage


class KeyedAdapter(ProviderAdapter):
    """A provider that needs a key and answers with the key's source (never the key)."""

    name = "keyed"
    managed_key_env = ("KEYED_API_KEY",)

    def __init__(self) -> None:
        self.configs: list[Hashable] = []

    def client_config(self, request: ProviderRequest, credential: Credential) -> Hashable:
        self.configs.append(credential)
        return credential

    def create_client(self, config: Any) -> Any:
        return {"credential": config}

    async def close_client(self, client: Any) -> None:
        return None

    async def complete(self, client: Any, request: ProviderRequest) -> Completion:
        credential: Credential = client["credential"]
        key = credential.api_key.reveal() if credential.api_key else ""
        return Completion(
            message=AssistantMessage(content=f"source={credential.source} key_len={len(key)}"),
            finish_reason="stop",
        )

    async def stream(self, client: Any, request: ProviderRequest) -> AsyncIterator[StreamEvent]:
        completion = await self.complete(client, request)
        yield TextDelta(completion.message.content or "")
        yield Finish("stop")


class HangingAdapter(ProviderAdapter):
    """Streams one delta, then waits forever; records whether its stream was closed."""

    name = "hanging"
    requires_key = False

    def __init__(self) -> None:
        self.started = anyio.Event()
        self.closed = anyio.Event()

    def create_client(self, config: Any) -> Any:
        return object()

    async def close_client(self, client: Any) -> None:
        return None

    async def stream(self, client: Any, request: ProviderRequest) -> AsyncIterator[StreamEvent]:
        try:
            yield TextDelta("Hello. ")
            self.started.set()
            await anyio.sleep_forever()
            yield TextDelta("never")
        finally:
            self.closed.set()


def registry(*adapters: ProviderAdapter) -> ProviderRegistry:
    """A registry with the embedded provider and ``adapters``."""
    reg = ProviderRegistry()
    reg.register(EmbeddedAdapter(), "completions_embedded")
    for adapter in adapters:
        reg.register(adapter, "tests")
    return reg


FAST = {"embedded": {"token_delay": 0, "first_token_delay": 0}}
