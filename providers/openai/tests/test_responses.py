"""What the adapter makes of OpenAI's answers: messages, tool calls, finish reasons, usage, streams."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from completions_openai import OpenAIAdapter

from completions_core.adapter import Finish, ReasoningDelta, StreamEvent, TextDelta, ToolCallDelta, UsageEvent
from completions_core.errors import ProviderError
from completions_core.request import ProviderRequest
from completions_core.testing.cassettes import Cassette
from completions_core.testing.contract import collect
from completions_core.testing.replay import ReplayServer, Stream
from completions_core.usage import chat_completions_usage as normalize_usage

Request = Callable[..., ProviderRequest]
ClientFor = Callable[[OpenAIAdapter, ProviderRequest], Any]


def completion_body(message: dict[str, Any], finish_reason: str) -> dict[str, Any]:
    """A chat.completion object in the documented shape."""
    return {
        "id": "chatcmpl-synth",
        "object": "chat.completion",
        "created": 1731368630,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
    }


async def events_of(adapter: OpenAIAdapter, client: Any, request: ProviderRequest) -> list[StreamEvent]:
    stream = adapter.stream(client, request)
    try:
        return [event async for event in stream]
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_parallel_tool_calls_are_parsed_in_order(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
) -> None:
    server.enqueue_cassette(cassette("chat_tool_calls.yaml"), only=[0])
    request = make_request()
    completion = await adapter.complete(client_for(adapter, request), request)
    calls = completion.message.tool_calls or []
    assert [(c.id, c.function.name, c.function.arguments, c.index) for c in calls] == [
        ("call_JpNb8OiAkbIbHzDggfpdDHpi", "get_current_weather", {"location": "Seattle, WA"}, 0),
        ("call_vaFQc3zK6hHTRZKXRI5Eo2cJ", "get_current_weather", {"location": "San Francisco, CA"}, 1),
    ]
    assert completion.finish_reason == "tool_calls"
    assert completion.message.content is None


@pytest.mark.anyio
async def test_a_compatible_endpoints_empty_tool_call_id_is_replaced(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
) -> None:
    # Gemini's OpenAI-compatible endpoint answers with "id": "".
    server.enqueue_cassette(
        cassette("compat_gemini_openai_tool_call_without_id.yaml"), only=[0], path="/v1/chat/completions"
    )
    request = make_request()
    completion = await adapter.complete(client_for(adapter, request), request)
    (call,) = completion.message.tool_calls or []
    assert call.function.name == "get_current_time" and call.function.arguments == {}
    assert call.id.startswith("call_") and len(call.id) > len("call_")


@pytest.mark.anyio
async def test_a_streamed_tool_call_with_an_empty_id_gets_one(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request, sse_stream: Any
) -> None:
    server.enqueue_sse(
        sse_stream(
            {"tool_calls": [{"index": 0, "id": "", "type": "function", "function": {"name": "now", "arguments": ""}}]},
            {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]},
            finish="tool_calls",
        )
    )
    request = make_request()
    result = await collect(adapter, client_for(adapter, request), request)
    (call,) = result.response.message.tool_calls or []
    assert call.function.name == "now" and call.id.startswith("call_")


@pytest.mark.anyio
async def test_invalid_json_arguments_from_the_model_are_a_clear_error(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request
) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Par'}}
    server.enqueue_json(200, completion_body({"content": None, "tool_calls": [call]}, "tool_calls"))
    request = make_request()
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(adapter, request), request)
    assert info.value.error_type == "invalid_response_error"
    assert "invalid JSON arguments for tool 'get_weather'" in info.value.message
    assert '{"city": "Par' in info.value.message


@pytest.mark.anyio
async def test_arguments_that_are_not_an_object_are_a_clear_error(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request
) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '["Paris"]'}}
    server.enqueue_json(200, completion_body({"content": None, "tool_calls": [call]}, "tool_calls"))
    request = make_request()
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(adapter, request), request)
    assert info.value.error_type == "invalid_response_error"
    assert "not a JSON object" in info.value.message


@pytest.mark.anyio
async def test_invalid_json_arguments_in_a_stream_are_a_clear_error(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request, sse_stream: Any
) -> None:
    server.enqueue_sse(
        sse_stream(
            {
                "tool_calls": [
                    {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
                ]
            },
            {"tool_calls": [{"index": 0, "function": {"arguments": '{"a": tru'}}]},
            finish="tool_calls",
        )
    )
    request = make_request()
    with pytest.raises(ProviderError) as info:
        await collect(adapter, client_for(adapter, request), request)
    assert info.value.error_type == "invalid_response_error"
    assert "invalid JSON arguments for tool 'f'" in info.value.message


@pytest.mark.anyio
async def test_the_legacy_function_call_finish_reason_means_tool_calls(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request
) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    server.enqueue_json(200, completion_body({"content": None, "tool_calls": [call]}, "function_call"))
    request = make_request()
    completion = await adapter.complete(client_for(adapter, request), request)
    assert completion.finish_reason == "tool_calls"
    assert completion.native_finish_reason == "function_call"


@pytest.mark.anyio
async def test_a_stream_cut_by_the_token_limit_finishes_with_length(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request, sse_stream: Any
) -> None:
    server.enqueue_sse(sse_stream({"content": "Once upon"}, {"content": " a time"}, finish="length"))
    request = make_request(max_tokens=4)
    result = await collect(adapter, client_for(adapter, request), request)
    assert result.text == "Once upon a time"
    assert result.response.finish_reason == "length"


@pytest.mark.anyio
async def test_a_filtered_stream_finishes_with_content_filter(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request, sse_stream: Any
) -> None:
    server.enqueue_sse(sse_stream({"content": "I"}, finish="content_filter"))
    request = make_request()
    events = await events_of(adapter, client_for(adapter, request), request)
    finishes = [e for e in events if isinstance(e, Finish)]
    assert finishes == [Finish("content_filter", "content_filter")]


@pytest.mark.anyio
async def test_a_refusal_is_returned_as_text_with_content_filter(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request
) -> None:
    server.enqueue_json(200, completion_body({"content": None, "refusal": "I can't help with that."}, "stop"))
    request = make_request()
    completion = await adapter.complete(client_for(adapter, request), request)
    assert completion.message.content == "I can't help with that."
    assert completion.finish_reason == "content_filter"


@pytest.mark.anyio
async def test_each_provider_text_delta_is_yielded_as_it_comes(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
) -> None:
    server.enqueue_cassette(cassette("chat_stream_text.yaml"))
    request = make_request()
    events = await events_of(adapter, client_for(adapter, request), request)
    assert [e.text for e in events if isinstance(e, TextDelta)] == ['"This', " is", " a", " test", '."']
    assert isinstance(events[-1], UsageEvent) and events[-1].usage["completion_tokens"] == 5
    assert [e for e in events if isinstance(e, Finish)] == [Finish("stop", "stop")]


@pytest.mark.anyio
async def test_tool_call_fragments_are_passed_on_by_index(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
) -> None:
    server.enqueue_cassette(cassette("chat_stream_tool_calls.yaml"))
    request = make_request()
    events = await events_of(adapter, client_for(adapter, request), request)
    fragments = [e for e in events if isinstance(e, ToolCallDelta)]
    assert fragments[0] == ToolCallDelta(index=0, id="call_fHCjJqt9Pysde6vcJcvbXGBx", name="get_current_weather")
    assert {f.index for f in fragments} == {0, 1}
    assert "".join(f.arguments for f in fragments if f.index == 1) == '{"location": "San Francisco, CA"}'
    assert len(fragments) > 4  # arguments arrive in pieces, and stay in pieces


@pytest.mark.anyio
async def test_the_newer_stream_wire_with_obfuscation_and_null_usage_is_read(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
) -> None:
    server.enqueue_cassette(cassette("chat_stream_tool_then_text.yaml"))
    request = make_request()
    first = await collect(adapter, client_for(adapter, request), request)
    second = await collect(adapter, client_for(adapter, request), request)
    (call,) = first.response.message.tool_calls or []
    assert (call.function.name, call.function.arguments) == ("get_capital", {"country": "UK"})
    assert second.text == "The capital of the UK is London."
    assert normalize_usage(second.usage).input_tokens == 78


@pytest.mark.anyio
async def test_reasoning_text_is_kept_apart_from_the_answer(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request, sse_stream: Any
) -> None:
    # OpenAI-compatible endpoints (DashScope, DeepSeek, vLLM) stream thinking as reasoning_content.
    server.enqueue_sse(sse_stream({"reasoning_content": "Let me think."}, {"content": "Hello!"}))
    request = make_request()
    events = await events_of(adapter, client_for(adapter, request), request)
    assert [e for e in events if isinstance(e, ReasoningDelta)] == [ReasoningDelta("Let me think.")]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hello!"]


@pytest.mark.anyio
async def test_prompt_cache_usage_is_normalized(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
) -> None:
    server.enqueue_cassette(cassette("chat_prompt_cache.yaml"))
    request = make_request(model="gpt-5.6-sol")
    client = client_for(adapter, request)
    written = await adapter.complete(client, request)
    read = await adapter.complete(client, request)
    assert written.usage is not None and written.usage["prompt_tokens_details"]["cache_write_tokens"] == 4012
    first, second = normalize_usage(written.usage), normalize_usage(read.usage)
    assert (first.input_tokens, first.cache_write_tokens, first.cached_input_tokens) == (4020, 4012, 0)
    assert (second.input_tokens, second.cached_input_tokens, second.output_tokens) == (4020, 4012, 4)
    server.assert_all_used()


@pytest.mark.anyio
async def test_a_stream_that_ends_without_a_finish_reason_is_an_error(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request, sse_stream: Any
) -> None:
    server.enqueue_sse(sse_stream({"content": "Half a sent"}, finish=None)[:-2])
    request = make_request()
    with pytest.raises(ProviderError) as info:
        await collect(adapter, client_for(adapter, request), request)
    assert info.value.error_type == "invalid_response_error" and info.value.retryable
    assert "no finish reason" in info.value.message


@pytest.mark.anyio
async def test_a_malformed_stream_event_is_an_invalid_response(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request, sse_stream: Any
) -> None:
    events = sse_stream({"content": "Hi"})
    server.enqueue(Stream(events[:2]).with_event('data: {"id": "chatcmpl-synth", "choices": [\n\n'))
    request = make_request()
    received: list[str] = []
    with pytest.raises(ProviderError) as info:
        async for event in adapter.stream(client_for(adapter, request), request):
            if isinstance(event, TextDelta):
                received.append(event.text)
    assert received == ["Hi"]
    assert info.value.error_type == "invalid_response_error"


@pytest.mark.anyio
async def test_an_error_event_inside_a_stream_is_mapped(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request, sse_stream: Any
) -> None:
    error = 'data: {"error": {"message": "The server had an error", "type": "server_error", "code": null}}\n\n'
    server.enqueue(Stream(sse_stream({"content": "Hi"})[:2]).with_event(error))
    request = make_request()
    with pytest.raises(ProviderError) as info:
        await collect(adapter, client_for(adapter, request), request)
    assert (info.value.error_type, info.value.message) == ("provider_error", "The server had an error")
    assert info.value.retryable


@pytest.mark.anyio
async def test_a_connection_reset_mid_stream_is_a_connection_error(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
) -> None:
    server.enqueue(Stream.from_response(cassette("chat_stream_text.yaml")[0].response).then_reset(after_events=3))
    request = make_request()
    with pytest.raises(ProviderError) as info:
        await collect(adapter, client_for(adapter, request), request)
    assert info.value.error_type == "connection_error" and info.value.retryable
