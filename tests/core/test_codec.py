"""The wire codec: round trips, tolerance of dicts, strictness about everything else."""

from __future__ import annotations

import dataclasses
import string

import pytest

from completions_core.codec import (
    chunk_from_wire,
    chunk_to_wire,
    decode_request,
    deserialize_conversation,
    request_to_wire,
    serialize_conversation,
    stream_options_from_wire,
)
from completions_core.errors import InvalidRequestError
from completions_core.request import RetryPolicy
from completions_core.types import (
    AssistantMessage,
    CacheBreakpoint,
    ChatCompletionResponse,
    CompletionsProvider,
    ContentDeltaChunk,
    ErrorChunk,
    FallbackRequest,
    FinalResponseChunk,
    FunctionCall,
    RetryConfiguration,
    SystemMessage,
    ToolCall,
    ToolCallChunk,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
    new_vr_id,
)


def _conversation() -> list:  # type: ignore[type-arg]
    return [
        SystemMessage("Be brief.", cache_breakpoint=CacheBreakpoint("1h")),
        UserMessage("Weather?", name="alice"),
        AssistantMessage(
            content=None,
            tool_calls=[
                ToolCall(
                    id="c1",
                    type="function",
                    function=FunctionCall("get_weather", {"city": "Paris", "days": [1, 2]}),
                    index=0,
                    thought_signature=b"\x00\xffsig\x10",
                )
            ],
            thought_signature=bytes(range(256)),
            provider_state={"anthropic": {"thinking": [{"type": "thinking", "signature": "abc"}]}},
        ),
        ToolResultMessage(tool_call_id="c1", content={"temp": 21.5}, name="get_weather"),
    ]


def test_serialize_then_deserialize_is_lossless_with_ids_and_signature_bytes() -> None:
    conversation = _conversation()
    restored = deserialize_conversation(serialize_conversation(conversation))
    assert restored == conversation
    assert [m.vr_id for m in restored] == [m.vr_id for m in conversation]
    assert restored[2].thought_signature == bytes(range(256))  # type: ignore[union-attr]


def test_serialized_conversation_is_plain_json() -> None:
    import json

    data = serialize_conversation(_conversation())
    assert json.loads(json.dumps(data)) == data
    assert data[0] == {"role": "system", "content": "Be brief.", "vr_id": data[0]["vr_id"], "cache_breakpoint": {"ttl": "1h"}}


def test_vr_id_is_eight_characters_and_unique() -> None:
    ids = {UserMessage("x").vr_id for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 8 and i.isalnum() for i in ids)


def test_vr_id_uses_all_62_characters_at_every_position() -> None:
    alphabet = set(string.ascii_letters + string.digits)
    ids = [new_vr_id() for _ in range(3000)]
    for position in range(8):
        # 3000 draws of 62 equally likely characters: a missing one has probability < 1e-20.
        assert {i[position] for i in ids} == alphabet


def test_url_safe_base64_signature_is_accepted() -> None:
    data = serialize_conversation([AssistantMessage(content="x", thought_signature=b"\xfb\xff\xfe")])
    assert data[0]["thought_signature"] == "+//+"
    data[0]["thought_signature"] = "-__-"
    assert deserialize_conversation(data)[0].thought_signature == b"\xfb\xff\xfe"  # type: ignore[union-attr]


def test_dict_messages_and_dataclasses_mix_in_one_request() -> None:
    requests = decode_request(
        {
            "provider": CompletionsProvider.ANTHROPIC,
            "model": "claude-haiku-4-5",
            "messages": [{"role": "user", "content": "hi"}, AssistantMessage(content="hello")],
            "tools": [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}}],
            "retry": {"max_retries": 1},
            "fallbacks": [{"provider": "openai", "model": "gpt-4o-mini"}, FallbackRequest(model="x")],
        }
    )
    request = requests[0]
    assert isinstance(request.messages[0], UserMessage)
    assert isinstance(request.tools[0], ToolDefinition)
    assert request.retry == RetryPolicy(max_retries=1)
    assert request.provider == "anthropic" and type(request.provider) is str
    # The second fallback sets no provider: it inherits the primary's.
    assert [f.provider for f in requests[1:]] == ["openai", "anthropic"]
    assert [f.model for f in requests[1:]] == ["gpt-4o-mini", "x"]
    again = decode_request(request_to_wire(requests))
    assert again == requests


