"""Streams sent without google-genai's streaming call: the same request on the wire (path, query,
headers, body) as ``client.aio.models.generate_content_stream``, the same failures, and the same
answer read from the raw body."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from completions_google import GoogleAdapter, GoogleClient
from completions_google.errors import map_error
from completions_google.request import build_request
from completions_google.sending import request_body, stream_request

from completions_core.adapter import Credential, MessageExtras, ReasoningDelta, TextDelta, ToolCallDone
from completions_core.errors import ProviderError
from completions_core.redaction import Secret
from completions_core.request import ProviderRequest
from completions_core.testing.replay import ReplayServer
from completions_core.testing.replies import Stream, refusing_port
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

from .conftest import KEY, collect, load, make_request

pytestmark = pytest.mark.anyio

STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"

_WEATHER = ToolDefinition(
    type="function",
    function=FunctionDefinition(
        name="get_weather",
        description="The weather in a city",
        parameters={
            "type": "object",
            "properties": {
                "city": {"type": "string", "enum": ["Paris", "Oslo"]},
                "days": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                "hours": {"type": "array", "items": {"type": "number"}},
            },
            "required": ["city"],
        },
    ),
)
_NO_ARGS = ToolDefinition(type="function", function=FunctionDefinition(name="now", description="", parameters={}))
_HISTORY = [
    SystemMessage("Be brief."),
    SystemMessage("Answer in English."),
    UserMessage("Weather in Paris?"),
    AssistantMessage(
        content="Let me look.",
        thought_signature=b"\xfb\xff\x00text-signature",
        tool_calls=[
            ToolCall(
                id="call_1",
                type="function",
                function=FunctionCall(name="get_weather", arguments={"city": "Paris", "days": None}),
                index=0,
                thought_signature=b"\xff\xfe\xfdcall-signature",
            )
        ],
    ),
    ToolResultMessage(content={"forecast": "sunny", "high": 21.5}, tool_call_id="call_1"),
    UserMessage("And tomorrow?"),
]
_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "score": {"anyOf": [{"type": "number"}, {"type": "null"}]},
        "kind": {"type": "string", "enum": ["a", "b"]},
    },
    "required": ["city", "tags"],
}

REQUESTS: dict[str, dict[str, Any]] = {
    "plain": {},
    "history_and_tools": {
        "messages": _HISTORY,
        "tools": [_WEATHER, _NO_ARGS],
        "tool_choice": "get_weather",
        "temperature": 0.25,
        "max_tokens": 64,
    },
    "tool_choice_required": {"tools": [_WEATHER], "tool_choice": "required"},
    "tool_choice_none": {"tools": [_WEATHER], "tool_choice": "none"},
    "structured_output": {"response_schema": _SCHEMA, "temperature": 0},
    "thinking_snake_case": {"provider_kwargs": {"google": {"thinking_config": {"thinking_budget": 128, "include_thoughts": True}}}},
    "thinking_camel_case": {"provider_kwargs": {"google": {"thinking_config": {"thinkingBudget": 0}}}},
    "own_timeout": {"timeout": 12.5},
    "short_timeout": {"timeout": 0.3},
}


def _stream_events() -> list[str]:
    return [
        'data: {"candidates": [{"content": {"parts": [{"text": "Hel"}], "role": "model"}, "index": 0}]}\r\n\r\n',
        'data: {"candidates": [{"content": {"parts": [{"text": "lo"}], "role": "model"}, "finishReason": "STOP", '
        '"index": 0}], "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}}\r\n\r\n',
    ]


async def _sdk_stream(client: GoogleClient, request: ProviderRequest) -> str:
    call = build_request(request)
    chunks = await client.genai.aio.models.generate_content_stream(model=call.model, contents=call.contents, config=call.config)
    return "".join([chunk.text or "" async for chunk in chunks])


@pytest.fixture(params=["aiohttp", "httpx2"])
async def client(request: pytest.FixtureRequest, adapter: GoogleAdapter, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[GoogleClient]:
    """A client whose streams go through aiohttp (the default) or the SDK's httpx2 client."""
    monkeypatch.setenv("COMPLETIONS_GOOGLE_TRANSPORT", request.param)
    built = adapter.create_client(adapter.client_config(make_request(), Credential("customer", Secret(KEY))))
    assert built.transport == request.param
    yield built
    await adapter.close_client(built)


