"""The Chat Completions request as the engine sees it: messages, tools, extensions, keys, model map."""

from __future__ import annotations

from typing import Any

import pytest

from completions_core.errors import InvalidRequestError
from completions_core.types import AssistantMessage, SystemMessage, ToolResultMessage, UserMessage
from completions_proxy.app import create_app
from completions_proxy.openai_compat import parse_model_map
from completions_proxy.openai_compat.translate import UnsupportedParameter, translate_request
from completions_proxy.settings import ConfigError, Settings
from tests.helpers import registry

MAP = {"fast": ("anthropic", "claude-haiku-4-5")}


def _translate(headers: dict[str, str] | None = None, **body: Any) -> Any:
    data = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], **body}
    return translate_request(data, headers or {}, MAP)


def test_the_model_map_reads_pairs_or_json_and_refuses_malformed_entries() -> None:
    assert parse_model_map({"COMPLETIONS_OPENAI_MODEL_MAP": "fast=anthropic/claude-haiku-4-5, big = openai/gpt-4o"}) == {
        "fast": ("anthropic", "claude-haiku-4-5"),
        "big": ("openai", "gpt-4o"),
    }
    assert parse_model_map({"COMPLETIONS_OPENAI_MODEL_MAP": '{"m": "openrouter/meta-llama/llama-3"}'}) == {
        "m": ("openrouter", "meta-llama/llama-3")
    }
    assert parse_model_map({}) == {}
    for bad in ("fast", "fast=claude-haiku", "=openai/x", '{"a": 1}', "{not json"):
        with pytest.raises(ConfigError, match="COMPLETIONS_OPENAI_MODEL_MAP"):
            parse_model_map({"COMPLETIONS_OPENAI_MODEL_MAP": bad})


def test_a_malformed_model_map_stops_the_app_at_start() -> None:
    settings = Settings.from_env(
        {"COMPLETIONS_PROXY_TOKENS": "t" * 20, "COMPLETIONS_OPENAI_MODEL_MAP": "fast=nothing-here"}
    )
    with pytest.raises(ConfigError, match="provider/model"):
        create_app(settings, registry())


def test_models_resolve_from_provider_slash_model_or_the_map() -> None:
    assert _translate().requests[0].provider == "openai"
    request = _translate(model="fast").requests[0]
    assert (request.provider, request.model) == ("anthropic", "claude-haiku-4-5")
    with pytest.raises(InvalidRequestError) as caught:
        _translate(model="gpt-4o")
    assert caught.value.error_type == "not_found_error" and caught.value.status_code == 404
    with pytest.raises(InvalidRequestError, match="256"):
        _translate(model="openai/" + "x" * 300)


def test_messages_map_one_to_one_with_tool_names_found_from_the_calls() -> None:
    request = _translate(
        messages=[
            {"role": "developer", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "user", "content": "weather?", "name": "ana"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
                {"id": "c2", "type": "function", "function": {"name": "now", "arguments": ""}},
            ]},
            {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 3}'},
            {"role": "tool", "tool_call_id": "c2", "content": "noon"},
        ]
    ).requests[0]
    system, user, assistant, first, second = request.messages
    assert isinstance(system, SystemMessage) and system.content == "a\nb"
    assert isinstance(user, UserMessage) and user.name == "ana"
    assert isinstance(assistant, AssistantMessage) and assistant.tool_calls is not None
    assert assistant.tool_calls[0].function.arguments == {"city": "Oslo"}
    assert assistant.tool_calls[1].function.arguments == {}
    assert isinstance(first, ToolResultMessage) and (first.name, first.content) == ("get_weather", {"temp": 3})
    assert isinstance(second, ToolResultMessage) and (second.name, second.content) == ("now", {"result": "noon"})


def test_a_tool_result_too_deep_or_not_json_stays_text() -> None:
    for text in ('{"a":' * 5000 + "1" + "}" * 5000, '{"a": ' * 40 + "1" + "}" * 40, "{not json"):
        messages = [
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f"}}]},
            {"role": "tool", "tool_call_id": "c", "content": text},
        ]
        result = _translate(messages=[{"role": "user", "content": "hi"}, *messages]).requests[0].messages[2]
        assert isinstance(result, ToolResultMessage) and result.content == {"result": text}


