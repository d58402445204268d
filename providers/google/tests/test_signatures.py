"""Thought signatures survive a tool loop: kept as bytes, serialized, and sent back where they came from."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from completions_google import GoogleAdapter, GoogleClient

from completions_core.codec import deserialize_conversation, serialize_conversation
from completions_core.testing.replay import ReplayServer
from completions_core.types import (
    AssistantMessage,
    ConversationHistory,
    FunctionDefinition,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
)

from .conftest import KEY, collect, load, make_request

GET_COUNTRY = ToolDefinition(
    type="function",
    function=FunctionDefinition("get_country", "", {"type": "object", "properties": {}, "additionalProperties": False}),
)
GET_CAPITAL = ToolDefinition(
    type="function",
    function=FunctionDefinition(
        "get_capital",
        "Get the capital of a country.",
        {
            "type": "object",
            "properties": {"country": {"type": "string", "description": "The country name."}},
            "required": ["country"],
            "additionalProperties": False,
        },
    ),
)


def _through_the_wire(conversation: ConversationHistory) -> ConversationHistory:
    """What a caller storing the conversation as JSON gets back next turn."""
    return deserialize_conversation(json.loads(json.dumps(serialize_conversation(conversation))))


def _signatures(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind of part, thoughtSignature as sent) for every signed part of every model turn."""
    out = []
    for content in body["contents"]:
        for part in content["parts"]:
            if "thoughtSignature" in part:
                out.append(("functionCall" if "functionCall" in part else "text", part["thoughtSignature"]))
    return out


@pytest.mark.anyio
async def test_streamed_signature_survives_serialization_and_goes_back_on_its_function_call(
    server: ReplayServer, adapter: GoogleAdapter, client: GoogleClient
) -> None:
    cassette = load("stream_function_call_thought_signature.yaml")
    server.enqueue_cassette(cassette)
    question = UserMessage("What is the capital of the user country? Call the tool")
    model = "gemini-3-pro-preview"

    first, _ = await collect(adapter, client, make_request(model=model, messages=[question], tools=[GET_COUNTRY]))
    (call,) = first.response.message.tool_calls or []
    assert isinstance(call.thought_signature, bytes) and len(call.thought_signature) > 100

    conversation = _through_the_wire(
        [question, first.response.message, ToolResultMessage(tool_call_id=call.id, content={"return_value": "Mexico"})]
    )
    restored = conversation[1]
    assert isinstance(restored, AssistantMessage) and restored.tool_calls
    assert restored.tool_calls[0].thought_signature == call.thought_signature
    assert restored.tool_calls[0].id == call.id

    second, _ = await collect(adapter, client, make_request(model=model, messages=conversation, tools=[GET_COUNTRY]))
    assert second.text == "The capital of Mexico is Mexico City."
    server.assert_all_used()

    body = server.requests[-1].json()
    model_part = body["contents"][1]["parts"][0]
    result_part = body["contents"][2]["parts"][0]
    # Exactly the string Gemini accepted in the recorded follow-up (google-genai sends URL-safe
    # base64), and the very bytes Gemini sent (as standard base64) in the first answer.
    recorded = cassette[1].request.json()["contents"][1]["parts"][0]["thoughtSignature"]
    assert model_part["thoughtSignature"] == recorded
    assert base64.urlsafe_b64decode(model_part["thoughtSignature"]) == call.thought_signature
    # The id made up for Gemini's id-less call links the call and its result.
    assert model_part["functionCall"]["id"] == call.id == result_part["functionResponse"]["id"]
    assert result_part["functionResponse"]["name"] == "get_country"


@pytest.mark.anyio
async def test_non_streamed_tool_loop_echoes_every_signature_and_keeps_the_answers(
    server: ReplayServer, adapter: GoogleAdapter, client: GoogleClient
) -> None:
    cassette = load("function_call_thought_signature.yaml")
    server.enqueue_cassette(cassette)
    model = "gemini-2.5-pro"
    conversation: ConversationHistory = [UserMessage("What is the capital of France?")]
    results = [
        {"error": 'The country is not supported. Use "La France" instead.\n\nFix the errors and try again.'},
        {"return_value": "Paris"},
    ]
    for turn in range(3):
        completion = await adapter.complete(client, make_request(model=model, messages=conversation, tools=[GET_CAPITAL]))
        # Each request carries the signatures the recorded (accepted) request carried, in place.
        assert _signatures(server.requests[-1].json()) == _signatures(cassette[turn].request.json())
        conversation = _through_the_wire([*conversation, completion.message])
        if turn < 2:
            (call,) = completion.message.tool_calls or []
            conversation = _through_the_wire(
                [*conversation, ToolResultMessage(tool_call_id=call.id, content=results[turn])]
            )
    server.assert_all_used()

    final = conversation[-1]
    assert isinstance(final, AssistantMessage) and final.content == "Paris"
    text_signature = cassette[2].response.json()["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
    assert final.thought_signature == base64.b64decode(text_signature)

    # A fourth turn sends the message's signature back on its text part.
    server.enqueue_cassette(load("generate_text.yaml"), path=f"/v1beta/models/{model}:generateContent")
    await adapter.complete(client, make_request(model=model, messages=[*conversation, UserMessage("Thanks!")]))
    body = server.requests[-1].json()
    text_part = body["contents"][-2]["parts"][0]
    assert text_part["text"] == "Paris"
    assert base64.urlsafe_b64decode(text_part["thoughtSignature"]) == final.thought_signature


@pytest.mark.anyio
async def test_signature_loop_end_to_end_through_proxy_and_client(server: ReplayServer, adapter: GoogleAdapter) -> None:
    from completions_core.plugins import ProviderRegistry
    from completions_proxy.testing import running_proxy
    from primfunctions.completions import client as client_module
    from primfunctions.completions import configure, configure_provider, generate_chat_completion_stream

    cassette = load("stream_function_call_thought_signature.yaml")
    server.enqueue_cassette(cassette)
    registry = ProviderRegistry()
    registry.register(adapter, "test")
    tool = {"type": "function", "function": {"name": "get_country", "description": "", "parameters": {"type": "object"}}}
    question = {"role": "user", "content": "What is the capital of the user country? Call the tool"}
    await client_module._reset_for_tests()
    try:
        async with running_proxy(registry) as proxy:
            configure(proxy.url, proxy.token)
            configure_provider("google", api_key=KEY)
            body = {"provider": "google", "model": "gemini-3-pro-preview", "messages": [question], "tools": [tool]}
            stream = await generate_chat_completion_stream(body)
            kinds = [chunk.type async for chunk in stream]
            assert "tool_call" in kinds and stream.response is not None
            message = stream.response.message
            (call,) = message.tool_calls or []
            assert call.thought_signature

            history = _through_the_wire(
                [*deserialize_conversation([question]), message, ToolResultMessage(call.id, {"return_value": "Mexico"})]
            )
            body = {**body, "messages": serialize_conversation(history)}
            stream = await generate_chat_completion_stream(body)
            async for _ in stream:
                pass
            assert stream.response is not None
            assert stream.response.message.content == "The capital of Mexico is Mexico City."
    finally:
        await client_module._reset_for_tests()
    sent = server.requests[-1].json()["contents"][1]["parts"][0]
    assert sent["thoughtSignature"] == cassette[1].request.json()["contents"][1]["parts"][0]["thoughtSignature"]
    assert base64.urlsafe_b64decode(sent["thoughtSignature"]) == call.thought_signature