@pytest.mark.parametrize(
    ("body", "path", "fragment"),
    [
        ({"model": "m", "messages": [{"role": "user", "content": "x"}]}, "provider", "is required"),
        ({"provider": "openai", "model": "m", "messages": []}, "messages", "at least one"),
        ({"provider": "openai", "model": "m", "messages": [{"role": "bot", "content": "x"}]}, "messages[0].role", "unknown role"),
        ({"provider": "openai", "model": "m", "messages": [{"role": "user", "content": 3}]}, "messages[0].content", "expected a string"),
        ({"provider": "openai", "model": "m", "messages": [{"role": ["user"], "content": "x"}]}, "messages[0].role", "unknown role"),
        ({"provider": "openai", "model": "m", "messages": [{"role": "user", "content": "x", "colour": 1}]}, "messages[0].colour", "unknown field"),
        ({"provider": "openai", "model": "m", "messages": [{"role": "user", "content": "x"}], "temprature": 1}, "temprature", "unknown field"),
        ({"provider": "openai", "model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "temperature", "finite number"),
        ({"provider": "openai", "model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens", ">= 1"),
        ({"provider": "openai", "model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "nope", "tools": []}, "tool_choice", "neither"),
        ({"provider": "openai", "model": "m", "messages": [{"role": "user", "content": "x"}], "retry": {"max_retries": -1}}, "retry.max_retries", ">= 0"),
        ({"provider": "openai", "model": "m", "messages": [{"role": "user", "content": "x"}], "fallbacks": [{"modle": "x"}]}, "fallbacks[0].modle", "unknown field"),
        ({"provider": "openai", "model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": "{bad"}}]}]}, "messages[0].tool_calls[0].function.arguments", "not valid JSON"),
        ({"provider": "openai", "model": "m", "messages": [{"role": "system", "content": "x", "cache_breakpoint": {"ttl": "2h"}}]}, "messages[0].cache_breakpoint.ttl", "'5m' or '1h'"),
    ],
)
def test_invalid_requests_name_the_path(body: dict, path: str, fragment: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidRequestError) as info:
        decode_request(body)
    assert info.value.path == path
    assert fragment in info.value.message


def test_api_key_field_gets_a_hint_about_configure_provider() -> None:
    with pytest.raises(InvalidRequestError, match="configure_provider"):
        decode_request({"provider": "openai", "model": "m", "messages": [{"role": "user", "content": "x"}], "api_key": "k"})


def test_tool_result_with_text_content_is_wrapped() -> None:
    (request,) = decode_request(
        {"provider": "p", "model": "m", "messages": [{"role": "tool", "tool_call_id": "1", "content": "sunny"}]}
    )
    assert request.messages[0].content == {"result": "sunny"}  # type: ignore[union-attr]


def test_stream_options_defaults_and_deprecated_alias() -> None:
    options, deprecated = stream_options_from_wire(None)
    assert (options.chunk_by_sentence, options.clean_sentences, options.min_sentence_length) == (False, True, 6)
    assert not deprecated
    options, deprecated = stream_options_from_wire({"stream_sentences": True})
    assert options.chunk_by_sentence and deprecated
    with pytest.raises(InvalidRequestError, match="unsupported language 'pt'"):
        stream_options_from_wire({"punctuation_language": "pt"})


def test_chunks_round_trip_through_the_wire() -> None:
    call = ToolCall(id="c", type="function", function=FunctionCall("f", {"a": 1}), index=0)
    response = ChatCompletionResponse(message=AssistantMessage(content="hi"), finish_reason="stop", provider="openai")
    for chunk in [ContentDeltaChunk("x"), ToolCallChunk(call), ErrorChunk("boom", "provider_error"), FinalResponseChunk(response)]:
        back = chunk_from_wire(chunk_to_wire(chunk))
        assert back is not None and back.type == chunk.type
        if not isinstance(chunk, FinalResponseChunk):
            assert back == chunk
    final = chunk_from_wire(chunk_to_wire(FinalResponseChunk(response)))
    assert final.response.message.content == "hi"  # type: ignore[union-attr]
    assert chunk_from_wire({"type": "keepalive"}) is None


