"""The real openai SDK against the replay server: recorded traffic and every fault kind."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import openai
import pytest

from completions_core.testing.cassettes import Interaction, load_cassette
from completions_core.testing.replay import Fault, ReplayServer, Stream, with_prefix

pytestmark = pytest.mark.anyio

CASSETTES = Path(__file__).parent / "cassettes" / "openai"
STREAM = load_cassette(CASSETTES / "chat_stream_text.yaml")[0]
REQUEST: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def _client(server: ReplayServer, *, prefix: str = "/v1", **options: Any) -> openai.AsyncOpenAI:
    options.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=server.url + prefix, api_key="test-key", **options)


def _streamed_text(interaction: Interaction) -> str:
    text = ""
    for event in interaction.response.sse_events():
        data = event.removeprefix("data: ").strip()
        if data != "[DONE]":
            for choice in json.loads(data)["choices"]:
                text += choice["delta"].get("content") or ""
    return text


async def test_recorded_text_reply_parses(server: ReplayServer) -> None:
    interaction = load_cassette(CASSETTES / "chat_text.yaml")[0]
    server.enqueue_interaction(interaction)
    async with _client(server) as client:
        completion = await client.chat.completions.create(**interaction.request.json())
    recorded = interaction.response.json()
    assert completion.id == recorded["id"]
    assert completion.choices[0].message.content == recorded["choices"][0]["message"]["content"]
    assert completion.usage is not None and completion.usage.total_tokens == recorded["usage"]["total_tokens"]
    assert server.requests[0].json() == interaction.request.json()
    server.assert_all_used()


async def test_recorded_stream_reassembles_text_and_usage(server: ReplayServer) -> None:
    server.enqueue_interaction(STREAM)
    async with _client(server) as client:
        stream = await client.chat.completions.create(**STREAM.request.json())
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == _streamed_text(STREAM) and text
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    server.assert_all_used()


async def test_recorded_404_raises_not_found_with_the_provider_code(server: ReplayServer) -> None:
    server.enqueue_cassette(load_cassette(CASSETTES / "chat_error_404_model_not_found.yaml"))
    async with _client(server) as client:
        with pytest.raises(openai.NotFoundError) as caught:
            await client.chat.completions.create(model="this-model-does-not-exist", messages=[])
    assert caught.value.code == "model_not_found"


async def test_recorded_401_on_a_stream_request_raises_before_any_event(server: ReplayServer) -> None:
    interaction = load_cassette(CASSETTES / "chat_error_401_invalid_api_key_stream.yaml")[0]
    server.enqueue_interaction(interaction)
    async with _client(server) as client:
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.chat.completions.create(**interaction.request.json())
    assert caught.value.code == "invalid_api_key"
    assert caught.value.request_id == interaction.response.header("x-request-id")


async def test_dashscope_base_path_is_served_with_a_prefix(server: ReplayServer) -> None:
    interaction = load_cassette(CASSETTES / "chat_text.yaml")[0]
    server.enqueue_interaction(interaction, path=with_prefix("/compatible-mode"))
    async with _client(server, prefix="/compatible-mode/v1") as client:
        await client.chat.completions.create(**interaction.request.json())
    assert server.requests[0].path == "/compatible-mode/v1/chat/completions"
    server.assert_all_used()


async def test_fault_429_raises_rate_limit_with_retry_after(server: ReplayServer) -> None:
    server.enqueue(Fault.status(429, retry_after=2))
    async with _client(server) as client:
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(**REQUEST)
    assert caught.value.response.headers["retry-after"] == "2"


async def test_sdk_retries_after_retry_after_ms_when_its_retries_are_on(server: ReplayServer) -> None:
    server.enqueue(Fault.status(503, retry_after_ms=1))
    server.enqueue_cassette(load_cassette(CASSETTES / "chat_text.yaml"))
    async with _client(server, max_retries=1) as client:
        completion = await client.chat.completions.create(**REQUEST)
    assert completion.choices[0].finish_reason == "stop"
    assert [r.headers["x-stainless-retry-count"] for r in server.requests] == ["0", "1"]


async def test_fault_500_raises_internal_server_error(server: ReplayServer) -> None:
    server.enqueue(Fault.status(500))
    async with _client(server) as client:
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(**REQUEST)


async def test_reset_before_headers_raises_connection_error(server: ReplayServer) -> None:
    server.enqueue(Fault.reset())
    async with _client(server) as client:
        with pytest.raises(openai.APIConnectionError):
            await client.chat.completions.create(**REQUEST)
    assert not server.requests[0].closed_early


async def test_hang_before_headers_times_out_in_the_sdk(server: ReplayServer) -> None:
    server.enqueue(Fault.hang())
    async with _client(server, timeout=0.05) as client:
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(**REQUEST)
    await server.wait_for_disconnects(1)


async def test_cancelling_during_a_hang_closes_the_upstream_request(server: ReplayServer) -> None:
    server.enqueue(Fault.hang())
    async with _client(server) as client:
        call = asyncio.ensure_future(client.chat.completions.create(**REQUEST))
        await server.wait_for_requests(1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    await server.wait_for_disconnects(1)
    assert server.requests[0].closed_early


async def test_hang_after_headers_times_out_reading_the_stream(server: ReplayServer) -> None:
    server.enqueue(Fault.hang_after_headers())
    async with _client(server, timeout=0.05) as client:
        with pytest.raises(openai.APITimeoutError):
            stream = await client.chat.completions.create(**REQUEST, stream=True)
            async for _ in stream:
                pass
    await server.wait_for_disconnects(1)


async def test_closing_a_stream_mid_way_closes_the_upstream_response(server: ReplayServer) -> None:
    server.enqueue(Stream.from_response(STREAM.response).then_hang(after_events=2))
    async with _client(server) as client:
        stream = await client.chat.completions.create(**REQUEST, stream=True)
        received = 0
        async for _ in stream:
            received += 1
            if received == 2:
                break
        await stream.close()
    await server.wait_for_disconnects(1)
    assert received == 2 and server.requests[0].closed_early


async def test_reset_mid_stream_raises_after_the_events_already_sent(server: ReplayServer) -> None:
    server.enqueue(Stream.from_response(STREAM.response).then_reset(after_events=3))
    received = 0
    async with _client(server) as client:
        with pytest.raises(openai.APIConnectionError):
            stream = await client.chat.completions.create(**REQUEST, stream=True)
            async for _ in stream:
                received += 1
    assert received == 3


async def test_body_cut_in_transit_raises_connection_error(server: ReplayServer) -> None:
    server.enqueue(Fault.truncated_json(STREAM.request.json(), drop_connection=True))
    async with _client(server) as client:
        with pytest.raises(openai.APIConnectionError):
            await client.chat.completions.create(**REQUEST)


async def test_malformed_sse_event_raises_a_json_error_mid_stream(server: ReplayServer) -> None:
    first_event = STREAM.response.sse_events()[0]
    server.enqueue(Fault.malformed_sse([first_event]))
    received = 0
    async with _client(server) as client:
        with pytest.raises(json.JSONDecodeError):
            stream = await client.chat.completions.create(**REQUEST, stream=True)
            async for _ in stream:
                received += 1
    assert received == 1


async def test_truncated_json_body_raises_a_json_error(server: ReplayServer) -> None:
    server.enqueue(Fault.truncated_json(load_cassette(CASSETTES / "chat_text.yaml")[0].response.json()))
    async with _client(server) as client:
        with pytest.raises(json.JSONDecodeError):
            await client.chat.completions.create(**REQUEST)


async def test_wrong_content_type_comes_back_as_a_plain_string(server: ReplayServer) -> None:
    # The SDK does not raise here: an adapter has to check what it got.
    server.enqueue(Fault.wrong_content_type())
    async with _client(server) as client:
        result: object = await client.chat.completions.create(**REQUEST)
    assert isinstance(result, str) and result.startswith("<html>")
