"""The real client against a real hypercorn proxy on loopback, with the embedded provider."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from completions_proxy.testing import RunningProxy, running_proxy
from primfunctions.completions import (
    ChatCompletionRequest,
    CompletionsNotConfiguredError,
    CompletionsProviderNotConfiguredError,
    CompletionsProxyError,
    FallbackRequest,
    UserMessage,
    configure,
    configure_provider,
    generate_chat_completion,
    generate_chat_completion_stream,
)
from tests.helpers import FAST, HangingAdapter, KeyedAdapter, registry

pytestmark = pytest.mark.anyio

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
async def proxy(client_reset: None) -> AsyncIterator[RunningProxy]:
    async with running_proxy(registry(KeyedAdapter())) as running:
        configure(running.url, running.token)
        yield running


def _request(text: str = "Hi there", **extra: object) -> dict[str, object]:
    return {
        "provider": "embedded",
        "model": "embedded-1",
        "messages": [{"role": "user", "content": text}],
        "provider_kwargs": FAST,
        **extra,
    }


async def test_non_streaming_answer_names_the_provider_and_keeps_the_request_id(proxy: RunningProxy) -> None:
    configure_provider("embedded", voicerun_managed=True)
    response = await generate_chat_completion(_request("What time is it?"))
    assert response.message.content is not None
    assert "What time is it?" in response.message.content
    assert response.finish_reason == "stop"
    assert response.provider == "embedded"
    assert response.model == "embedded-1"
    assert response.request_id and len(response.request_id) == 32
    assert response.usage is not None and response.usage["completion_tokens"] > 0
    assert len(response.message.vr_id) == 8


async def test_dataclass_request_is_accepted(proxy: RunningProxy) -> None:
    configure_provider("embedded", voicerun_managed=True)
    request = ChatCompletionRequest(
        provider="embedded", model="m", messages=[UserMessage("dataclass hello")], provider_kwargs=FAST  # type: ignore[typeddict-item]
    )
    response = await generate_chat_completion(request)
    assert "dataclass hello" in (response.message.content or "")


async def test_stream_yields_deltas_then_finish_usage_response_in_order(proxy: RunningProxy) -> None:
    configure_provider("embedded", voicerun_managed=True)
    stream = await generate_chat_completion_stream(_request("Stream me"))
    kinds: list[str] = []
    text = ""
    async for chunk in stream:
        kinds.append(chunk.type)
        if chunk.type == "content_delta":
            text += chunk.delta  # type: ignore[union-attr]
        if chunk.type == "response":
            final = chunk.response  # type: ignore[union-attr]
    assert kinds.count("content_delta") > 5
    first_other = next(i for i, k in enumerate(kinds) if k != "content_delta")
    assert set(kinds[:first_other]) == {"content_delta"}
    assert kinds[first_other:] == ["finish_reason", "usage", "response"]
    assert final.message.content == text
    assert final.provider == "embedded"


async def test_stream_tool_call_is_reassembled_with_parsed_arguments(proxy: RunningProxy) -> None:
    configure_provider("embedded", voicerun_managed=True)
    stream = await generate_chat_completion_stream(
        _request("check get_weather please", tools=[WEATHER_TOOL])
    )
    chunks = [chunk async for chunk in stream]
    kinds = [c.type for c in chunks]
    assert kinds == ["tool_call", "finish_reason", "usage", "response"]
    call = chunks[0].tool_call  # type: ignore[union-attr]
    assert call.function.name == "get_weather"
    assert call.function.arguments == {"city": "example"}
    assert call.id == "call_emb_0"
    assert chunks[1].finish_reason == "tool_calls"  # type: ignore[union-attr]
    assert chunks[-1].response.message.tool_calls[0].id == call.id  # type: ignore[union-attr]


async def test_non_streaming_tool_call_and_tool_result_turn(proxy: RunningProxy) -> None:
    configure_provider("embedded", voicerun_managed=True)
    first = await generate_chat_completion(_request("use get_weather", tools=[WEATHER_TOOL]))
    assert first.finish_reason == "tool_calls"
    call = first.message.tool_calls[0]  # type: ignore[index]
    second = await generate_chat_completion(
        {
            "provider": "embedded",
            "model": "m",
            "provider_kwargs": FAST,
            "tools": [WEATHER_TOOL],
            "messages": [
                {"role": "user", "content": "use get_weather"},
                first.message,
                {"role": "tool", "tool_call_id": call.id, "name": "get_weather", "content": {"temp_c": 21}},
            ],
        }
    )
    assert second.message.content is not None and '"temp_c": 21' in second.message.content


async def test_response_schema_gives_json_matching_the_schema(proxy: RunningProxy) -> None:
    import json

    configure_provider("embedded", voicerun_managed=True)
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 3}}}
    response = await generate_chat_completion(_request(response_schema=schema))
    assert json.loads(response.message.content or "") == {"name": "example", "age": 3}


async def test_client_without_configure_raises_not_configured(client_reset: None) -> None:
    configure_provider("embedded", voicerun_managed=True)
    with pytest.raises(CompletionsNotConfiguredError):
        await generate_chat_completion(_request())


async def test_unregistered_primary_provider_raises_before_any_request(proxy: RunningProxy) -> None:
    with pytest.raises(CompletionsProviderNotConfiguredError, match="embedded"):
        await generate_chat_completion(_request())


async def test_unregistered_fallback_provider_raises(proxy: RunningProxy) -> None:
    configure_provider("embedded", voicerun_managed=True)
    with pytest.raises(CompletionsProviderNotConfiguredError, match="keyed"):
        await generate_chat_completion_stream(_request(fallbacks=[{"provider": "keyed", "model": "k"}]))


async def test_api_key_in_request_or_fallback_is_a_value_error(proxy: RunningProxy) -> None:
    configure_provider("embedded", voicerun_managed=True)
    with pytest.raises(ValueError, match="configure_provider"):
        await generate_chat_completion(_request(api_key="sk-nope"))
    with pytest.raises(ValueError, match="configure_provider"):
        await generate_chat_completion(_request(fallbacks=[{"provider": "embedded", "api_key": "sk-nope"}]))
    request = ChatCompletionRequest(provider="embedded", model="m", messages=[UserMessage("x")])
    request.api_key = "sk-nope"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="configure_provider"):
        await generate_chat_completion(request)
    fallback = FallbackRequest(provider="embedded")
    fallback.api_key = "sk-nope"  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        await generate_chat_completion(_request(fallbacks=[fallback]))


async def test_customer_key_reaches_the_adapter_and_managed_key_comes_from_env(client_reset: None) -> None:
    adapter = KeyedAdapter()
    async with running_proxy(registry(adapter), env={"KEYED_API_KEY": "managed-key-123"}) as running:
        configure(running.url, running.token)
        configure_provider("keyed", api_key="customer-key-1")
        response = await generate_chat_completion({"provider": "keyed", "model": "k", "messages": [{"role": "user", "content": "x"}]})
        assert response.message.content == "source=customer key_len=14"
        configure_provider("keyed", voicerun_managed=True)
        response = await generate_chat_completion({"provider": "keyed", "model": "k", "messages": [{"role": "user", "content": "x"}]})
        assert response.message.content == "source=managed key_len=15"
        assert len(running.state.clients) == 2


async def test_managed_key_missing_is_a_clear_error(proxy: RunningProxy) -> None:
    configure_provider("keyed", voicerun_managed=True)
    with pytest.raises(CompletionsProxyError) as info:
        await generate_chat_completion({"provider": "keyed", "model": "k", "messages": [{"role": "user", "content": "x"}]})
    assert info.value.error_type == "managed_key_unavailable_error"
    assert "configure_provider('keyed', api_key=...)" in info.value.message


async def test_unknown_provider_is_404_listing_installed_plugins(proxy: RunningProxy) -> None:
    configure_provider("openai", voicerun_managed=True)
    with pytest.raises(CompletionsProxyError) as info:
        await generate_chat_completion({"provider": "openai", "model": "gpt", "messages": [{"role": "user", "content": "x"}]})
    assert info.value.status_code == 404
    assert info.value.error_type == "unknown_provider_error"
    assert "embedded" in info.value.message and "keyed" in info.value.message


async def test_invalid_request_is_400_naming_the_field(proxy: RunningProxy) -> None:
    configure_provider("embedded", voicerun_managed=True)
    with pytest.raises(ValueError, match=r"messages\[0\]\.role"):
        await generate_chat_completion({"provider": "embedded", "model": "m", "messages": [{"role": "bot", "content": "x"}]})


async def test_provider_error_before_first_chunk_is_an_http_error_with_status(proxy: RunningProxy) -> None:
    configure_provider("embedded", voicerun_managed=True)
    failing = {"embedded": {"first_token_delay": 0, "error": {"type": "rate_limit_error", "status": 429, "message": "slow down"}}}
    with pytest.raises(CompletionsProxyError) as info:
        await generate_chat_completion_stream(_request(provider_kwargs=failing, retry={"enabled": False}))
    assert info.value.status_code == 429
    assert info.value.error_type == "rate_limit_error"
    assert info.value.message == "slow down"


async def test_mid_stream_failure_is_raised_inside_async_for(proxy: RunningProxy) -> None:
    configure_provider("embedded", voicerun_managed=True)
    failing = {"embedded": {"first_token_delay": 0, "token_delay": 0, "error": {"type": "provider_error", "after_tokens": 3, "message": "upstream broke"}}}
    stream = await generate_chat_completion_stream(_request(provider_kwargs=failing))
    seen: list[str] = []
    with pytest.raises(CompletionsProxyError) as info:
        async for chunk in stream:
            seen.append(chunk.type)
    assert seen == ["content_delta"] * 3
    assert info.value.error_type == "provider_error"
    assert info.value.status_code is None


async def test_fallback_answers_when_primary_fails_before_first_chunk(proxy: RunningProxy) -> None:
    configure_provider("embedded", voicerun_managed=True)
    configure_provider("keyed", api_key="customer-key-1")
    failing = {"embedded": {"first_token_delay": 0, "error": {"type": "overloaded_error", "status": 529}}}
    stream = await generate_chat_completion_stream(
        _request(provider_kwargs=failing, retry={"enabled": False}, fallbacks=[{"provider": "keyed", "model": "k2"}])
    )
    chunks = [c async for c in stream]
    final = chunks[-1].response  # type: ignore[union-attr]
    assert final.provider == "keyed" and final.model == "k2"
    assert final.message.content == "source=customer key_len=14"


async def test_client_disconnect_mid_stream_stops_the_upstream(client_reset: None) -> None:
    hanging = HangingAdapter()
    async with running_proxy(registry(hanging)) as running:
        configure(running.url, running.token)
        configure_provider("hanging", voicerun_managed=True)
        stream = await generate_chat_completion_stream({"provider": "hanging", "model": "h", "messages": [{"role": "user", "content": "x"}]})
        first = await stream.__anext__()
        assert first.type == "content_delta"
        await hanging.started.wait()
        await stream.aclose()
        with anyio.fail_after(10):
            await hanging.closed.wait()
        assert hanging.closed.is_set()


async def test_sentence_chunking_yields_sentences_end_to_end(proxy: RunningProxy) -> None:
    configure_provider("embedded", voicerun_managed=True)
    text = "Hello there, caller. The **weather** is sunny today! Do you need anything else?"
    stream = await generate_chat_completion_stream(
        _request(provider_kwargs={"embedded": {"text": text, "token_delay": 0, "first_token_delay": 0}}),
        stream_options={"chunk_by_sentence": True},
    )
    sentences = [c.sentence async for c in stream if c.type == "content_sentence"]  # type: ignore[union-attr]
    assert sentences == ["Hello there, caller.", "The weather is sunny today!", "Do you need anything else?"]


async def test_stream_sentences_still_works_with_a_deprecation_warning(proxy: RunningProxy) -> None:
    configure_provider("embedded", voicerun_managed=True)
    with pytest.warns(DeprecationWarning, match="chunk_by_sentence"):
        stream = await generate_chat_completion_stream(
            _request(provider_kwargs={"embedded": {"text": "One here. Two here.", "token_delay": 0, "first_token_delay": 0}}),
            stream_options={"stream_sentences": True},
        )
    kinds = [c.type async for c in stream]
    assert kinds.count("content_sentence") == 2