def test_every_documented_type_has_the_documented_defaults() -> None:
    from completions_core.types import ChatCompletionRequest, StreamOptions

    defaults = {f.name: f.default for f in dataclasses.fields(ChatCompletionRequest) if f.default is not dataclasses.MISSING}
    assert defaults == dict.fromkeys(
        ["temperature", "tools", "tool_choice", "timeout", "max_tokens", "response_schema", "retry", "fallbacks", "provider_kwargs"]
    )
    assert RetryConfiguration() == RetryConfiguration(True, 3, 1.0, 2.0)
    assert StreamOptions() == StreamOptions(False, True, 6, None, None)
    assert CacheBreakpoint().ttl == "5m"
    assert CompletionsProvider.ANTHROPIC == "anthropic"
    assert [c.type for c in (ContentDeltaChunk("x"), ErrorChunk("e", "t"))] == ["content_delta", "error"]


def _nested(depth: int) -> dict:  # type: ignore[type-arg]
    node: dict = {}  # type: ignore[type-arg]
    root = node
    for _ in range(depth):
        node["a"] = {}
        node = node["a"]
    return root


@pytest.mark.parametrize(
    ("body", "limit"),
    [
        ({"messages": [{"role": "user", "content": "x"}] * 1001}, "max_messages"),
        ({"tools": [{"type": "function", "function": {"name": f"t{i}", "description": "", "parameters": {}}} for i in range(129)]}, "max_tools"),
        ({"fallbacks": [{"model": "x"}] * 9}, "max_fallbacks"),
        ({"messages": [{"role": "user", "content": "x" * 1_000_001}]}, "max_string_chars"),
        ({"response_schema": _nested(40)}, "max_depth"),
        ({"provider_kwargs": {"openai": {"k": list(range(25_000))}}}, "max_json_nodes"),
        ({"messages": [{"role": "tool", "tool_call_id": "1", "content": {"d": "y" * 1_000_001}}]}, "max_string_chars"),
    ],
)
def test_each_exceeded_limit_is_a_400_that_names_the_limit(body: dict, limit: str) -> None:  # type: ignore[type-arg]
    request = {"provider": "openai", "model": "m", "messages": [{"role": "user", "content": "x"}], **body}
    with pytest.raises(InvalidRequestError) as info:
        decode_request(request)
    assert limit in info.value.message
    assert info.value.status_code == 400


def test_hostile_nesting_does_not_exhaust_the_stack() -> None:
    deep: dict = {}  # type: ignore[type-arg]
    node = deep
    for _ in range(100_000):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(InvalidRequestError, match="max_depth"):
        decode_request({"provider": "p", "model": "m", "messages": [{"role": "user", "content": "x"}], "response_schema": deep})


def test_plain_dicts_other_mappings_and_dataclasses_decode_alike() -> None:
    from collections import OrderedDict
    from types import MappingProxyType

    wire = {"provider": "openai", "model": "m", "retry": {"max_retries": 2},
            "messages": [{"role": "user", "content": "hi"}], "fallbacks": [{"model": "n"}]}

    def as_other(value: object) -> object:  # every object level as a Mapping that is not a dict
        if isinstance(value, dict):
            return MappingProxyType(OrderedDict((k, as_other(v)) for k, v in value.items()))
        if isinstance(value, list):
            return [as_other(v) for v in value]
        return value

    plain, other = decode_request(wire, wire=True), decode_request(as_other(wire), wire=True)
    assert [(r.provider, r.model, r.retry) for r in plain] == [(r.provider, r.model, r.retry) for r in other]
    assert plain[0].retry == RetryPolicy(max_retries=2)
    assert [m.content for m in plain[0].messages] == [m.content for m in other[0].messages] == ["hi"]
    with pytest.raises(InvalidRequestError, match=r"expected .* \(an object\), got an array") as caught:
        decode_request({**wire, "retry": [1]}, wire=True)
    assert caught.value.path == "retry"
