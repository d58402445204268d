"""Extended thinking: reasoning stays out of the content, signed blocks come back next turn."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from completions_anthropic import AnthropicAdapter

from completions_core.adapter import MessageExtras, ReasoningDelta, StreamEvent, TextDelta
from completions_core.codec import message_from_wire, message_to_wire
from completions_core.errors import ProviderError
from completions_core.request import ProviderRequest
from completions_core.testing.cassettes import Cassette
from completions_core.testing.contract import collect
from completions_core.testing.replay import ReplayServer
from completions_core.testing.requests import provider_request
from completions_core.types import (
    AssistantMessage,
    FunctionDefinition,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
)

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
]

ClientFor = Callable[[ProviderRequest], Any]
THINKING = {"anthropic": {"thinking": {"type": "enabled", "budget_tokens": 1024}}}
STRAWBERRY = "How many times does the letter 'r' appear in the word strawberry?"


def request(**fields: Any) -> ProviderRequest:
    values: dict[str, Any] = {
        "provider": "anthropic",
        "model": "claude-3-7-sonnet-20250219",
        "messages": [UserMessage(STRAWBERRY)],
        "max_tokens": 2048,
        "provider_kwargs": THINKING,
    }
    values.update(fields)
    return provider_request(**values)


def recorded_blocks(cassette: Cassette, index: int = 0) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = cassette[index].response.json()["content"]
    return blocks


async def events_of(adapter: AnthropicAdapter, client: Any, req: ProviderRequest) -> list[StreamEvent]:
    stream = adapter.stream(client, req)
    try:
        return [event async for event in stream]
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


async def test_thinking_completion_keeps_the_signed_block_out_of_the_content(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    recording = cassette("messages_thinking.yaml")
    server.enqueue_cassette(recording)
    req = request()
    completion = await adapter.complete(client_for(req), req)
    body = server.requests[-1].json()
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert body["max_tokens"] == 2048
    thinking, text = recorded_blocks(recording)
    assert completion.message.content == text["text"]
    assert "s-t-r-a-w" not in (completion.message.content or "")
    assert completion.message.provider_state == {
        "anthropic": {
            "thinking": [{"type": "thinking", "thinking": thinking["thinking"], "signature": thinking["signature"]}]
        }
    }


async def test_streamed_thinking_is_reasoning_never_content(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    server.enqueue_cassette(cassette("messages_stream_thinking.yaml"))
    req = request()
    events = await events_of(adapter, client_for(req), req)
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert reasoning.startswith("Let me count the occurrences") and reasoning.endswith('appears 3 times in the word "strawberry".')
    assert text == 'The letter \'r\' appears 3 times in the word "strawberry".'
    extras = [e for e in events if isinstance(e, MessageExtras)]
    assert len(extras) == 1 and extras[0].provider_state is not None
    (block,) = extras[0].provider_state["anthropic"]["thinking"]
    assert block["thinking"] == reasoning
    assert block["signature"].startswith("ErUBCkYIARgCIkCepoF8") and block["signature"].endswith("L9V0IJKnul7nuNx8Yg==")
    # The reasoning deltas arrive one by one, as streamed (16 thinking_delta events in the recording).
    assert sum(isinstance(e, ReasoningDelta) for e in events) == 16


async def test_thinking_tool_loop_sends_the_signed_thinking_block_back_first(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    recording = cassette("messages_stream_thinking_tool_use.yaml")
    server.enqueue_cassette(recording)
    tool = ToolDefinition(
        type="function",
        function=FunctionDefinition("fixed_version", "Return a fixed test version string", {"type": "object", "properties": {}}),
    )
    kwargs = {"anthropic": {"thinking": {"type": "enabled", "budget_tokens": 1024, "display": "summarized"}}}
    question = UserMessage(
        "Use the fixed_version tool. Then tell me the version and make one short joke about it. Think about it first."
    )
    first = request(model="claude-haiku-4-5-20251001", messages=[question], tools=[tool], provider_kwargs=kwargs, max_tokens=None)
    client = client_for(first)
    turn1 = await collect(adapter, client, first)
    reply = turn1.response.message
    assert turn1.response.finish_reason == "tool_calls"
    (call,) = reply.tool_calls or []
    assert (call.id, call.function.name, call.function.arguments) == ("toolu_01825dXWLSoJwCst1qTsiWdb", "fixed_version", {})
    assert reply.content is None
    # The assistant message survives the client's wire round trip with its provider_state.
    replayed = message_from_wire(json.loads(json.dumps(message_to_wire(reply))))
    assert isinstance(replayed, AssistantMessage)

    second = request(
        model="claude-haiku-4-5-20251001",
        messages=[question, replayed, ToolResultMessage(tool_call_id=call.id, name="fixed_version", content={"version": "0.32a0"})],
        tools=[tool],
        provider_kwargs=kwargs,
        max_tokens=None,
    )
    turn2 = await collect(adapter, client, second)
    assert turn2.text.startswith("The version is **0.32a0**.")
    server.assert_all_used()

    recorded_turn = recording[1].request.json()["messages"][1]["content"]
    sent = server.requests[-1].json()
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024, "display": "summarized"}
    assert sent["messages"][1]["role"] == "assistant"
    assistant_blocks = sent["messages"][1]["content"]
    assert assistant_blocks[0] == recorded_turn[0]  # the thinking block, signature byte for byte
    assert assistant_blocks[0]["type"] == "thinking" and assistant_blocks[0]["signature"].startswith("EoQDCm0I")
    assert assistant_blocks[1] == {"type": "tool_use", "id": call.id, "name": "fixed_version", "input": {}}
    assert sent["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": call.id, "content": '{"version": "0.32a0"}'}
    ]
    # thinking_tokens from output_tokens_details reach the normalized usage as reasoning.
    from completions_anthropic.response import normalize_usage

    assert normalize_usage(turn1.usage).reasoning_tokens == 53


async def test_redacted_thinking_is_kept_and_sent_back_unchanged(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    recording = cassette("messages_redacted_thinking.yaml")
    # Recorded on the beta path (?beta=true); this adapter uses the GA /v1/messages.
    server.enqueue_cassette(recording, path="/v1/messages")
    server.enqueue_cassette(cassette("messages_text.yaml"))
    magic = recording[0].request.json()["messages"][0]["content"][0]["text"]
    first = request(model="claude-sonnet-4-5-20250929", messages=[UserMessage(magic)], max_tokens=4096)
    client = client_for(first)
    completion = await adapter.complete(client, first)
    redacted, text = recorded_blocks(recording)
    assert completion.message.content == text["text"]
    assert completion.message.provider_state == {
        "anthropic": {"thinking": [{"type": "redacted_thinking", "data": redacted["data"]}]}
    }
    follow_up = request(
        model="claude-sonnet-4-5-20250929",
        messages=[UserMessage(magic), completion.message, UserMessage("Tell me a joke instead.")],
        max_tokens=4096,
    )
    await adapter.complete(client, follow_up)
    sent_turn = server.requests[-1].json()["messages"][1]
    assert sent_turn["content"] == [
        {"type": "redacted_thinking", "data": redacted["data"]},
        {"type": "text", "text": text["text"]},
    ]


async def test_a_forged_thinking_block_is_a_400_before_sending(
    server: ReplayServer, adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    forged = AssistantMessage("ok", provider_state={"anthropic": {"thinking": [{"type": "image", "source": "x"}]}})
    req = request(messages=[UserMessage("hi"), forged, UserMessage("again")])
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(req), req)
    assert info.value.error_type == "invalid_request_error"
    assert "thinking[0]" in info.value.message
    assert server.requests == []


async def test_other_providers_state_is_not_sent(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    server.enqueue_cassette(cassette("messages_text.yaml"))
    earlier = AssistantMessage("Hello!", provider_state={"anthropic_vertex": {"thinking": [{"type": "redacted_thinking", "data": "x"}]}})
    req = request(messages=[UserMessage("hi"), earlier, UserMessage("again")], provider_kwargs=None)
    await adapter.complete(client_for(req), req)
    assert server.requests[-1].json()["messages"][1]["content"] == [{"type": "text", "text": "Hello!"}]
