"""The client against a scripted loopback server: warm-up, transport retries, stream failures."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest

from completions_core.testing.replay import Body, Fault, ReplayServer, Stream
from completions_proxy.testing import running_proxy
from primfunctions.completions import (
    CompletionsProxyError,
    StreamOptions,
    configure,
    configure_provider,
    generate_chat_completion,
    generate_chat_completion_stream,
)
from primfunctions.completions import client as client_module
from tests.helpers import registry

pytestmark = pytest.mark.anyio

REQUEST = {"provider": "openai", "model": "m", "messages": [{"role": "user", "content": "hi"}]}
RESPONSE = {"message": {"role": "assistant", "content": "hello", "vr_id": "abcdefgh"}, "finish_reason": "stop",
            "usage": None, "provider": "openai", "model": "m", "request_id": "r1"}
NDJSON = [
    json.dumps({"type": "content_delta", "delta": "hel"}) + "\n",
    json.dumps({"type": "content_delta", "delta": "lo"}) + "\n",
    json.dumps({"type": "finish_reason", "finish_reason": "stop"}) + "\n",
    json.dumps({"type": "response", "response": RESPONSE}) + "\n",
]


@pytest.fixture
async def server(client_reset: None) -> AsyncIterator[ReplayServer]:
    async with ReplayServer() as replay:
        configure(replay.url, "client-test-token-000000")
        replay.enqueue(Body.from_json({"provider": "openai", "warm": True}, status=202), path="/v1/warm")
        configure_provider("openai", api_key="sk-test-client-0000000")
        await asyncio.gather(*client_module._state.background)  # the warm-up has been answered
        assert replay.requests[0].path == "/v1/warm"
        del replay.requests[:]
        yield replay


def _ok_json() -> Body:
    return Body.from_json(RESPONSE)


def _ok_stream() -> Stream:
    return Stream(NDJSON, content_type="application/x-ndjson")


async def test_first_configure_provider_warms_the_proxy_in_the_background(client_reset: None) -> None:
    async with running_proxy(registry()) as proxy:
        configure(proxy.url, proxy.token)
        configure_provider("embedded", voicerun_managed=True)
        configure_provider("embedded", voicerun_managed=True)  # not the first: no second warm-up
        assert len(client_module._state.background) == 1
        await asyncio.gather(*client_module._state.background)
        assert len(proxy.state.clients) == 1


async def test_non_streaming_retries_once_on_a_fresh_connection_after_a_transport_failure(server: ReplayServer) -> None:
    server.enqueue(Fault.reset())
    server.enqueue(_ok_json())
    response = await generate_chat_completion(REQUEST)
    assert response.message.content == "hello"
    assert len(server.requests) == 2


async def test_non_streaming_gives_up_after_the_second_transport_failure(server: ReplayServer) -> None:
    server.enqueue(Fault.reset())
    server.enqueue(Fault.reset())
    with pytest.raises(CompletionsProxyError) as info:
        await generate_chat_completion(REQUEST)
    assert info.value.error_type == "connection_error"
    assert len(server.requests) == 2


async def test_an_http_error_is_not_retried_and_keeps_its_status(server: ReplayServer) -> None:
    server.enqueue(Body.from_json({"error": {"message": "slow down", "type": "rate_limit_error"}}, status=429))
    with pytest.raises(CompletionsProxyError) as info:
        await generate_chat_completion(REQUEST)
    assert (info.value.status_code, info.value.error_type, info.value.message) == (429, "rate_limit_error", "slow down")
    assert len(server.requests) == 1


async def test_streaming_retries_a_connection_failure_before_the_first_chunk(server: ReplayServer) -> None:
    server.enqueue(Fault.reset())
    server.enqueue(_ok_stream())
    stream = await generate_chat_completion_stream(REQUEST)
    chunks = [chunk async for chunk in stream]
    assert [c.type for c in chunks] == ["content_delta", "content_delta", "finish_reason", "response"]
    assert stream.response is not None and stream.response.message.content == "hello"
    assert len(server.requests) == 2


async def test_a_stream_cut_after_the_first_chunk_raises_inside_async_for_and_is_not_retried(server: ReplayServer) -> None:
    server.enqueue(Stream(NDJSON, content_type="application/x-ndjson").then_reset(after_events=1))
    stream = await generate_chat_completion_stream(REQUEST)
    seen = []
    with pytest.raises(CompletionsProxyError) as info:
        async for chunk in stream:
            seen.append(chunk.type)
    assert seen == ["content_delta"]
    assert info.value.error_type in ("connection_error", "incomplete_stream_error")
    assert len(server.requests) == 1


async def test_a_stream_that_ends_without_the_final_response_is_an_error(server: ReplayServer) -> None:
    server.enqueue(Stream(NDJSON[:2], content_type="application/x-ndjson"))
    stream = await generate_chat_completion_stream(REQUEST)
    with pytest.raises(CompletionsProxyError) as info:
        async for _ in stream:
            pass
    assert info.value.error_type == "incomplete_stream_error"


async def test_keepalive_lines_and_unknown_record_types_are_ignored(server: ReplayServer) -> None:
    lines = ["\n", json.dumps({"type": "future_kind", "x": 1}) + "\n", *NDJSON]
    server.enqueue(Stream(lines, content_type="application/x-ndjson"))
    stream = await generate_chat_completion_stream(REQUEST)
    assert [c.type async for c in stream] == ["content_delta", "content_delta", "finish_reason", "response"]


async def test_stream_options_dataclass_is_sent_as_documented(server: ReplayServer) -> None:
    server.enqueue(_ok_stream())
    stream = await generate_chat_completion_stream(REQUEST, StreamOptions(chunk_by_sentence=True, punctuation_language="de"))
    [_ async for _ in stream]
    sent = server.requests[0].json()
    assert sent["stream"] is True
    assert sent["stream_options"]["chunk_by_sentence"] is True and sent["stream_options"]["punctuation_language"] == "de"
    assert sent["credentials"] == {"openai": {"api_key": "sk-test-client-0000000"}}
    assert server.requests[0].headers["authorization"] == "Bearer client-test-token-000000"


async def test_configure_provider_needs_exactly_one_of_managed_and_api_key(client_reset: None) -> None:
    for kwargs in ({}, {"voicerun_managed": True, "api_key": "k"}, {"voicerun_managed": False, "api_key": ""}):
        with pytest.raises(ValueError, match="exactly one"):
            configure_provider("openai", **kwargs)  # type: ignore[arg-type]


async def test_the_deprecated_alias_is_logged_through_primfunctions_logger(
    server: ReplayServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.enqueue(_ok_stream())
    with caplog.at_level(logging.WARNING, logger="primfunctions"), pytest.warns(DeprecationWarning):
        stream = await generate_chat_completion_stream(REQUEST, {"stream_sentences": True})
    [_ async for _ in stream]
    assert any("stream_sentences is deprecated" in r.getMessage() for r in caplog.records)
    assert server.requests[0].json()["stream_options"]["chunk_by_sentence"] is True


async def test_registration_repr_never_shows_the_key(client_reset: None) -> None:
    configure_provider("openai", api_key="sk-test-never-shown-0001")
    assert "sk-test-never-shown-0001" not in repr(client_module._state.providers)
