"""The OpenAI-compatible route over real provider plugins replaying recorded traffic (no network).

The OpenAI and Anthropic plugins talk to one loopback replay server; the caller is the real
``openai`` Python SDK. What comes back is what those providers really sent, translated twice
(provider -> engine -> Chat Completions).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest
from completions_anthropic import AnthropicAdapter
from completions_openai import OpenAIAdapter

from completions_core.plugins import ProviderRegistry
from completions_core.testing.cassettes import Cassette, load_cassette
from completions_core.testing.replay import ReplayServer
from completions_proxy.testing import RunningProxy, running_proxy

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
CUSTOMER_KEY = "sk-customer-replay-5150"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
    },
}


def _cassette(provider: str, name: str) -> Cassette:
    return load_cassette(ROOT / "providers" / provider / "tests" / "cassettes" / name)


@pytest.fixture
async def server() -> AsyncIterator[ReplayServer]:
    async with ReplayServer() as replay:
        yield replay


@pytest.fixture
async def client(server: ReplayServer) -> AsyncIterator[tuple[openai.AsyncOpenAI, RunningProxy]]:
    registry = ProviderRegistry()
    registry.register(OpenAIAdapter(base_url=server.url + "/v1"), "test")
    registry.register(AnthropicAdapter(base_url=server.url), "test")
    env = {"OPENAI_API_KEY": "sk-managed-openai-0001", "ANTHROPIC_API_KEY": "sk-ant-managed-0002"}
    async with running_proxy(registry, env=env) as proxy:
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=proxy.token, max_retries=0) as sdk:
            yield sdk, proxy


async def test_recorded_streamed_tool_calls_reach_the_sdk_with_the_callers_key(
    server: ReplayServer, client: tuple[openai.AsyncOpenAI, RunningProxy]
) -> None:
    sdk, _ = client
    server.enqueue_cassette(_cassette("openai", "chat_stream_tool_calls.yaml"))
    async with sdk.chat.completions.stream(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "What's the weather in Seattle and San Francisco today?"}],
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="auto",
        stream_options={"include_usage": True},
        extra_headers={"X-Provider-Api-Key": CUSTOMER_KEY},
    ) as stream:
        final = await stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [  # type: ignore[union-attr]
        ("get_current_weather", {"location": "Seattle, WA"}),
        ("get_current_weather", {"location": "San Francisco, CA"}),
    ]
    assert [c.id for c in calls] == ["call_fHCjJqt9Pysde6vcJcvbXGBx", "call_3J9foSw3CUb48lrqIXoTky6U"]
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.usage is not None and final.usage.total_tokens > 0
    upstream = server.requests[-1]
    headers = {k.lower(): v for k, v in upstream.headers.items()}
    assert headers["authorization"] == f"Bearer {CUSTOMER_KEY}"
    assert upstream.json()["tool_choice"] == "auto"


# The recording is of claude-sonnet-4-5, which the anthropic SDK now warns about.
@pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")
async def test_a_recorded_429_falls_back_to_anthropic_with_its_usage_in_openai_shape(
    server: ReplayServer, client: tuple[openai.AsyncOpenAI, RunningProxy]
) -> None:
    sdk, _ = client
    server.enqueue_cassette(_cassette("openai", "compat_openrouter_error_429.yaml"), path="/v1/chat/completions")
    server.enqueue_cassette(_cassette("anthropic", "messages_stream_text.yaml"))
    stream = await sdk.chat.completions.create(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "Two names for a pet pelican, be brief"}],
        stream=True,
        stream_options={"include_usage": True},
        # Retries off: this test is about the fallback (retries are tested in tests/engine).
        extra_body={"fallbacks": ["anthropic/claude-sonnet-4-5"], "retry": {"enabled": False}},
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("- Captain\n- Scoop")
    assert {c.model for c in chunks} == {"anthropic/claude-sonnet-4-5"}
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens == 17 and usage.completion_tokens > 0
    assert [r.path for r in server.requests] == ["/v1/chat/completions", "/v1/messages"]
    headers = {k.lower(): v for k, v in server.requests[-1].headers.items()}
    assert headers["authorization"] == "Bearer sk-ant-managed-0002"


async def test_a_recorded_invalid_key_is_an_authentication_error_in_the_sdk(
    server: ReplayServer, client: tuple[openai.AsyncOpenAI, RunningProxy]
) -> None:
    sdk, _ = client
    # A wrong customer key is refused twice: once as sent, once on the refreshed retry.
    for _ in range(2):
        server.enqueue_cassette(_cassette("openai", "chat_error_401_invalid_api_key.yaml"))
    with pytest.raises(openai.AuthenticationError) as caught:
        await sdk.chat.completions.create(
            model="openai/gpt-4o-mini",
            messages=[{"role": "user", "content": "Say this is a test"}],
            extra_headers={"X-Provider-Api-Key": "invalid-key-12345"},
        )
    assert caught.value.status_code == 401
    assert caught.value.body["provider"] == "openai"  # type: ignore[index]
    assert "invalid-key-12345" not in caught.value.message


async def test_a_recorded_404_for_the_model_is_model_not_found(
    server: ReplayServer, client: tuple[openai.AsyncOpenAI, RunningProxy]
) -> None:
    sdk, _ = client
    server.enqueue_cassette(_cassette("openai", "chat_error_404_model_not_found.yaml"))
    with pytest.raises(openai.NotFoundError) as caught:
        await sdk.chat.completions.create(
            model="openai/this-model-does-not-exist", messages=[{"role": "user", "content": "Say this is a test"}]
        )
    assert caught.value.code == "model_not_found"
    assert caught.value.body["provider_status"] == 404  # type: ignore[index]
