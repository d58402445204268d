"""What the adapter SENDS to OpenAI for each part of a request (read back from the replay server)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from completions_openai import OpenAIAdapter

from completions_core.errors import ProviderError
from completions_core.request import ProviderRequest
from completions_core.testing.cassettes import Cassette
from completions_core.testing.contract import collect
from completions_core.testing.replay import ReplayServer
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

Request = Callable[..., ProviderRequest]
ClientFor = Callable[[OpenAIAdapter, ProviderRequest], Any]

WEATHER_PARAMS = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
    "required": ["location"],
}


def weather(strict: bool | None = None) -> ToolDefinition:
    return ToolDefinition(
        type="function",
        function=FunctionDefinition(
            name="get_current_weather",
            description="Get the current weather in a given location",
            parameters=WEATHER_PARAMS,
            strict=strict,
        ),
    )


async def sent(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    request: ProviderRequest,
) -> dict[str, Any]:
    """Send ``request`` (answered by a recorded text reply) and return the JSON body that went out."""
    server.enqueue_cassette(cassette("chat_text.yaml"))
    await adapter.complete(client_for(adapter, request), request)
    server.assert_all_used()
    body: dict[str, Any] = server.requests[-1].json()
    return body


@pytest.mark.anyio
async def test_every_message_role_is_sent_in_openai_shape(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
) -> None:
    seattle = ToolCall(
        id="call_JpNb8OiAkbIbHzDggfpdDHpi",
        type="function",
        function=FunctionCall("get_current_weather", {"location": "Seattle, WA"}),
    )
    request = make_request(
        tools=[weather()],
        messages=[
            SystemMessage("You're a helpful assistant.", cache_breakpoint=CacheBreakpoint()),
            UserMessage("What's the weather in Seattle?", name="ana"),
            AssistantMessage(content=None, tool_calls=[seattle]),
            ToolResultMessage(tool_call_id=seattle.id, name="get_current_weather", content={"temp": 50, "sky": "rain"}),
            AssistantMessage(content="It is raining."),
            UserMessage("Thanks, née Zoë"),
        ],
    )
    server.enqueue_cassette(cassette("chat_tool_calls.yaml"), only=[1])
    completion = await adapter.complete(client_for(adapter, request), request)
    assert completion.message.content and completion.message.content.startswith("Today, the weather in Seattle")
    assert server.requests[-1].json()["messages"] == [
        {"role": "system", "content": "You're a helpful assistant."},
        {"role": "user", "content": "What's the weather in Seattle?", "name": "ana"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_JpNb8OiAkbIbHzDggfpdDHpi",
                    "type": "function",
                    "function": {"name": "get_current_weather", "arguments": '{"location":"Seattle, WA"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_JpNb8OiAkbIbHzDggfpdDHpi", "content": '{"temp":50,"sky":"rain"}'},
        {"role": "assistant", "content": "It is raining."},
        {"role": "user", "content": "Thanks, née Zoë"},
    ]


@pytest.mark.anyio
async def test_messages_given_as_dicts_are_sent_like_dataclasses(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
) -> None:
    request = make_request(messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    body = await sent(server, cassette, adapter, client_for, request)
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]


@pytest.mark.anyio
async def test_a_tool_result_that_is_not_json_is_refused_before_sending(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request
) -> None:
    request = make_request(messages=[ToolResultMessage(tool_call_id="call_1", content={"when": object()})])
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(adapter, request), request)
    assert info.value.error_type == "invalid_request_error"
    assert "messages[0].content" in info.value.message
    assert server.requests == []


@pytest.mark.anyio
async def test_a_non_strict_tool_keeps_its_schema_and_sends_no_strict_flag(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
) -> None:
    body = await sent(server, cassette, adapter, client_for, make_request(tools=[weather()]))
    function = body["tools"][0]["function"]
    assert body["tools"][0]["type"] == "function"
    assert "strict" not in function
    assert function["name"] == "get_current_weather"
    # Only the meta keyword goes: the rest is exactly what the caller wrote.
    assert function["parameters"] == {k: v for k, v in WEATHER_PARAMS.items() if k != "$schema"}


@pytest.mark.anyio
async def test_a_strict_tool_gets_a_strict_compatible_schema(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
) -> None:
    body = await sent(server, cassette, adapter, client_for, make_request(tools=[weather(strict=True)]))
    function = body["tools"][0]["function"]
    assert function["strict"] is True
    parameters = function["parameters"]
    # Strict mode: closed object, every property required, the optional one made nullable.
    assert parameters["additionalProperties"] is False
    assert sorted(parameters["required"]) == ["location", "unit"]
    assert parameters["properties"]["unit"] == {"type": ["string", "null"], "enum": ["c", "f", None]}
    assert "$schema" not in parameters


@pytest.mark.anyio
async def test_strict_false_is_sent_as_given(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
) -> None:
    body = await sent(server, cassette, adapter, client_for, make_request(tools=[weather(strict=False)]))
    assert body["tools"][0]["function"]["strict"] is False


@pytest.mark.anyio
async def test_a_strict_tool_whose_schema_strict_mode_cannot_express_is_refused_before_sending(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request
) -> None:
    open_object = {"type": "object", "properties": {"extra": {"type": "object", "additionalProperties": True}}}
    tool = ToolDefinition(
        type="function", function=FunctionDefinition(name="save", description="", parameters=open_object, strict=True)
    )
    request = make_request(tools=[tool])
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(adapter, request), request)
    assert info.value.error_type == "invalid_request_error"
    assert info.value.message.startswith("tools[0].function.parameters: #/properties/extra")
    assert server.requests == []


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ("get_current_weather", {"type": "function", "function": {"name": "get_current_weather"}}),
    ],
)
@pytest.mark.anyio
async def test_tool_choice_is_sent_in_openai_form(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
    choice: str,
    expected: Any,
) -> None:
    body = await sent(server, cassette, adapter, client_for, make_request(tools=[weather()], tool_choice=choice))
    assert body["tool_choice"] == expected


@pytest.mark.anyio
async def test_tool_choice_without_tools_is_not_sent(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
) -> None:
    body = await sent(server, cassette, adapter, client_for, make_request(tool_choice="none"))
    assert "tool_choice" not in body and "tools" not in body


@pytest.mark.anyio
async def test_max_tokens_goes_out_as_max_completion_tokens(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
) -> None:
    body = await sent(server, cassette, adapter, client_for, make_request(model="o3-mini", max_tokens=256))
    assert body["max_completion_tokens"] == 256
    assert "max_tokens" not in body


@pytest.mark.anyio
async def test_temperature_is_sent_and_unset_fields_are_left_out(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
) -> None:
    body = await sent(server, cassette, adapter, client_for, make_request(temperature=0.2))
    assert body["temperature"] == 0.2
    assert set(body) == {"model", "messages", "temperature"}


@pytest.mark.anyio
async def test_response_schema_becomes_a_strict_json_schema_response_format(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
) -> None:
    schema = {
        "title": "City answer",
        "type": "object",
        "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
        "required": ["city"],
    }
    server.enqueue_cassette(cassette("chat_structured_output.yaml"), only=[1])
    request = make_request(response_schema=schema)
    completion = await adapter.complete(client_for(adapter, request), request)
    assert completion.message.content == '{"city":"Mexico City","country":"Mexico"}'
    response_format = server.requests[-1].json()["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "City_answer"
    assert response_format["json_schema"]["strict"] is True
    strict_schema = response_format["json_schema"]["schema"]
    assert strict_schema["additionalProperties"] is False
    assert sorted(strict_schema["required"]) == ["city", "country"]


@pytest.mark.anyio
async def test_service_tier_and_reasoning_effort_are_sent(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
) -> None:
    request = make_request(
        provider_kwargs={
            "openai": {"service_tier": "flex", "reasoning_effort": "low"},
            "anthropic": {"thinking": {"type": "enabled", "budget_tokens": 1024}},
        }
    )
    body = await sent(server, cassette, adapter, client_for, request)
    assert body["service_tier"] == "flex"
    assert body["reasoning_effort"] == "low"
    assert "thinking" not in body


@pytest.mark.anyio
async def test_an_unknown_openai_option_is_refused_before_sending(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request
) -> None:
    request = make_request(provider_kwargs={"openai": {"service_tier": "flex", "logprobs": True}})
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(adapter, request), request)
    assert info.value.error_type == "invalid_request_error" and not info.value.retryable
    assert "'logprobs'" in info.value.message
    assert "reasoning_effort, service_tier" in info.value.message
    assert server.requests == []


@pytest.mark.anyio
async def test_an_openai_option_of_the_wrong_type_is_refused(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request
) -> None:
    request = make_request(provider_kwargs={"openai": {"reasoning_effort": 3}})
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(adapter, request), request)
    assert info.value.error_type == "invalid_request_error"
    assert "reasoning_effort" in info.value.message
    assert server.requests == []


@pytest.mark.anyio
async def test_a_stream_asks_for_usage_in_the_last_chunk(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
) -> None:
    server.enqueue_cassette(cassette("chat_stream_text.yaml"))
    request = make_request()
    await collect(adapter, client_for(adapter, request), request)
    body = server.requests[-1].json()
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_a_response_schema_strict_mode_cannot_express_goes_out_non_strict() -> None:
    from completions_openai.request import map_response_format

    schema = {"type": "object", "properties": {"scores": {"type": "object", "additionalProperties": {"type": "integer"}}}}
    strict_ok = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    assert map_response_format(strict_ok, "strict", "openai")["json_schema"]["strict"] is True
    fallback = map_response_format(schema, "strict", "openai")["json_schema"]
    assert fallback["strict"] is False
    assert fallback["schema"]["properties"]["scores"]["additionalProperties"] == {"type": "integer"}
