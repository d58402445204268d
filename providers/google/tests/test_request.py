"""What the adapter sends to Gemini: checked on the JSON body the replay server received."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from completions_google import GoogleAdapter, GoogleClient

from completions_core.errors import ProviderError
from completions_core.testing.replay import ReplayServer
from completions_core.types import (
    AssistantMessage,
    FunctionCall,
    FunctionDefinition,
    SystemMessage,
    ToolCall,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
)

from .conftest import KEY, load, make_request

TEXT = load("generate_text.yaml")
# Everything google-genai's Schema may carry, in the camelCase it sends (SDK_NOTES.md section 3).
GEMINI_SCHEMA_KEYS = {
    "type", "format", "description", "nullable", "enum", "properties", "required", "items", "minItems",
    "maxItems", "minLength", "maxLength", "pattern", "minimum", "maximum", "minProperties", "maxProperties",
    "anyOf", "default", "example", "title", "propertyOrdering",
}


def _tool(name: str, parameters: dict[str, Any], description: str = "") -> ToolDefinition:
    return ToolDefinition(type="function", function=FunctionDefinition(name, description, parameters))


WEATHER = _tool("get_weather", {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
TIME = _tool("get_time", {"type": "object", "properties": {"zone": {"type": "string"}}})


def _call(call_id: str, name: str, **arguments: Any) -> ToolCall:
    return ToolCall(id=call_id, type="function", function=FunctionCall(name, arguments))


async def _send(server: ReplayServer, adapter: GoogleAdapter, client: GoogleClient, **fields: Any) -> dict[str, Any]:
    """Send one non-streaming request answered by a recorded text reply; return the body sent."""
    server.enqueue_cassette(TEXT, path="/v1beta/models/gemini-2.5-flash:generateContent")
    await adapter.complete(client, make_request(**fields))
    server.assert_all_used()
    body: dict[str, Any] = server.requests[-1].json()
    return body


def _camel(data: dict[str, Any]) -> dict[str, Any]:
    # google-genai 3.4 sends thinkingConfig's fields in snake_case, which Gemini's proto JSON
    # parser accepts as well as camelCase; compare the meaning, not the spelling.
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(word.title() for word in rest)

    return {camel(key): value for key, value in data.items()}


def _schema_keys(schema: Any, found: set[str]) -> set[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            found.add(key)
            if key == "properties":
                for sub in value.values():
                    _schema_keys(sub, found)
            elif key in ("items",):
                _schema_keys(value, found)
            elif key == "anyOf":
                for sub in value:
                    _schema_keys(sub, found)
    return found


@pytest.mark.anyio
async def test_request_goes_to_v1beta_with_the_key_in_a_header_not_the_url(server, adapter, client) -> None:
    await _send(server, adapter, client)
    received = server.requests[-1]
    assert received.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert received.headers["x-goog-api-key"] == KEY
    assert KEY not in str(received.query) and "key" not in received.query


@pytest.mark.anyio
async def test_system_messages_are_collapsed_into_system_instruction(server, adapter, client) -> None:
    body = await _send(
        server,
        adapter,
        client,
        messages=[SystemMessage("You are terse."), UserMessage("Hi"), SystemMessage("Answer in French.")],
    )
    assert body["systemInstruction"]["parts"] == [{"text": "You are terse.\n\nAnswer in French."}]
    assert [c["role"] for c in body["contents"]] == ["user"]
    assert all("text" not in p or "terse" not in p["text"] for c in body["contents"] for p in c["parts"])


@pytest.mark.anyio
async def test_turns_become_user_and_model_contents_in_order(server, adapter, client) -> None:
    body = await _send(
        server,
        adapter,
        client,
        messages=[UserMessage("Hi"), AssistantMessage("Hello!"), UserMessage("How are you?")],
    )
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Hi"}]},
        {"role": "model", "parts": [{"text": "Hello!"}]},
        {"role": "user", "parts": [{"text": "How are you?"}]},
    ]


@pytest.mark.anyio
async def test_messages_given_as_dicts_are_accepted(server, adapter, client) -> None:
    body = await _send(server, adapter, client, messages=[{"role": "user", "content": "Hi from a dict"}])
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Hi from a dict"}]}]


@pytest.mark.anyio
async def test_tool_result_name_is_found_through_tool_call_id(server, adapter, client) -> None:
    body = await _send(
        server,
        adapter,
        client,
        tools=[WEATHER],
        messages=[
            UserMessage("Weather in Paris?"),
            AssistantMessage(tool_calls=[_call("call_abc", "get_weather", city="Paris")]),
            ToolResultMessage(tool_call_id="call_abc", content={"temp_c": 17.5}),
        ],
    )
    model_turn, result_turn = body["contents"][1], body["contents"][2]
    assert model_turn == {
        "role": "model",
        "parts": [{"functionCall": {"id": "call_abc", "name": "get_weather", "args": {"city": "Paris"}}}],
    }
    assert result_turn == {
        "role": "user",
        "parts": [{"functionResponse": {"id": "call_abc", "name": "get_weather", "response": {"temp_c": 17.5}}}],
    }


@pytest.mark.anyio
async def test_consecutive_tool_results_travel_in_one_user_turn(server, adapter, client) -> None:
    body = await _send(
        server,
        adapter,
        client,
        tools=[WEATHER, TIME],
        messages=[
            UserMessage("Weather and time in Paris?"),
            AssistantMessage(
                content="Let me check.",
                tool_calls=[_call("c1", "get_weather", city="Paris"), _call("c2", "get_time", zone="CET")],
            ),
            ToolResultMessage(tool_call_id="c1", content={"temp_c": 17.5}),
            ToolResultMessage(tool_call_id="c2", name="get_time", content={"time": "12:00"}),
        ],
    )
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert [p["text"] if "text" in p else p["functionCall"]["name"] for p in body["contents"][1]["parts"]] == [
        "Let me check.",
        "get_weather",
        "get_time",
    ]
    responses = [p["functionResponse"] for p in body["contents"][2]["parts"]]
    assert [(r["id"], r["name"]) for r in responses] == [("c1", "get_weather"), ("c2", "get_time")]


@pytest.mark.anyio
async def test_a_tool_result_with_no_name_and_an_unknown_id_is_refused_before_sending(server, adapter, client) -> None:
    request = make_request(
        messages=[UserMessage("Hi"), ToolResultMessage(tool_call_id="call_nowhere", content={"ok": True})]
    )
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client, request)
    assert info.value.error_type == "invalid_request_error" and not info.value.retryable
    assert "call_nowhere" in info.value.message and "function name" in info.value.message
    assert server.requests == []


@pytest.mark.anyio
async def test_tool_schema_is_sanitized_into_gemini_parameters(server, adapter, client) -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "$defs": {"Address": {"type": "object", "properties": {"street": {"type": "string"}}, "required": ["street"]}},
        "properties": {
            "kind": {"const": "order"},
            "note": {"type": ["string", "null"], "description": "free text"},
            "quantity": {"type": "integer", "exclusiveMinimum": 0},
            "address": {"$ref": "#/$defs/Address"},
        },
        "required": ["kind", "address"],
    }
    body = await _send(server, adapter, client, tools=[_tool("place_order", schema, "Place an order")])
    declaration = body["tools"][0]["functionDeclarations"][0]
    assert "parametersJsonSchema" not in declaration and "parameters_json_schema" not in declaration
    parameters = declaration["parameters"]
    assert _schema_keys(parameters, set()) <= GEMINI_SCHEMA_KEYS
    properties = parameters["properties"]
    assert properties["kind"]["enum"] == ["order"]
    assert properties["note"]["nullable"] is True and isinstance(properties["note"]["type"], str)
    assert properties["quantity"]["minimum"] == 1
    assert properties["address"]["properties"]["street"]["type"].upper() == "STRING"
    assert parameters["required"] == ["kind", "address"]
    # The dropped constraint is restated so the model still sees it.
    assert "other properties" in parameters.get("description", "")


@pytest.mark.anyio
async def test_a_function_without_arguments_is_declared_without_parameters(server, adapter, client) -> None:
    body = await _send(server, adapter, client, tools=[_tool("get_country", {"type": "object", "properties": {}})])
    assert body["tools"][0]["functionDeclarations"] == [{"name": "get_country", "description": ""}]


@pytest.mark.anyio
async def test_a_cyclic_tool_schema_is_a_clear_invalid_request(server, adapter, client) -> None:
    schema = {
        "type": "object",
        "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
        "properties": {"head": {"$ref": "#/$defs/Node"}},
    }
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client, make_request(tools=[_tool("walk", schema)]))
    assert info.value.error_type == "invalid_request_error"
    assert "tools[0].function.parameters" in info.value.message
    assert server.requests == []


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        ("get_time", {"mode": "ANY", "allowedFunctionNames": ["get_time"]}),
    ],
)
@pytest.mark.anyio
async def test_tool_choice_becomes_a_function_calling_mode(server, adapter, client, choice, expected) -> None:
    body = await _send(server, adapter, client, tools=[WEATHER, TIME], tool_choice=choice)
    assert body["toolConfig"] == {"functionCallingConfig": expected}


@pytest.mark.anyio
async def test_no_tool_choice_sends_no_tool_config(server, adapter, client) -> None:
    body = await _send(server, adapter, client, tools=[WEATHER])
    assert "toolConfig" not in body


@pytest.mark.anyio
async def test_tool_choice_naming_an_unknown_tool_is_refused(server, adapter, client) -> None:
    with pytest.raises(ProviderError) as info:
        # The codec refuses this first; the adapter still checks a request built by hand.
        request = dataclasses.replace(make_request(tools=[WEATHER]), tool_choice="get_stock_price")
        await adapter.complete(client, request)
    assert info.value.error_type == "invalid_request_error" and "get_stock_price" in info.value.message


@pytest.mark.anyio
async def test_generation_config_carries_schema_thinking_and_limits(server, adapter, client) -> None:
    body = await _send(
        server,
        adapter,
        client,
        temperature=0.25,
        max_tokens=321,
        response_schema={
            "type": "object",
            "properties": {"city": {"type": "string"}, "country": {"type": ["string", "null"]}},
            "required": ["city"],
            "additionalProperties": False,
        },
        provider_kwargs={"google": {"thinking_config": {"thinking_budget": 128, "include_thoughts": True}}},
    )
    config = body["generationConfig"]
    assert config["temperature"] == 0.25
    assert config["maxOutputTokens"] == 321
    assert _camel(config["thinkingConfig"]) == {"thinkingBudget": 128, "includeThoughts": True}
    assert config["responseMimeType"] == "application/json"
    assert "responseJsonSchema" not in config
    schema = config["responseSchema"]
    # google-genai adds the property order (spelled property_ordering, as in the recorded
    # structured_output_response_schema.yaml request Gemini accepted), so Gemini answers in order.
    assert schema.pop("property_ordering") == ["city", "country"]
    assert _schema_keys(schema, set()) <= GEMINI_SCHEMA_KEYS
    assert schema["required"] == ["city"]
    assert schema["properties"]["country"]["nullable"] is True


@pytest.mark.anyio
async def test_thinking_config_accepts_camel_case_keys(server, adapter, client) -> None:
    body = await _send(server, adapter, client, provider_kwargs={"google": {"thinking_config": {"thinkingLevel": "low"}}})
    assert _camel(body["generationConfig"]["thinkingConfig"]) == {"thinkingLevel": "LOW"}


@pytest.mark.anyio
async def test_other_providers_kwargs_are_ignored(server, adapter, client) -> None:
    body = await _send(server, adapter, client, provider_kwargs={"openai": {"reasoning_effort": "low"}})
    assert "thinkingConfig" not in body.get("generationConfig", {})


@pytest.mark.anyio
async def test_unknown_google_kwargs_are_refused(server, adapter, client) -> None:
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client, make_request(provider_kwargs={"google": {"thinking_budget": 5}}))
    assert info.value.error_type == "invalid_request_error" and "thinking_budget" in info.value.message
    with pytest.raises(ProviderError) as info:
        await adapter.complete(
            client, make_request(provider_kwargs={"google": {"thinking_config": {"budget": 5}}})
        )
    assert info.value.error_type == "invalid_request_error" and "thinking_config" in info.value.message
    assert server.requests == []


@pytest.mark.anyio
async def test_request_timeout_is_passed_per_request(server, adapter, client) -> None:
    await _send(server, adapter, client, timeout=7.5)
    # google-genai forwards its per-request timeout to Gemini as X-Server-Timeout (whole seconds).
    assert server.requests[-1].headers["x-server-timeout"] == "8"


@pytest.mark.anyio
async def test_a_conversation_of_only_system_messages_is_refused(server, adapter, client) -> None:
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client, make_request(messages=[SystemMessage("Be nice.")]))
    assert info.value.error_type == "invalid_request_error"
    assert server.requests == []
