"""The real anthropic SDK against the replay server: recorded traffic and every fault kind."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

from completions_core.testing.cassettes import Interaction, load_cassette
from completions_core.testing.replay import Fault, ReplayServer, Stream

# anthropic 2.12 warns about the retired models named in the recordings (claude-3-opus, ...).
pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")]

CASSETTES = Path(__file__).parent / "cassettes" / "anthropic"
STREAM = load_cassette(CASSETTES / "messages_stream_text.yaml")[0]
REQUEST: dict[str, Any] = {
    "model": "claude-haiku-4-5",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hi"}],
}
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def _client(server: ReplayServer, **options: Any) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=server.url, api_key="test-key", max_retries=0, **options)


def _sdk_kwargs(interaction: Interaction) -> dict[str, Any]:
    body = dict(interaction.request.json())
    body.pop("stream", None)
    # anthropic 2.12 no longer takes temperature as an argument (SDK_NOTES).
    extra = {key: body.pop(key) for key in ("temperature", "output_config") if key in body}
    return {**body, "extra_body": extra} if extra else body


async def test_recorded_text_reply_parses(server: ReplayServer) -> None:
    interaction = load_cassette(CASSETTES / "messages_text.yaml")[0]
    server.enqueue_interaction(interaction)
    async with _client(server) as client:
        message = await client.messages.create(**_sdk_kwargs(interaction))
    recorded = interaction.response.json()
    assert message.id == recorded["id"] and message.stop_reason == "end_turn"
    assert message.content[0].type == "text" and message.content[0].text == recorded["content"][0]["text"]
    assert message.usage.output_tokens == recorded["usage"]["output_tokens"]
    assert server.requests[0].json() == interaction.request.json()
    server.assert_all_used()


async def test_recorded_stream_gives_the_final_message(server: ReplayServer) -> None:
    server.enqueue_interaction(STREAM)
    async with _client(server) as client, client.messages.stream(**_sdk_kwargs(STREAM)) as stream:
        texts = [text async for text in stream.text_stream]
        message = await stream.get_final_message()
    assert "".join(texts) == message.content[0].text  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn" and message.usage.output_tokens > 0
    assert server.requests[0].json()["temperature"] == 1.0
    server.assert_all_used()


async def test_recorded_401_raises_authentication_error(server: ReplayServer) -> None:
    interaction = load_cassette(CASSETTES / "messages_error_401_authentication.yaml")[0]
    server.enqueue_interaction(interaction)
    async with _client(server) as client:
        with pytest.raises(anthropic.AuthenticationError) as caught:
            await client.messages.create(**_sdk_kwargs(interaction))
    assert caught.value.request_id == interaction.response.header("request-id")


async def test_recorded_400_from_the_beta_api_raises_bad_request(server: ReplayServer) -> None:
    interaction = load_cassette(CASSETTES / "messages_error_400_invalid_request.yaml")[0]
    server.enqueue_interaction(interaction)
    async with _client(server) as client:
        with pytest.raises(anthropic.BadRequestError, match="does not support effort level"):
            await client.beta.messages.create(**_sdk_kwargs(interaction))
    # Recorded on /v1/messages?beta=true; anthropic 2.12 no longer adds the query.
    assert server.requests[0].query == {}
    server.assert_all_used()


async def test_recorded_reply_is_served_on_the_vertex_raw_predict_path(server: ReplayServer) -> None:
    interaction = load_cassette(CASSETTES / "messages_text.yaml")[0]
    model = interaction.request.json()["model"]
    vertex_path = f"/v1/projects/test-project/locations/us-east5/publishers/anthropic/models/{model}:rawPredict"
    server.enqueue_interaction(interaction, path=lambda recorded: vertex_path)
    client = anthropic.AsyncAnthropicVertex(
        region="us-east5", project_id="test-project", base_url=server.url + "/v1", access_token="t", max_retries=0
    )
    async with client:
        message = await client.messages.create(**_sdk_kwargs(interaction))
    assert message.id == interaction.response.json()["id"]
    assert "model" not in server.requests[0].json()
    server.assert_all_used()


async def test_fault_529_raises_overloaded(server: ReplayServer) -> None:
    server.enqueue(Fault.status(529, OVERLOADED))
    async with _client(server) as client:
        with pytest.raises(anthropic.OverloadedError):
            await client.messages.create(**REQUEST)


async def test_fault_429_raises_rate_limit_with_retry_after(server: ReplayServer) -> None:
    server.enqueue(Fault.status(429, retry_after=7))
    async with _client(server) as client:
        with pytest.raises(anthropic.RateLimitError) as caught:
            await client.messages.create(**REQUEST)
    assert caught.value.response.headers["retry-after"] == "7"


async def test_in_stream_error_event_raises_an_api_error(server: ReplayServer) -> None:
    first = STREAM.response.sse_events()[0]
    server.enqueue_sse([first, f"event: error\ndata: {json.dumps(OVERLOADED)}"])
    async with _client(server) as client:
        with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
            async with client.messages.stream(**REQUEST) as stream:
                await stream.get_final_message()


async def test_reset_before_headers_raises_connection_error(server: ReplayServer) -> None:
    server.enqueue(Fault.reset())
    async with _client(server) as client:
        with pytest.raises(anthropic.APIConnectionError):
            await client.messages.create(**REQUEST)


async def test_hang_before_headers_times_out_in_the_sdk(server: ReplayServer) -> None:
    server.enqueue(Fault.hang())
    async with _client(server, timeout=0.05) as client:
        with pytest.raises(anthropic.APITimeoutError):
            await client.messages.create(**REQUEST)
    await server.wait_for_disconnects(1)


async def test_cancelling_during_a_hang_closes_the_upstream_request(server: ReplayServer) -> None:
    server.enqueue(Fault.hang())
    async with _client(server) as client:
        call = asyncio.ensure_future(client.messages.create(**REQUEST))
        await server.wait_for_requests(1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    await server.wait_for_disconnects(1)


async def test_leaving_a_stream_mid_way_closes_the_upstream_response(server: ReplayServer) -> None:
    server.enqueue(Stream.from_response(STREAM.response).then_hang(after_events=3))
    async with _client(server) as client:
        async with client.messages.stream(**REQUEST) as stream:
            async for event in stream:
                if event.type == "content_block_start":
                    break
        await server.wait_for_disconnects(1)
    assert server.requests[0].closed_early


async def test_reset_mid_stream_raises_a_transport_error_unwrapped(server: ReplayServer) -> None:
    # Unlike openai, the stream iterator lets httpx2's error through: the adapter must map it.
    server.enqueue(Stream.from_response(STREAM.response).then_reset(after_events=2))
    async with _client(server) as client:
        stream = await client.messages.create(**REQUEST, stream=True)
        events = []
        with pytest.raises(httpx2.ReadError):
            async for event in stream:
                events.append(event.type)
    assert events == ["message_start", "content_block_start"]


async def test_malformed_sse_event_raises_a_json_error(server: ReplayServer) -> None:
    server.enqueue(
        Fault.malformed_sse(STREAM.response.sse_events()[:1], event='event: content_block_start\ndata: {"type": \n\n')
    )
    async with _client(server) as client:
        stream = await client.messages.create(**REQUEST, stream=True)
        with pytest.raises(json.JSONDecodeError):
            async for _ in stream:
                pass


async def test_truncated_json_body_raises_a_json_error(server: ReplayServer) -> None:
    server.enqueue(Fault.truncated_json(load_cassette(CASSETTES / "messages_text.yaml")[0].response.json()))
    async with _client(server) as client:
        with pytest.raises(json.JSONDecodeError):
            await client.messages.create(**REQUEST)


async def test_wrong_content_type_comes_back_as_a_plain_string(server: ReplayServer) -> None:
    server.enqueue(Fault.wrong_content_type())
    async with _client(server) as client:
        result: object = await client.messages.create(**REQUEST)
    assert isinstance(result, str) and result.startswith("<html>")
