"""Through the real proxy and client: tool calls and refused options, as a caller sees them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from completions_openai import OpenAIAdapter

from completions_core.plugins import ProviderRegistry
from completions_core.testing.cassettes import Cassette
from completions_core.testing.replay import ReplayServer
from completions_proxy.testing import running_proxy
from primfunctions.completions import (
    CompletionsProxyError,
    configure,
    configure_provider,
    generate_chat_completion,
    generate_chat_completion_stream,
)
from primfunctions.completions import client as client_module

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
    },
}


@pytest.fixture
async def proxy(server: ReplayServer, api_key: str) -> AsyncIterator[None]:
    registry = ProviderRegistry()
    registry.register(OpenAIAdapter(base_url=server.url + "/v1"), "test")
    await client_module._reset_for_tests()
    try:
        async with running_proxy(registry) as running:
            configure(running.url, running.token)
            configure_provider("openai", api_key=api_key)
            yield
    finally:
        await client_module._reset_for_tests()


@pytest.mark.anyio
async def test_streamed_tool_calls_reach_the_client_reassembled(
    server: ReplayServer, cassette: Callable[[str], Cassette], proxy: None
) -> None:
    server.enqueue_cassette(cassette("chat_stream_tool_calls.yaml"))
    body: dict[str, Any] = {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "What's the weather in Seattle and San Francisco today?"}],
        "tools": [WEATHER],
        "tool_choice": "auto",
    }
    stream = await generate_chat_completion_stream(body)
    chunks = [chunk async for chunk in stream]
    calls = [chunk.tool_call for chunk in chunks if chunk.type == "tool_call"]
    assert [(c.function.name, c.function.arguments) for c in calls] == [
        ("get_current_weather", {"location": "Seattle, WA"}),
        ("get_current_weather", {"location": "San Francisco, CA"}),
    ]
    assert [c.id for c in calls] == ["call_fHCjJqt9Pysde6vcJcvbXGBx", "call_3J9foSw3CUb48lrqIXoTky6U"]
    assert [chunk.type for chunk in chunks][-3:] == ["finish_reason", "usage", "response"]
    # The last completion request: configure_provider's background warm-up (GET /models) may land after it.
    assert [r for r in server.requests if r.method == "POST"][-1].json()["tool_choice"] == "auto"


@pytest.mark.anyio
async def test_an_unknown_openai_option_is_a_400_for_the_caller(server: ReplayServer, proxy: None) -> None:
    body = {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Hi"}],
        "provider_kwargs": {"openai": {"temperature_mode": "hot"}},
    }
    with pytest.raises(CompletionsProxyError) as info:
        await generate_chat_completion(body)
    assert (info.value.error_type, info.value.status_code) == ("invalid_request_error", 400)
    assert "temperature_mode" in info.value.message
    assert server.requests == []
