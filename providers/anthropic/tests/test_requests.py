"""What the adapter sends to Anthropic: system collapse, cache breakpoints, tools, limits."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from completions_anthropic import AnthropicAdapter
from completions_anthropic.response import normalize_usage

from completions_core.adapter import Credential
from completions_core.errors import ProviderError
from completions_core.redaction import Secret
from completions_core.request import ProviderRequest
from completions_core.testing.cassettes import Cassette
from completions_core.testing.contract import collect
from completions_core.testing.replay import ReplayServer
from completions_core.testing.requests import provider_request
from completions_core.types import (
    AssistantMessage,
    CacheBreakpoint,
    FunctionCall,
    FunctionDefinition,
    SystemMessage,
    ToolCall,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
)

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
]

ClientFor = Callable[[ProviderRequest], Any]

WEATHER = ToolDefinition(
    type="function",
    function=FunctionDefinition(
        name="get_weather",
        description="Get the current weather in a given location",
        parameters={
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    ),
)
TIME = ToolDefinition(
    type="function",
    function=FunctionDefinition(
        name="get_time",
        description="Get the current time in a given time zone",
        parameters={"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]},
    ),
)


def request(**fields: Any) -> ProviderRequest:
    values: dict[str, Any] = {"provider": "anthropic", "model": "claude-haiku-4-5", "messages": [UserMessage("Hi")]}
    values.update(fields)
    return provider_request(**values)


def sent(server: ReplayServer) -> dict[str, Any]:
    body: dict[str, Any] = server.requests[-1].json()
    return body


async def test_system_messages_collapse_into_one_system_list_keeping_each_breakpoint(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    server.enqueue_cassette(cassette("messages_text.yaml"))
    req = request(
        messages=[
            SystemMessage("You are terse."),
            SystemMessage("Always answer in English.", cache_breakpoint=CacheBreakpoint(ttl="1h")),
            UserMessage("Tell me a joke"),
            SystemMessage("Late instructions still join the system prompt."),
        ]
    )
    await adapter.complete(client_for(req), req)
    body = sent(server)
    assert body["system"] == [
        {"type": "text", "text": "You are terse."},
        {"type": "text", "text": "Always answer in English.", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
        {"type": "text", "text": "Late instructions still join the system prompt."},
    ]
    assert [m["role"] for m in body["messages"]] == ["user"]


async def test_breakpoints_on_a_message_and_a_tool_become_cache_control(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    server.enqueue_cassette(cassette("messages_tool_use.yaml"))
    cached_tool = ToolDefinition(type="function", function=TIME.function, cache_breakpoint=CacheBreakpoint())
    req = request(
        messages=[UserMessage("Weather and time in New York?", cache_breakpoint=CacheBreakpoint(ttl="5m"))],
        tools=[WEATHER, cached_tool],
    )
    await adapter.complete(client_for(req), req)
    body = sent(server)
    assert body["messages"][0]["content"][-1]["cache_control"] == {"type": "ephemeral", "ttl": "5m"}
    assert "cache_control" not in body["tools"][0]
    assert body["tools"][1]["cache_control"] == {"type": "ephemeral", "ttl": "5m"}
    # sanitize_schema(..., "json_schema") drops the meta keywords.
    assert "$schema" not in body["tools"][0]["input_schema"]


async def test_more_than_four_breakpoints_is_a_400_before_anything_is_sent(
    server: ReplayServer, adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    bp = CacheBreakpoint()
    req = request(
        messages=[
            SystemMessage("one", cache_breakpoint=bp),
            UserMessage("two", cache_breakpoint=bp),
            AssistantMessage("three", cache_breakpoint=bp),
            UserMessage("four", cache_breakpoint=bp),
        ],
        tools=[ToolDefinition(type="function", function=WEATHER.function, cache_breakpoint=bp)],
    )
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(req), req)
    assert info.value.error_type == "invalid_request_error"
    assert info.value.http_status == 400 and not info.value.retryable
    assert "5 cache breakpoints" in info.value.message and "at most 4" in info.value.message
    assert server.requests == []


async def test_four_breakpoints_are_allowed(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    server.enqueue_cassette(cassette("messages_text.yaml"))
    bp = CacheBreakpoint()
    req = request(
        messages=[
            SystemMessage("one", cache_breakpoint=bp),
            UserMessage("two", cache_breakpoint=bp),
            AssistantMessage("three", cache_breakpoint=bp),
            UserMessage("four", cache_breakpoint=bp),
        ]
    )
    await adapter.complete(client_for(req), req)
    assert json.dumps(sent(server)).count('"cache_control"') == 4


async def test_prompt_cache_usage_reports_creation_then_read_and_normalized_input_includes_both(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    recording = cassette("messages_prompt_cache.yaml")
    server.enqueue_cassette(recording)
    recorded = recording[0].request.json()
    article = recorded["messages"][0]["content"][0]["text"]
    req = request(
        model=recorded["model"],
        max_tokens=1024,
        messages=[SystemMessage(recorded["system"][0]["text"]), UserMessage(article, cache_breakpoint=CacheBreakpoint())],
    )
    client = client_for(req)
    first = await adapter.complete(client, req)
    body = sent(server)
    assert body["system"] == recorded["system"]
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": article, "cache_control": {"type": "ephemeral", "ttl": "5m"}}
    ]
    assert first.usage is not None and first.usage["cache_creation_input_tokens"] == 1163
    written = adapter.normalize_usage(first.usage)
    assert (written.input_tokens, written.cache_write_tokens, written.cached_input_tokens) == (4 + 1163, 1163, 0)

    second = await adapter.complete(client, req)
    assert second.usage is not None and second.usage["cache_read_input_tokens"] == 1163
    read = adapter.normalize_usage(second.usage)
    assert (read.input_tokens, read.cache_write_tokens, read.cached_input_tokens) == (4 + 1163, 0, 1163)
    server.assert_all_used()


async def test_streamed_usage_merges_message_start_cache_counts_with_message_delta_output(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    recording = cassette("messages_stream_prompt_cache.yaml")
    server.enqueue_cassette(recording)
    recorded = recording[0].request.json()
    req = request(
        model=recorded["model"],
        messages=[
            SystemMessage(recorded["system"][0]["text"]),
            UserMessage(recorded["messages"][0]["content"][0]["text"], cache_breakpoint=CacheBreakpoint()),
        ],
    )
    client = client_for(req)
    first = await collect(adapter, client, req)
    assert sent(server)["stream"] is True
    assert sent(server)["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral", "ttl": "5m"}
    assert first.usage == {
        "input_tokens": 4,
        "cache_creation_input_tokens": 1165,
        "cache_read_input_tokens": 0,
        "output_tokens": 201,
    }
    assert normalize_usage(first.usage).input_tokens == 1169

    second = await collect(adapter, client, req)
    assert second.usage is not None and second.usage["cache_read_input_tokens"] == 1165
    assert second.usage["output_tokens"] == 221
    assert normalize_usage(second.usage).cached_input_tokens == 1165
    server.assert_all_used()


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        ("get_time", {"type": "tool", "name": "get_time"}),
        (None, None),
    ],
)
async def test_tool_choice_is_mapped(
    choice: Any,
    expected: Any,
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: AnthropicAdapter,
    client_for: ClientFor,
) -> None:
    server.enqueue_cassette(cassette("messages_tool_use.yaml"))
    req = request(tools=[WEATHER, TIME], tool_choice=choice)
    await adapter.complete(client_for(req), req)
    body = sent(server)
    assert body.get("tool_choice") == expected
    assert [t["name"] for t in body["tools"]] == ["get_weather", "get_time"]
    assert body["tools"][0]["input_schema"]["properties"] == {"location": {"type": "string"}}


async def test_parallel_tool_calls_come_back_in_order_with_ids(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    server.enqueue_cassette(cassette("messages_tool_use.yaml"))
    req = request(tools=[WEATHER, TIME], messages=[UserMessage("Weather and time in New York?")])
    completion = await adapter.complete(client_for(req), req)
    calls = completion.message.tool_calls or []
    assert [(c.id, c.index, c.function.name, c.function.arguments) for c in calls] == [
        ("toolu_012r6TBCWjRHG71j6zruYyUL", 0, "get_weather", {"location": "New York, NY", "unit": "fahrenheit"}),
        ("toolu_01SkeBKkLCNYWNuivqFerGDd", 1, "get_time", {"timezone": "America/New_York"}),
    ]
    assert completion.finish_reason == "tool_calls" and completion.native_finish_reason == "tool_use"
    assert completion.message.content and completion.message.content.startswith("Certainly!")


async def test_tool_results_are_merged_into_one_user_turn_after_the_tool_use_turn(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    server.enqueue_cassette(cassette("messages_text.yaml"))
    calls = [
        ToolCall(id="toolu_a", type="function", function=FunctionCall("get_weather", {"location": "Paris"})),
        ToolCall(id="toolu_b", type="function", function=FunctionCall("get_time", {"timezone": "Europe/Paris"})),
    ]
    req = request(
        tools=[WEATHER, TIME],
        messages=[
            UserMessage("Weather and time in Paris?"),
            AssistantMessage("Checking both.", tool_calls=calls),
            ToolResultMessage(tool_call_id="toolu_a", name="get_weather", content={"temp_c": 17.5, "sky": "clear"}),
            ToolResultMessage(tool_call_id="toolu_b", name="get_time", content={"time": "14:05"}),
            UserMessage("And be brief."),
        ],
    )
    await adapter.complete(client_for(req), req)
    messages = sent(server)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == [
        {"type": "text", "text": "Checking both."},
        {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"location": "Paris"}},
        {"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {"timezone": "Europe/Paris"}},
    ]
    assert messages[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_a", "content": '{"temp_c": 17.5, "sky": "clear"}'},
        {"type": "tool_result", "tool_use_id": "toolu_b", "content": '{"time": "14:05"}'},
        {"type": "text", "text": "And be brief."},
    ]


async def test_max_tokens_is_always_sent_with_a_documented_default(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    server.enqueue_cassette(cassette("messages_text.yaml"))
    server.enqueue_cassette(cassette("messages_text.yaml"))
    server.enqueue_cassette(cassette("messages_thinking.yaml"))
    plain = request()
    await adapter.complete(client_for(plain), plain)
    assert sent(server)["max_tokens"] == 4096
    explicit = request(max_tokens=300)
    await adapter.complete(client_for(explicit), explicit)
    assert sent(server)["max_tokens"] == 300
    thinking = request(provider_kwargs={"anthropic": {"thinking": {"type": "enabled", "budget_tokens": 1024}}})
    await adapter.complete(client_for(thinking), thinking)
    assert sent(server)["max_tokens"] == 1024 + 4096


async def test_max_tokens_not_above_the_thinking_budget_is_a_400_before_sending(
    server: ReplayServer, adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    req = request(max_tokens=1024, provider_kwargs={"anthropic": {"thinking": {"type": "enabled", "budget_tokens": 1024}}})
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(req), req)
    assert info.value.error_type == "invalid_request_error" and "budget_tokens" in info.value.message
    assert server.requests == []


async def test_temperature_travels_in_the_body_but_not_with_thinking(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    server.enqueue_cassette(cassette("messages_text.yaml"))
    server.enqueue_cassette(cassette("messages_thinking.yaml"))
    warm = request(temperature=0.3)
    await adapter.complete(client_for(warm), warm)
    assert sent(server)["temperature"] == 0.3
    thinking = request(
        temperature=0.3, provider_kwargs={"anthropic": {"thinking": {"type": "enabled", "budget_tokens": 1024}}}
    )
    await adapter.complete(client_for(thinking), thinking)
    assert "temperature" not in sent(server)
    assert sent(server)["thinking"] == {"type": "enabled", "budget_tokens": 1024}


async def test_unknown_provider_kwargs_are_a_400_before_sending(
    server: ReplayServer, adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    req = request(provider_kwargs={"anthropic": {"thinkin": {"type": "enabled"}}, "openai": {"service_tier": "flex"}})
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(req), req)
    assert "unknown option 'thinkin'" in info.value.message
    assert server.requests == []


async def test_the_api_key_goes_in_the_authorization_header_only(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor,
    api_key: str,
) -> None:
    server.enqueue_cassette(cassette("messages_text.yaml"))
    req = request()
    await adapter.complete(client_for(req), req)
    assert server.requests[-1].headers["authorization"] == f"Bearer {api_key}"
    assert api_key not in server.requests[-1].body.decode()
    config = adapter.client_config(req, Credential("customer", Secret(api_key)))
    assert api_key not in repr(config) and api_key not in str(config)
