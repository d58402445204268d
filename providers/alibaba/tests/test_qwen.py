"""What goes to DashScope for Qwen, and what comes back: the OpenAI mapping plus DashScope's differences."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from completions_alibaba import AlibabaAdapter

from completions_core.adapter import ReasoningDelta, StreamEvent, TextDelta
from completions_core.errors import ProviderError
from completions_core.request import ProviderRequest
from completions_core.testing.contract import collect
from completions_core.testing.replay import ReplayServer
from completions_core.types import FunctionDefinition, ToolDefinition

Request = Callable[..., ProviderRequest]
ClientFor = Callable[[AlibabaAdapter, ProviderRequest], Any]
Enqueue = Callable[..., None]

ADDRESS_SCHEMA = {
    "type": "object",
    "properties": {"home": {"$ref": "#/$defs/address"}, "work": {"$ref": "#/$defs/address"}},
    "required": ["home"],
    "$defs": {"address": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
}


async def sent_body(
    server: ReplayServer,
    enqueue: Enqueue,
    adapter: AlibabaAdapter,
    client_for: ClientFor,
    request: ProviderRequest,
) -> dict[str, Any]:
    """Send a non-streaming request (answered by a recorded reply) and return the body that went out."""
    enqueue("chat_text.yaml")
    await adapter.complete(client_for(adapter, request), request)
    server.assert_all_used()
    body: dict[str, Any] = server.requests[-1].json()
    return body


@pytest.mark.anyio
async def test_requests_go_to_the_compatible_mode_path_with_the_dashscope_key(
    monkeypatch: pytest.MonkeyPatch,
    server: ReplayServer,
    enqueue: Enqueue,
    adapter: AlibabaAdapter,
    client_for: ClientFor,
    make_request: Request,
    api_key: str,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-key-must-not-reach-dashscope")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-must-not-reach-dashscope")
    await sent_body(server, enqueue, adapter, client_for, make_request())
    received = server.requests[-1]
    assert received.path == "/compatible-mode/v1/chat/completions"
    assert received.headers["authorization"] == f"Bearer {api_key}"
    assert "openai-organization" not in received.headers
    assert not any("must-not-reach" in value for value in received.headers.values())


@pytest.mark.anyio
async def test_enable_search_is_sent_as_a_top_level_field(
    server: ReplayServer, enqueue: Enqueue, adapter: AlibabaAdapter, client_for: ClientFor, make_request: Request
) -> None:
    request = make_request(provider_kwargs={"alibaba": {"enable_search": True}})
    body = await sent_body(server, enqueue, adapter, client_for, request)
    assert body["enable_search"] is True


@pytest.mark.anyio
async def test_enable_search_is_not_sent_unless_asked_for(
    server: ReplayServer, enqueue: Enqueue, adapter: AlibabaAdapter, client_for: ClientFor, make_request: Request
) -> None:
    body = await sent_body(server, enqueue, adapter, client_for, make_request())
    assert "enable_search" not in body


@pytest.mark.anyio
async def test_an_enable_search_that_is_not_a_boolean_is_refused_before_sending(
    server: ReplayServer, adapter: AlibabaAdapter, client_for: ClientFor, make_request: Request
) -> None:
    request = make_request(provider_kwargs={"alibaba": {"enable_search": "yes"}})
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(adapter, request), request)
    assert info.value.error_type == "invalid_request_error"
    assert "enable_search must be true or false" in info.value.message
    assert server.requests == []


@pytest.mark.anyio
async def test_an_unknown_alibaba_option_is_refused_naming_the_accepted_ones(
    server: ReplayServer, adapter: AlibabaAdapter, client_for: ClientFor, make_request: Request
) -> None:
    request = make_request(provider_kwargs={"alibaba": {"service_tier": "flex"}})
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(adapter, request), request)
    assert info.value.error_type == "invalid_request_error"
    assert "'service_tier'" in info.value.message and "base_url, enable_search" in info.value.message
    assert server.requests == []


@pytest.mark.anyio
async def test_openai_options_do_not_apply_to_alibaba(
    server: ReplayServer, enqueue: Enqueue, adapter: AlibabaAdapter, client_for: ClientFor, make_request: Request
) -> None:
    request = make_request(provider_kwargs={"openai": {"service_tier": "flex", "reasoning_effort": "high"}})
    body = await sent_body(server, enqueue, adapter, client_for, request)
    assert "service_tier" not in body and "reasoning_effort" not in body


@pytest.mark.anyio
async def test_a_non_streaming_call_turns_thinking_off(
    server: ReplayServer, enqueue: Enqueue, adapter: AlibabaAdapter, client_for: ClientFor, make_request: Request
) -> None:
    body = await sent_body(server, enqueue, adapter, client_for, make_request(model="qwen3-32b"))
    assert body["enable_thinking"] is False


@pytest.mark.anyio
async def test_a_stream_leaves_thinking_to_the_model(
    server: ReplayServer, enqueue: Enqueue, adapter: AlibabaAdapter, client_for: ClientFor, make_request: Request
) -> None:
    enqueue("chat_stream_text.yaml")
    request = make_request(model="qwen3-32b")
    result = await collect(adapter, client_for(adapter, request), request)
    assert result.text == '"This is a test."'
    body = server.requests[-1].json()
    assert "enable_thinking" not in body
    assert body["stream_options"] == {"include_usage": True}


@pytest.mark.anyio
async def test_structured_output_turns_thinking_off_even_when_streaming(
    server: ReplayServer, enqueue: Enqueue, adapter: AlibabaAdapter, client_for: ClientFor, make_request: Request
) -> None:
    enqueue("chat_stream_text.yaml")
    request = make_request(response_schema={"type": "object", "properties": {"a": {"type": "string"}}})
    await collect(adapter, client_for(adapter, request), request)
    assert server.requests[-1].json()["enable_thinking"] is False


@pytest.mark.anyio
async def test_max_tokens_goes_out_as_max_completion_tokens(
    server: ReplayServer, enqueue: Enqueue, adapter: AlibabaAdapter, client_for: ClientFor, make_request: Request
) -> None:
    body = await sent_body(server, enqueue, adapter, client_for, make_request(max_tokens=128))
    assert body["max_completion_tokens"] == 128 and "max_tokens" not in body


@pytest.mark.anyio
async def test_response_schema_references_are_inlined_for_qwen(
    server: ReplayServer, enqueue: Enqueue, adapter: AlibabaAdapter, client_for: ClientFor, make_request: Request
) -> None:
    enqueue("chat_structured_output.yaml", only=[1])
    request = make_request(response_schema=ADDRESS_SCHEMA)
    completion = await adapter.complete(client_for(adapter, request), request)
    assert json.loads(completion.message.content or "") == {"city": "Mexico City", "country": "Mexico"}
    response_format = server.requests[-1].json()["response_format"]
    assert response_format["type"] == "json_schema" and response_format["json_schema"]["strict"] is True
    schema = response_format["json_schema"]["schema"]
    assert "$ref" not in json.dumps(schema) and "$defs" not in schema
    assert schema["properties"]["home"] == ADDRESS_SCHEMA["$defs"]["address"]  # type: ignore[index]
    # Qwen's target inlines references and nothing more: optional stays optional.
    assert schema["required"] == ["home"]


@pytest.mark.anyio
async def test_tool_parameter_references_are_inlined_for_qwen(
    server: ReplayServer, enqueue: Enqueue, adapter: AlibabaAdapter, client_for: ClientFor, make_request: Request
) -> None:
    tool = ToolDefinition(
        type="function",
        function=FunctionDefinition(name="save_addresses", description="Save", parameters=ADDRESS_SCHEMA, strict=True),
    )
    body = await sent_body(
        server, enqueue, adapter, client_for, make_request(tools=[tool], tool_choice="save_addresses")
    )
    function = body["tools"][0]["function"]
    assert "$ref" not in json.dumps(function["parameters"]) and "$defs" not in function["parameters"]
    assert function["strict"] is True
    assert body["tool_choice"] == {"type": "function", "function": {"name": "save_addresses"}}


async def events_of(adapter: AlibabaAdapter, client: Any, request: ProviderRequest) -> list[StreamEvent]:
    stream = adapter.stream(client, request)
    try:
        return [event async for event in stream]
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_qwen_thinking_is_streamed_apart_from_the_answer_and_counted(
    server: ReplayServer, adapter: AlibabaAdapter, client_for: ClientFor, make_request: Request, sse_stream: Any
) -> None:
    # DashScope streams a thinking model's reasoning as delta.reasoning_content, then the answer.
    usage = {
        "prompt_tokens": 12,
        "completion_tokens": 40,
        "total_tokens": 52,
        "completion_tokens_details": {"reasoning_tokens": 31},
        "prompt_tokens_details": {"cached_tokens": 8},
    }
    server.enqueue_sse(
        sse_stream(
            {"role": "assistant", "content": "", "reasoning_content": "The user greets me."},
            {"content": "", "reasoning_content": " I greet back."},
            {"content": "Hello!"},
            usage=usage,
        )
    )
    request = make_request(model="qwen3-32b")
    events = await events_of(adapter, client_for(adapter, request), request)
    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == ["The user greets me.", " I greet back."]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hello!"]
    server.enqueue_sse(sse_stream({"content": "Hello!"}, usage=usage))
    result = await collect(adapter, client_for(adapter, request), request)
    normalized = adapter.normalize_usage(result.usage)
    assert (normalized.reasoning_tokens, normalized.cached_input_tokens) == (31, 8)
    assert result.text == "Hello!"
