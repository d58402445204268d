"""response_schema: native structured output where the model has it, a forced tool otherwise.

No permissively licensed recording of Anthropic structured output exists; the answers come from
``cassettes/synthesized_structured_output.yaml`` (documented response shapes, made-up ids).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from completions_anthropic import AnthropicAdapter

from completions_core.errors import ProviderError
from completions_core.request import ProviderRequest
from completions_core.testing.cassettes import Cassette
from completions_core.testing.contract import collect
from completions_core.testing.replay import ReplayServer
from completions_core.testing.requests import provider_request
from completions_core.types import FunctionDefinition, ToolDefinition, UserMessage

pytestmark = pytest.mark.anyio

ClientFor = Callable[[ProviderRequest], Any]
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
SYNTH = "synthesized_structured_output.yaml"


def request(model: str, **fields: Any) -> ProviderRequest:
    values: dict[str, Any] = {
        "provider": "anthropic",
        "model": model,
        "messages": [UserMessage("Which city is the Eiffel Tower in?")],
        "response_schema": SCHEMA,
    }
    values.update(fields)
    return provider_request(**values)


def tool_answer(value: Any, name: str = "structured_output") -> dict[str, Any]:
    return {
        "id": "msg_synth_x",
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-4-1-20250805",
        "content": [{"type": "tool_use", "id": "toolu_synth_x", "name": name, "input": value}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }


async def test_native_structured_output_sends_output_config_and_returns_the_json_text(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    server.enqueue_cassette(cassette(SYNTH), only=[0])
    req = request("claude-haiku-4-5")
    completion = await adapter.complete(client_for(req), req)
    body = server.requests[-1].json()
    assert body["output_config"] == {
        "format": {
            "type": "json_schema",
            "schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "additionalProperties": False,
                "required": ["city"],
            },
        }
    }
    assert "tools" not in body and "tool_choice" not in body
    assert json.loads(completion.message.content or "") == {"city": "Paris"}
    assert completion.finish_reason == "stop"


async def test_native_output_is_chosen_for_dated_and_vertex_style_ids(adapter: AnthropicAdapter) -> None:
    assert adapter.supports_native_structured_output("claude-sonnet-4-5-20250929")
    assert adapter.supports_native_structured_output("claude-sonnet-4-5@20250929")
    assert adapter.supports_native_structured_output("claude-opus-4-6")
    assert not adapter.supports_native_structured_output("claude-opus-4-1-20250805")
    assert not adapter.supports_native_structured_output("claude-3-5-haiku-20241022")
    assert not adapter.supports_native_structured_output("claude-sonnet-4-50")


async def test_older_models_get_a_forced_answer_tool_whose_input_is_the_json(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    server.enqueue_cassette(cassette(SYNTH), only=[1])
    req = request("claude-opus-4-1")
    completion = await adapter.complete(client_for(req), req)
    body = server.requests[-1].json()
    assert "output_config" not in body
    assert body["tools"] == [
        {
            "name": "structured_output",
            "description": "Give your final answer by calling this tool. Its input is the answer and must match the "
            "schema exactly.",
            "input_schema": SCHEMA,
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "structured_output"}
    assert json.loads(completion.message.content or "") == {"city": "Paris"}
    assert completion.message.tool_calls is None
    assert completion.finish_reason == "stop" and completion.native_finish_reason == "tool_use"


async def test_a_streamed_forced_tool_answer_arrives_as_json_text(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    server.enqueue_cassette(cassette(SYNTH), only=[2])
    req = request("claude-opus-4-1")
    result = await collect(adapter, client_for(req), req)
    assert result.text == '{"city": "Paris"}'
    assert result.response.message.tool_calls is None
    assert result.response.finish_reason == "stop"
    assert server.requests[-1].json()["tool_choice"] == {"type": "tool", "name": "structured_output"}


async def test_a_non_object_schema_is_wrapped_in_the_tool_and_unwrapped_in_the_answer(
    server: ReplayServer, adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    server.enqueue_json(200, tool_answer({"value": ["Paris", "Lyon"]}))
    schema = {"type": "array", "items": {"type": "string"}}
    req = request("claude-opus-4-1", response_schema=schema)
    completion = await adapter.complete(client_for(req), req)
    sent_schema = server.requests[-1].json()["tools"][0]["input_schema"]
    assert sent_schema == {"type": "object", "properties": {"value": schema}, "required": ["value"]}
    assert json.loads(completion.message.content or "") == ["Paris", "Lyon"]


async def test_with_the_callers_tools_the_model_must_call_a_tool_or_answer(
    server: ReplayServer, adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    server.enqueue_json(200, tool_answer({"city": "Paris"}, name="structured_output_"))
    clashing = ToolDefinition(type="function", function=FunctionDefinition("structured_output", "a caller tool", {"type": "object"}))
    req = request("claude-opus-4-1", tools=[clashing])
    completion = await adapter.complete(client_for(req), req)
    body = server.requests[-1].json()
    assert [t["name"] for t in body["tools"]] == ["structured_output", "structured_output_"]
    assert body["tool_choice"] == {"type": "any"}
    assert json.loads(completion.message.content or "") == {"city": "Paris"}


async def test_an_open_map_schema_uses_the_forced_tool_even_on_native_models(adapter: AnthropicAdapter) -> None:
    schema = {"type": "object", "additionalProperties": {"type": "number"}}
    plan = adapter.build_request(request("claude-haiku-4-5", response_schema=schema))
    assert "output_config" not in plan.params
    assert plan.answer_tool == "structured_output"
    assert plan.params["tools"][0]["input_schema"] == schema


async def test_response_schema_with_thinking_on_a_model_without_native_output_is_a_400(
    server: ReplayServer, adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    req = request(
        "claude-opus-4-1", provider_kwargs={"anthropic": {"thinking": {"type": "enabled", "budget_tokens": 1024}}}
    )
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(req), req)
    assert info.value.error_type == "invalid_request_error" and "thinking" in info.value.message
    assert server.requests == []
