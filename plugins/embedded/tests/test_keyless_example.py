"""A keyless provider's tests without cassettes: the adapter alone, then behind the proxy.

plugins/README.md shows this file as the starting point for a plugin that has no recorded
traffic to replay. Copy it, import your adapter instead of EmbeddedAdapter and change the names
below.
"""

from __future__ import annotations

from typing import Any

import pytest
from completions_embedded import EmbeddedAdapter

from completions_core.adapter import Credential
from completions_core.plugins import ProviderRegistry
from completions_core.testing.contract import collect
from completions_core.testing.requests import provider_request
from completions_core.types import UserMessage
from completions_proxy.testing import running_proxy
from primfunctions.completions import close, configure, configure_provider, generate_chat_completion

pytestmark = pytest.mark.anyio

PROVIDER, MODEL = "embedded", "embedded-1"
#: Per-request options of your provider (here: no artificial token pacing); often {}.
KWARGS: dict[str, Any] = {"embedded": {"token_delay": 0, "first_token_delay": 0}}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_the_adapter_streams_a_whole_answer() -> None:
    adapter = EmbeddedAdapter()
    request = provider_request(PROVIDER, MODEL, [UserMessage("Hello")], provider_kwargs=KWARGS)
    client = adapter.create_client(adapter.client_config(request, Credential("none")))
    answer = await collect(adapter, client, request)
    assert answer.text.strip()
    assert answer.finish_reason == "stop"


async def test_the_proxy_serves_it_to_the_client() -> None:
    registry = ProviderRegistry()
    registry.register(EmbeddedAdapter(), "completions_embedded")
    async with running_proxy(registry) as proxy:
        configure(proxy.url, proxy.token)
        configure_provider(PROVIDER, voicerun_managed=True)  # needed even though there is no key
        try:
            response = await generate_chat_completion(
                {"provider": PROVIDER, "model": MODEL, "messages": [{"role": "user", "content": "Hello"}],
                 "provider_kwargs": KWARGS}
            )
        finally:
            await close()
    assert response.provider == PROVIDER
    assert response.message.content