@pytest.mark.parametrize("name", sorted(REQUESTS))
async def test_the_request_on_the_wire_is_the_sdks(server: ReplayServer, adapter: GoogleAdapter, client: GoogleClient, name: str) -> None:
    request = make_request(**REQUESTS[name])
    server.enqueue_sse(_stream_events(), path=STREAM)
    server.enqueue_sse(_stream_events(), path=STREAM)
    _, events = await collect(adapter, client, request)
    assert "".join(event.text for event in events if isinstance(event, TextDelta)) == await _sdk_stream(client, request)
    ours, sdk = server.requests
    assert (ours.method, ours.path, ours.query) == (sdk.method, sdk.path, sdk.query)
    assert (ours.path, ours.query) == ("/v1beta/models/gemini-2.5-flash:streamGenerateContent", {"alt": "sse"})
    assert ours.json() == sdk.json()
    # The same JSON, encoded compact (the SDK puts spaces after separators): only the length differs;
    # aiohttp leaves out "connection: keep-alive", HTTP/1.1's default.
    ignored = {"content-length", "connection"} if client.transport == "aiohttp" else {"content-length"}
    assert {k: v for k, v in ours.headers.items() if k not in ignored} == {
        k: v for k, v in sdk.headers.items() if k not in ignored
    }
    assert int(ours.headers["content-length"]) == len(ours.body) <= len(sdk.body)
    assert ours.headers["x-goog-api-key"] == KEY


def test_the_body_holds_the_recorded_wire_fields() -> None:
    body = request_body(build_request(make_request(**REQUESTS["history_and_tools"])))
    model_turn = body["contents"][1]
    # As recorded (wire README, gotcha 3): signatures go back URL-safe base64, on their own parts.
    assert model_turn == {
        "role": "model",
        "parts": [
            {"text": "Let me look.", "thoughtSignature": "-_8AdGV4dC1zaWduYXR1cmU="},
            {
                "functionCall": {"id": "call_1", "name": "get_weather", "args": {"city": "Paris", "days": None}},
                "thoughtSignature": "__79Y2FsbC1zaWduYXR1cmU=",
            },
        ],
    }
    assert body["systemInstruction"] == {"role": "user", "parts": [{"text": "Be brief.\n\nAnswer in English."}]}
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
    assert body["generationConfig"] == {"temperature": 0.25, "maxOutputTokens": 64}


