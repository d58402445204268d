"""What the adapter makes of Gemini's answers: text, reasoning, tool calls, finish reasons, usage."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from completions_google.response import normalize_usage

from completions_core.adapter import Finish, MessageExtras, ReasoningDelta, TextDelta, ToolCallDone, UsageEvent
from completions_core.errors import ProviderError

from .conftest import collect, load, make_request

GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent"
STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"


def _event(payload: dict[str, Any]) -> str:
    # Gemini's SSE framing: one JSON object per "data:" line, events separated by CRLF CRLF.
    return "data: " + json.dumps(payload) + "\r\n\r\n"


def _chunk(parts: list[dict[str, Any]] | None = None, finish: str | None = None, **usage: int) -> str:
    candidate: dict[str, Any] = {"index": 0}
    if parts is not None:
        candidate["content"] = {"parts": parts, "role": "model"}
    if finish is not None:
        candidate["finishReason"] = finish
    body: dict[str, Any] = {"candidates": [candidate], "modelVersion": "gemini-2.5-flash"}
    if usage:
        body["usageMetadata"] = usage
    return _event(body)


@pytest.mark.anyio
async def test_thought_parts_are_reasoning_never_content(server, adapter, client) -> None:
    cassette = load("stream_thinking.yaml")
    server.enqueue_cassette(cassette, path=STREAM)
    result, events = await collect(adapter, client, make_request())
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert reasoning.startswith("**Clarifying User Goals**")
    assert "Clarifying User Goals" not in result.text
    assert result.text.startswith("This is a great question! Safely crossing the street")
    assert result.response.finish_reason == "stop"
    # The signature rode on the first answer text part: it is kept on the message.
    recorded = [json.loads(e[len("data: "):]) for e in cassette[0].response.sse_events()]
    signature = next(
        p["thoughtSignature"] for c in recorded for p in c["candidates"][0]["content"]["parts"] if "thoughtSignature" in p
    )
    assert result.response.message.thought_signature == base64.b64decode(signature)


@pytest.mark.anyio
async def test_each_text_part_is_yielded_as_it_arrives(server, adapter, client) -> None:
    server.enqueue_cassette(load("stream_text.yaml"), path=STREAM)
    _, events = await collect(adapter, client, make_request())
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["The", " capital of France", " is Paris.\n"]


@pytest.mark.anyio
async def test_stream_usage_is_the_last_chunks(server, adapter, client) -> None:
    # stream_text's promptTokenCount is 15 in the first chunks and 13 in the last one.
    server.enqueue_cassette(load("stream_text.yaml"), path=STREAM)
    result, events = await collect(adapter, client, make_request())
    usage_events = [e for e in events if isinstance(e, UsageEvent)]
    assert len(usage_events) == 1
    assert result.usage is not None
    assert result.usage["prompt_token_count"] == 13 and result.usage["candidates_token_count"] == 8
    assert normalize_usage(result.usage).input_tokens == 13


@pytest.mark.anyio
async def test_cached_content_tokens_are_reported(server, adapter, client) -> None:
    server.enqueue_cassette(load("generate_cached_content.yaml"), path=GENERATE)
    completion = await adapter.complete(client, make_request())
    assert completion.message.content == "Paris."
    assert completion.usage is not None and completion.usage["cached_content_token_count"] == 3512
    usage = normalize_usage(completion.usage)
    assert (usage.input_tokens, usage.cached_input_tokens) == (3520, 3512)
    assert (usage.output_tokens, usage.reasoning_tokens) == (2 + 42, 42)


@pytest.mark.anyio
async def test_usage_is_json_ready_snake_case(server, adapter, client) -> None:
    server.enqueue_cassette(load("generate_text.yaml"), path=GENERATE)
    completion = await adapter.complete(client, make_request())
    assert completion.usage == {
        "candidates_token_count": 9,
        "prompt_token_count": 9,
        "prompt_tokens_details": [{"modality": "TEXT", "token_count": 9}],
        "thoughts_token_count": 34,
        "total_token_count": 52,
    }
    json.dumps(completion.usage)


@pytest.mark.anyio
async def test_a_safety_stop_mid_stream_is_a_content_filter_with_the_reason_kept(server, adapter, client) -> None:
    server.enqueue_sse(
        [
            _chunk([{"text": "Here is how"}], promptTokenCount=12, totalTokenCount=12),
            # Documented: when a stream is blocked for safety, the candidate comes without content.
            _event(
                {
                    "candidates": [
                        {
                            "finishReason": "SAFETY",
                            "index": 0,
                            "safetyRatings": [
                                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}
                            ],
                        }
                    ],
                    "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 3, "totalTokenCount": 15},
                    "modelVersion": "gemini-2.5-flash",
                }
            ),
        ],
        path=STREAM,
    )
    result, events = await collect(adapter, client, make_request())
    assert result.text == "Here is how"
    assert result.response.finish_reason == "content_filter"
    assert [e for e in events if isinstance(e, Finish)] == [Finish("content_filter", "SAFETY")]


@pytest.mark.parametrize("native", ["RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"])
@pytest.mark.anyio
async def test_filtered_finish_reasons_are_content_filter(server, adapter, client, native) -> None:
    server.enqueue_sse([_chunk([{"text": "Once upon"}]), _chunk(None, native, promptTokenCount=3)], path=STREAM)
    _, events = await collect(adapter, client, make_request())
    assert [e for e in events if isinstance(e, Finish)] == [Finish("content_filter", native)]


@pytest.mark.anyio
async def test_max_tokens_is_length(server, adapter, client) -> None:
    server.enqueue_sse([_chunk([{"text": "A long"}]), _chunk([{"text": ""}], "MAX_TOKENS")], path=STREAM)
    result, events = await collect(adapter, client, make_request(max_tokens=2))
    assert result.response.finish_reason == "length"
    assert [e for e in events if isinstance(e, Finish)] == [Finish("length", "MAX_TOKENS")]


@pytest.mark.anyio
async def test_a_blocked_prompt_is_a_content_filter_without_content(server, adapter, client) -> None:
    blocked = {
        "promptFeedback": {
            "blockReason": "PROHIBITED_CONTENT",
            "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH"}],
        },
        "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
        "modelVersion": "gemini-2.5-flash",
    }
    server.enqueue_json(200, blocked, path=GENERATE)
    completion = await adapter.complete(client, make_request())
    assert (completion.finish_reason, completion.native_finish_reason) == ("content_filter", "PROHIBITED_CONTENT")
    assert completion.message.content is None and completion.usage == {"prompt_token_count": 8, "total_token_count": 8}

    server.enqueue_sse([_event(blocked)], path=STREAM)
    result, events = await collect(adapter, client, make_request())
    assert result.text == "" and result.response.finish_reason == "content_filter"
    assert [e for e in events if isinstance(e, Finish)] == [Finish("content_filter", "PROHIBITED_CONTENT")]


@pytest.mark.anyio
async def test_a_stream_that_ends_without_a_finish_reason_is_an_invalid_response(server, adapter, client) -> None:
    server.enqueue_sse([_chunk([{"text": "The"}]), _chunk([{"text": " capital"}])], path=STREAM)
    with pytest.raises(ProviderError) as info:
        await collect(adapter, client, make_request())
    assert info.value.error_type == "invalid_response_error" and info.value.retryable


@pytest.mark.anyio
async def test_streamed_function_calls_arrive_whole_with_generated_ids(server, adapter, client) -> None:
    server.enqueue_cassette(load("stream_function_call_thought_signature.yaml"), only=[0], path=STREAM)
    result, events = await collect(adapter, client, make_request())
    done = [e for e in events if isinstance(e, ToolCallDone)]
    assert len(done) == 1 and done[0].tool_call.function.name == "get_country"
    assert done[0].tool_call.id.startswith("call_")
    assert result.response.finish_reason == "tool_calls"
    assert result.response.message.tool_calls == [done[0].tool_call]
    # Usage: the recording's thinking tokens count as output.
    assert normalize_usage(result.usage).reasoning_tokens == 202


@pytest.mark.anyio
async def test_an_id_gemini_gives_a_function_call_is_kept(server, adapter, client) -> None:
    part = {"functionCall": {"id": "fc-7b2", "name": "get_weather", "args": {"city": "Paris"}}}
    server.enqueue_sse([_chunk([part]), _chunk([{"text": ""}], "STOP", promptTokenCount=5)], path=STREAM)
    result, _ = await collect(adapter, client, make_request())
    calls = result.response.message.tool_calls or []
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [("fc-7b2", "get_weather", {"city": "Paris"})]


@pytest.mark.anyio
async def test_text_part_signatures_are_message_extras(server, adapter, client) -> None:
    signature = base64.b64encode(b"\x01sig-bytes\xff").decode()
    server.enqueue_sse(
        [_chunk([{"text": "Paris", "thoughtSignature": signature}]), _chunk([{"text": ""}], "STOP")], path=STREAM
    )
    result, events = await collect(adapter, client, make_request())
    assert [e for e in events if isinstance(e, MessageExtras)] == [MessageExtras(thought_signature=b"\x01sig-bytes\xff")]
    assert result.response.message.thought_signature == b"\x01sig-bytes\xff"


@pytest.mark.anyio
async def test_non_streamed_function_calls_keep_their_signatures(server, adapter, client) -> None:
    cassette = load("function_call_thought_signature.yaml")
    server.enqueue_cassette(cassette, only=[0], path=GENERATE)
    completion = await adapter.complete(client, make_request())
    recorded = cassette[0].response.json()["candidates"][0]["content"]["parts"][0]
    calls = completion.message.tool_calls or []
    assert [(c.function.name, c.function.arguments) for c in calls] == [("get_capital", {"country": "France"})]
    assert calls[0].thought_signature == base64.b64decode(recorded["thoughtSignature"])
    assert calls[0].id.startswith("call_") and calls[0].index == 0
    assert completion.finish_reason == "tool_calls" and completion.native_finish_reason == "STOP"
    assert completion.message.content is None


@pytest.mark.anyio
async def test_structured_output_text_is_the_json(server, adapter, client) -> None:
    server.enqueue_cassette(load("structured_output_response_schema.yaml"), path=GENERATE)
    completion = await adapter.complete(
        client, make_request(response_schema={"type": "object", "properties": {"result": {"type": "object"}}})
    )
    assert json.loads(completion.message.content or "") == {
        "result": {"kind": "CountryLanguage", "data": {"country": "Mexico", "language": "Spanish"}}
    }


@pytest.mark.anyio
async def test_non_streamed_tool_loop_without_signatures(server, adapter, client) -> None:
    from completions_core.types import FunctionDefinition, ToolDefinition, ToolResultMessage, UserMessage

    server.enqueue_cassette(load("function_call.yaml"), path=GENERATE)
    tools = [
        ToolDefinition("function", FunctionDefinition("get_user_country", "", {"type": "object", "properties": {}})),
        ToolDefinition(
            "function",
            FunctionDefinition(
                "final_result",
                "The final response which ends this conversation",
                {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
                    "required": ["city", "country"],
                },
            ),
        ),
    ]
    question = UserMessage("What is the largest city in the user country?")
    first = await adapter.complete(client, make_request(messages=[question], tools=tools, tool_choice="required"))
    (call,) = first.message.tool_calls or []
    assert (call.function.name, call.function.arguments, call.thought_signature) == ("get_user_country", {}, None)
    result = ToolResultMessage(tool_call_id=call.id, content={"return_value": "Mexico"})
    second = await adapter.complete(
        client, make_request(messages=[question, first.message, result], tools=tools, tool_choice="required")
    )
    assert [(c.function.name, c.function.arguments) for c in second.message.tool_calls or []] == [
        ("final_result", {"city": "Mexico City", "country": "Mexico"})
    ]
    server.assert_all_used()
    sent = server.requests[-1].json()
    assert sent["contents"][2]["parts"][0]["functionResponse"] == {
        "id": call.id,
        "name": "get_user_country",
        "response": {"return_value": "Mexico"},
    }
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}


# google-genai warns (UserWarning) when it meets an enum value it does not know yet.
@pytest.mark.filterwarnings("ignore:SOMETHING_NEW is not a valid FinishReason:UserWarning")
@pytest.mark.anyio
async def test_an_unknown_finish_reason_is_stop_with_the_native_reason_kept(server, adapter, client) -> None:
    server.enqueue_sse([_chunk([{"text": "Hi"}]), _chunk([{"text": ""}], "SOMETHING_NEW")], path=STREAM)
    result, events = await collect(adapter, client, make_request())
    assert result.text == "Hi" and result.response.finish_reason == "stop"
    assert [e for e in events if isinstance(e, Finish)] == [Finish("stop", "SOMETHING_NEW")]