def test_cache_breakpoints_in_both_spellings() -> None:
    request = _translate(
        messages=[
            {"role": "system", "content": [{"type": "text", "text": "long", "cache_control": {"type": "ephemeral",
                                                                                               "ttl": "1h"}}]},
            {"role": "user", "content": "hi", "cache_breakpoint": {"ttl": "5m"}},
        ],
        tools=[{"type": "function", "function": {"name": "f"}, "cache_control": {"type": "ephemeral"}}],
    ).requests[0]
    assert request.messages[0].cache_breakpoint.ttl == "1h"  # type: ignore[union-attr]
    assert request.messages[1].cache_breakpoint.ttl == "5m"  # type: ignore[union-attr]
    assert request.tools[0].cache_breakpoint.ttl == "5m"  # type: ignore[index,union-attr]
    with pytest.raises(InvalidRequestError) as caught:
        _translate(messages=[{"role": "user", "content": "hi", "cache_breakpoint": {"ttl": "2d"}}])
    assert caught.value.path.startswith("messages[0].cache_breakpoint")


def test_response_format_and_token_limits() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    request = _translate(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
                         max_completion_tokens=50).requests[0]
    assert request.response_schema == schema and request.max_tokens == 50
    assert _translate(response_format={"type": "json_object"}).requests[0].response_schema == {"type": "object"}
    assert _translate(response_format={"type": "text"}).requests[0].response_schema is None
    with pytest.raises(InvalidRequestError, match="differ"):
        _translate(max_tokens=10, max_completion_tokens=20)
    with pytest.raises(InvalidRequestError) as caught:
        _translate(max_tokens=0)
    assert caught.value.path == "max_tokens"


def test_extensions_fallbacks_retry_and_sentences() -> None:
    parsed = _translate(
        fallbacks=["fast", {"model": "google/gemini-2.5-flash", "max_completion_tokens": 9, "retry": {"max_retries": 1}}],
        retry={"max_retries": 2},
        sentences={"min_sentence_length": 3},
        timeout=5,
    )
    primary, *fallbacks = parsed.requests
    assert [(f.provider, f.model) for f in fallbacks] == [
        ("anthropic", "claude-haiku-4-5"), ("google", "gemini-2.5-flash")
    ]
    assert fallbacks[1].max_tokens == 9
    assert primary.retry is not None and primary.retry.max_retries == 2
    # A fallback inherits what it leaves unset (the primary's retry), and keeps what it sets.
    assert fallbacks[0].retry == primary.retry and fallbacks[0].timeout == 5
    assert fallbacks[1].retry is not None and fallbacks[1].retry.max_retries == 1
    assert parsed.options.chunk_by_sentence and parsed.options.min_sentence_length == 3
    assert set(parsed.credentials) == {"openai", "anthropic", "google"}
    assert all(spec.source == "managed" for spec in parsed.credentials.values())
    with pytest.raises(InvalidRequestError) as caught:
        _translate(fallbacks=[{"model": "nope"}])
    assert caught.value.path == "fallbacks[0].model"
    with pytest.raises(InvalidRequestError, match="max_fallbacks"):
        _translate(fallbacks=["openai/x"] * 9)


def test_key_headers_become_customer_credentials_without_showing_the_key() -> None:
    secret = "sk-live-do-not-print-1234"
    parsed = _translate(
        {"x-provider-api-key": secret, "x-provider-api-key-anthropic-vertex": "other-key", "x-provider-api-keys": "x"},
        fallbacks=["anthropic_vertex/claude"],
    )
    primary = parsed.credentials["openai"]
    assert primary.source == "customer" and primary.api_key is not None and primary.api_key.reveal() == secret
    assert parsed.credentials["anthropic_vertex"].api_key.reveal() == "other-key"  # type: ignore[union-attr]
    assert secret not in repr(parsed) + repr(parsed.credentials)
    with pytest.raises(InvalidRequestError) as caught:
        _translate({"x-provider-api-key": " " * 3})
    assert caught.value.path == "x-provider-api-key"


def test_unsupported_fields_and_values_are_named_and_nulls_are_ignored() -> None:
    assert _translate(top_p=None, logprobs=False, seed=None, n=1, user="u", parallel_tool_calls=True).stream is False
    cases: list[tuple[dict[str, Any], str]] = [
        ({"stop": ["x"]}, "stop"),
        ({"n": 2}, "n"),
        ({"parallel_tool_calls": False}, "parallel_tool_calls"),
        ({"colour": "red"}, "colour"),
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"tool_choice": {"type": "allowed_tools"}}, "tool_choice"),
        ({"response_format": {"type": "grammar"}}, "response_format.type"),
        ({"messages": [{"role": "function", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": "x", "audio": {}}]}, "messages[0].audio"),
        ({"stream_options": {"include_usage": True, "chunk_by_sentence": True}}, "stream_options.chunk_by_sentence"),
    ]
    for body, path in cases:
        with pytest.raises(UnsupportedParameter) as caught:
            _translate(**body)
        assert caught.value.path == path, body
