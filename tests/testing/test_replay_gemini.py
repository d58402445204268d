"""The real google-genai SDK against the replay server: recorded traffic and every fault kind."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from google import genai
from google.genai import errors
from google.genai import types as gtypes

from completions_core.testing.cassettes import load_cassette
from completions_core.testing.replay import Fault, ReplayServer, Stream

# google-genai subclasses aiohttp.ClientSession, which aiohttp 3.14 warns about on every client.
pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning"),
]

CASSETTES = Path(__file__).parent / "cassettes" / "gemini"
TEXT = load_cassette(CASSETTES / "generate_text.yaml")[0]
STREAM = load_cassette(CASSETTES / "stream_text.yaml")[0]
MODEL = "gemini-2.5-flash"


def _client(server: ReplayServer, timeout_ms: int | None = None) -> genai.Client:
    options = gtypes.HttpOptions(
        base_url=server.url,
        api_version="v1beta",  # google-genai 3.4 defaults to v1; every recording is v1beta
        timeout=timeout_ms,
        retry_options=gtypes.HttpRetryOptions(attempts=1),  # also stops its retry on connection errors
    )
    return genai.Client(api_key="test-key", http_options=options)


@asynccontextmanager
async def _aio(server: ReplayServer, timeout_ms: int | None = None) -> AsyncIterator[Any]:
    client = _client(server, timeout_ms)
    try:
        yield client.aio
    finally:
        await client.aio.aclose()


async def _collect(stream: AsyncIterator[gtypes.GenerateContentResponse]) -> list[gtypes.GenerateContentResponse]:
    return [chunk async for chunk in stream]


async def test_recorded_text_reply_parses(server: ReplayServer) -> None:
    server.enqueue_interaction(TEXT)
    config = gtypes.GenerateContentConfig(system_instruction="You are a chatbot.", response_modalities=["TEXT"])
    async with _aio(server) as aio:
        response = await aio.models.generate_content(model=MODEL, contents="Hello!", config=config)
    assert response.text == "Hello! How can I help you today?"
    assert response.usage_metadata is not None and response.usage_metadata.thoughts_token_count == 34
    assert server.requests[0].headers["x-goog-api-key"] == "test-key"
    assert server.requests[0].json()["contents"] == TEXT.request.json()["contents"]
    server.assert_all_used()


async def test_recorded_stream_on_alt_sse_gives_text_and_final_usage(server: ReplayServer) -> None:
    server.enqueue_interaction(STREAM)
    async with _aio(server) as aio:
        chunks = await _collect(
            await aio.models.generate_content_stream(model="gemini-2.0-flash-exp", contents="What is the capital?")
        )
    assert "".join(chunk.text or "" for chunk in chunks) == "The capital of France is Paris.\n"
    assert chunks[-1].usage_metadata is not None and chunks[-1].usage_metadata.prompt_token_count == 13
    assert server.requests[0].query["alt"] == "sse"
    server.assert_all_used()


async def test_sync_client_over_httpx2_replays_too(server: ReplayServer) -> None:
    server.enqueue_interaction(TEXT)
    client = _client(server)
    try:
        response = await anyio.to_thread.run_sync(lambda: client.models.generate_content(model=MODEL, contents="Hi"))
    finally:
        client.close()
    assert response.text == "Hello! How can I help you today?"


async def test_recorded_400_on_a_stream_request_raises_client_error(server: ReplayServer) -> None:
    server.enqueue_cassette(load_cassette(CASSETTES / "error_400_api_key_invalid_stream.yaml"))
    async with _aio(server) as aio:
        with pytest.raises(errors.ClientError) as caught:
            await _collect(await aio.models.generate_content_stream(model=MODEL, contents="x"))
    # Only the code: aiohttp and httpx2 transports fill the other fields differently (wire README).
    assert caught.value.code == 400


async def test_recorded_404_raises_client_error(server: ReplayServer) -> None:
    server.enqueue_cassette(load_cassette(CASSETTES / "error_404_model_not_found.yaml"))
    async with _aio(server) as aio:
        with pytest.raises(errors.ClientError) as caught:
            await aio.models.generate_content(model="this-model-does-not-exist-12345", contents="x")
    assert caught.value.code == 404


async def test_fault_429_raises_client_error_429(server: ReplayServer) -> None:
    server.enqueue(Fault.status(429, retry_after=3))
    async with _aio(server) as aio:
        with pytest.raises(errors.ClientError) as caught:
            await aio.models.generate_content(model=MODEL, contents="x")
    assert caught.value.code == 429


async def test_fault_503_raises_server_error(server: ReplayServer) -> None:
    server.enqueue(Fault.status(503))
    async with _aio(server) as aio:
        with pytest.raises(errors.ServerError) as caught:
            await aio.models.generate_content(model=MODEL, contents="x")
    assert caught.value.code == 503


async def test_reset_before_headers_raises_aiohttp_connection_error_unwrapped(server: ReplayServer) -> None:
    server.enqueue(Fault.reset())
    async with _aio(server) as aio:
        with pytest.raises(aiohttp.ClientConnectionError):
            await aio.models.generate_content(model=MODEL, contents="x")
    assert len(server.requests) == 1  # HttpRetryOptions(attempts=1) kept the SDK from retrying


async def test_hang_before_headers_times_out_in_the_sdk(server: ReplayServer) -> None:
    server.enqueue(Fault.hang())
    async with _aio(server, timeout_ms=50) as aio:
        with pytest.raises(TimeoutError):
            await aio.models.generate_content(model=MODEL, contents="x")
    await server.wait_for_disconnects(1)


async def test_cancelling_during_a_hang_closes_the_upstream_request(server: ReplayServer) -> None:
    server.enqueue(Fault.hang())
    async with _aio(server) as aio:
        call = asyncio.ensure_future(aio.models.generate_content(model=MODEL, contents="x"))
        await server.wait_for_requests(1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await server.wait_for_disconnects(1)
    assert server.requests[0].closed_early


async def test_cancelling_a_stream_mid_way_closes_the_upstream_response(server: ReplayServer) -> None:
    server.enqueue(Stream.from_response(STREAM.response).then_hang(after_events=1))
    texts: list[str] = []
    got_first = asyncio.Event()
    async with _aio(server) as aio:

        async def consume() -> None:
            async for chunk in await aio.models.generate_content_stream(model=MODEL, contents="x"):
                texts.append(chunk.text or "")
                got_first.set()

        consumer = asyncio.ensure_future(consume())
        await got_first.wait()
        consumer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await consumer
        await server.wait_for_disconnects(1)
    assert texts == ["The"]


async def test_aclose_of_the_sdk_stream_leaves_the_upstream_open_until_the_client_closes(
    server: ReplayServer,
) -> None:
    # google-genai nests async generators; aclose() on the outer one never reaches the inner
    # one that releases the aiohttp response. Adapters must cancel, or close the client.
    server.enqueue(Stream.from_response(STREAM.response).then_hang(after_events=1))
    async with _aio(server) as aio:
        stream = await aio.models.generate_content_stream(model=MODEL, contents="x")
        await anext(stream)
        await stream.aclose()
        assert not server.requests[0].done
    await server.wait_for_disconnects(1)


async def test_reset_mid_stream_raises_a_payload_error_after_the_events_sent(server: ReplayServer) -> None:
    server.enqueue(Stream.from_response(STREAM.response).then_reset(after_events=2))
    texts: list[str] = []
    async with _aio(server) as aio:
        with pytest.raises(aiohttp.ClientPayloadError):
            async for chunk in await aio.models.generate_content_stream(model=MODEL, contents="x"):
                texts.append(chunk.text or "")
    assert texts == ["The", " capital of France"]


async def test_malformed_sse_event_raises_unknown_api_response(server: ReplayServer) -> None:
    server.enqueue(Fault.malformed_sse(STREAM.response.sse_events()[:1]))
    async with _aio(server) as aio:
        with pytest.raises(errors.UnknownApiResponseError):
            await _collect(await aio.models.generate_content_stream(model=MODEL, contents="x"))


async def test_truncated_json_body_raises_a_json_error(server: ReplayServer) -> None:
    server.enqueue(Fault.truncated_json(TEXT.response.json()))
    async with _aio(server) as aio:
        with pytest.raises(json.JSONDecodeError):
            await aio.models.generate_content(model=MODEL, contents="x")


async def test_wrong_content_type_raises_a_json_error(server: ReplayServer) -> None:
    server.enqueue(Fault.wrong_content_type())
    async with _aio(server) as aio:
        with pytest.raises(json.JSONDecodeError):
            await aio.models.generate_content(model=MODEL, contents="x")