async def test_the_recorded_signature_conversation_matches_the_recording(server: ReplayServer, adapter: GoogleAdapter, client: GoogleClient) -> None:
    cassette = load("stream_function_call_thought_signature.yaml")
    recorded = cassette[0].request
    server.enqueue_cassette(cassette)
    contents = recorded.json()["contents"]
    assert [content["role"] for content in contents] == ["user"]
    request = make_request(model=recorded.path.split("/models/")[1].split(":")[0], messages=[UserMessage(contents[0]["parts"][0]["text"])])
    _, events = await collect(adapter, client, request)
    sent = server.requests[0]
    assert sent.json()["contents"] == contents
    calls = [event.tool_call for event in events if isinstance(event, ToolCallDone)]
    assert calls and all(call.thought_signature for call in calls)


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (400, {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
                         "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]}}, None),
        (429, {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED",
                         "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "34s"}]}}, None),
        (503, {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}, {"retry-after": "7"}),
        (404, "<html>not found</html>", None),
    ],
)
async def test_a_failed_status_maps_as_through_the_sdk(
    server: ReplayServer, adapter: GoogleAdapter, client: GoogleClient, status: int, body: Any, headers: Any
) -> None:
    for _ in range(2):
        if isinstance(body, str):
            server.enqueue_sse(body, status=status, headers=headers, path=STREAM)
        else:
            server.enqueue_json(status, body, headers=headers, path=STREAM)
    with pytest.raises(ProviderError) as ours:
        await collect(adapter, client, make_request())
    with pytest.raises(Exception) as raw:
        await _sdk_stream(client, make_request())
    sdk = map_error(raw.value, client.api_key)
    assert sdk is not None
    assert (ours.value.error_type, ours.value.status_code, ours.value.retry_after, ours.value.message) == (
        sdk.error_type,
        sdk.status_code,
        sdk.retry_after,
        sdk.message,
    )


async def test_an_unreachable_provider_fails_as_through_the_sdk() -> None:
    with refusing_port() as port:
        adapter = GoogleAdapter(base_url=f"http://127.0.0.1:{port}")
        request = make_request()
        client = adapter.create_client(adapter.client_config(request, Credential("customer", Secret(KEY))))
        try:
            with pytest.raises(ProviderError) as ours:
                await collect(adapter, client, request)
            with pytest.raises(Exception) as raw:
                await _sdk_stream(client, request)
        finally:
            await adapter.close_client(client)
    sdk = map_error(raw.value, client.api_key)
    assert sdk is not None and (ours.value.error_type, ours.value.retryable) == (sdk.error_type, sdk.retryable)
    assert ours.value.error_type == "connection_error"


async def test_raw_chunks_give_the_events_the_sdk_parses(server: ReplayServer, adapter: GoogleAdapter, client: GoogleClient) -> None:
    from google.genai import types

    cassette = load("stream_thinking.yaml")
    server.enqueue_cassette(cassette)
    server.enqueue_cassette(cassette)
    request = make_request(model="gemini-2.5-pro", provider_kwargs={"google": {"thinking_config": {"include_thoughts": True}}})
    _, events = await collect(adapter, client, request)
    call = build_request(request)
    chunks: list[types.GenerateContentResponse] = [
        chunk async for chunk in await client.genai.aio.models.generate_content_stream(
            model=call.model, contents=call.contents, config=call.config
        )
    ]
    parts = [part for chunk in chunks for part in (chunk.candidates[0].content.parts or ())]  # type: ignore[index,union-attr]
    expected: list[Any] = []
    for part in parts:
        if part.text:
            expected.append(ReasoningDelta(part.text) if part.thought else TextDelta(part.text))
        if part.thought_signature is not None:
            expected.append(MessageExtras(thought_signature=part.thought_signature))
    assert [event for event in events if isinstance(event, (TextDelta, ReasoningDelta, MessageExtras))] == expected
    assert any(isinstance(event, ReasoningDelta) for event in expected)
    usage = chunks[-1].usage_metadata
    assert usage is not None and events[-1].usage == usage.model_dump(exclude_none=True, mode="json")


async def test_the_key_is_in_no_repr_of_the_request(client: GoogleClient) -> None:
    sent = stream_request(client, build_request(make_request()))
    assert KEY not in repr(sent) and KEY not in repr(client) and KEY not in str(sent.url)


async def test_an_upstream_silent_mid_stream_times_out(server: ReplayServer, adapter: GoogleAdapter, client: GoogleClient) -> None:
    # The request's timeout is the longest wait for the next bytes (on aiohttp: its read timer);
    # then the upstream hangs for good.
    server.enqueue(Stream(_stream_events()).then_hang(after_events=1), path=STREAM)
    texts: list[str] = []
    with pytest.raises(ProviderError) as info:
        async for event in adapter.stream(client, make_request(timeout=0.2)):
            if isinstance(event, TextDelta):
                texts.append(event.text)
    await server.wait_for_disconnects(1)  # the silent connection was dropped
    assert info.value.error_type == "timeout_error" and info.value.retryable
    assert texts == ["Hel"]
