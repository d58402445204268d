"""The prepared streaming post: the same request on the wire and the same failures as the SDK's
own ``client.post``, on the client's own connection pool."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

import anyio.to_thread
import openai
import pytest
from completions_openai import OpenAIAdapter
from completions_openai.adapter import _http_client
from completions_openai.sending import prepared_post

from completions_core.adapter import StreamEvent, TextDelta
from completions_core.errors import ProviderError
from completions_core.testing.replay import ReplayServer
from completions_core.testing.replies import Stream, refusing_port
from completions_core.types import ChatCompletionRequest

Request = Callable[..., ChatCompletionRequest]
ClientFor = Callable[[OpenAIAdapter, ChatCompletionRequest], Any]

pytestmark = pytest.mark.anyio


def sdk_client(adapter: OpenAIAdapter, api_key: str) -> Any:
    """A client built like the adapter's, but not by it: it has no prepared post, the SDK sends."""
    client = openai.AsyncOpenAI(api_key=api_key, base_url=adapter.base_url, max_retries=0, http_client=_http_client())
    client.organization = None
    client.project = None
    return client


async def collect(adapter: OpenAIAdapter, client: Any, request: ChatCompletionRequest) -> list[StreamEvent]:
    return [event async for event in adapter.stream(client, request)]


async def stream_failure(adapter: OpenAIAdapter, client: Any, request: ChatCompletionRequest) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        await collect(adapter, client, request)
    return info.value


async def test_only_clients_the_adapter_built_have_a_prepared_post(
    adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request, api_key: str
) -> None:
    request = make_request()
    assert prepared_post(client_for(adapter, request)) is not None
    plain = sdk_client(adapter, api_key)
    try:
        assert prepared_post(plain) is None
        assert prepared_post(plain.with_options(timeout=5.0)) is None  # a copy: the SDK sends
    finally:
        await plain.close()


@pytest.mark.parametrize("request_timeout", [None, 12.5])
async def test_the_request_on_the_wire_is_the_sdks(
    server: ReplayServer,
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
    sse_stream: Callable[..., list[str]],
    api_key: str,
    request_timeout: Optional[float],
) -> None:
    request = make_request(timeout=request_timeout, temperature=0.5, max_tokens=20)
    server.enqueue_sse(sse_stream({"content": "Hi"}))
    server.enqueue_sse(sse_stream({"content": "Hi"}))
    prepared, plain = client_for(adapter, request), sdk_client(adapter, api_key)
    try:
        assert await collect(adapter, prepared, request) == await collect(adapter, plain, request)
    finally:
        await plain.close()
    fast, sdk = server.requests
    assert (fast.method, fast.path, fast.query) == (sdk.method, sdk.path, sdk.query) == ("POST", "/v1/chat/completions", {})
    assert fast.json() == sdk.json()
    assert fast.json()["stream"] is True and fast.json()["stream_options"] == {"include_usage": True}
    ignored = {"content-length"}  # the SDK's encoder and orjson may space the same JSON differently
    assert {k: v for k, v in fast.headers.items() if k not in ignored} == {
        k: v for k, v in sdk.headers.items() if k not in ignored
    }
    assert fast.headers["authorization"] == f"Bearer {api_key}"
    if request_timeout is not None:
        assert fast.headers["x-stainless-read-timeout"] == str(request_timeout)


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (400, {"error": {"message": "bad messages", "type": "invalid_request_error", "code": None}}, {}),
        (401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                         "code": "invalid_api_key"}}, {}),
        (429, {"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}},
         {"retry-after": "7"}),
        (429, {"error": {"message": "quota", "type": "insufficient_quota", "code": "insufficient_quota"}}, {}),
        (500, {"error": {"message": "oops", "type": "server_error"}}, {"x-should-retry": "false"}),
        (503, "upstream unavailable", {}),
    ],
)
async def test_a_failed_status_maps_as_through_the_sdk(
    server: ReplayServer,
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
    api_key: str,
    status: int,
    body: Any,
    headers: dict[str, str],
) -> None:
    request = make_request()
    for _ in range(2):
        server.enqueue_json(status, body, headers=headers)
    plain = sdk_client(adapter, api_key)
    try:
        fast = await stream_failure(adapter, client_for(adapter, request), request)
        sdk = await stream_failure(adapter, plain, request)
    finally:
        await plain.close()
    assert (fast.error_type, fast.message, fast.status_code, fast.retryable, fast.retry_after) == (
        sdk.error_type, sdk.message, sdk.status_code, sdk.retryable, sdk.retry_after
    )
    assert fast.status_code == status


async def test_an_unreachable_provider_fails_as_through_the_sdk(
    make_request: Request, client_for: ClientFor, api_key: str
) -> None:
    request = make_request()
    with refusing_port() as port:
        adapter = OpenAIAdapter(base_url=f"http://127.0.0.1:{port}/v1")
        plain = sdk_client(adapter, api_key)
        try:
            fast = await stream_failure(adapter, client_for(adapter, request), request)
            sdk = await stream_failure(adapter, plain, request)
        finally:
            await plain.close()
    assert (fast.error_type, fast.message) == (sdk.error_type, sdk.message)
    assert fast.error_type == "connection_error"


async def test_the_prepared_post_sends_on_the_sdk_clients_own_pool(
    server: ReplayServer,
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
    sse_stream: Callable[..., list[str]],
) -> None:
    request = make_request()
    client = client_for(adapter, request)
    for text in ("one", "two"):
        server.enqueue_sse(sse_stream({"content": text}))
    got = [await collect(adapter, client, request) for _ in range(2)]
    assert [[e.text for e in events if isinstance(e, TextDelta)] for events in got] == [["one"], ["two"]]
    post = prepared_post(client)
    assert post is not None and not post.http.is_closed
    await client.close()  # what the proxy's client cache does: the SDK closes the one pool
    assert post.http.is_closed


async def test_cookies_the_provider_set_go_back_as_through_the_sdk(
    server: ReplayServer,
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
    sse_stream: Callable[..., list[str]],
    api_key: str,
) -> None:
    request = make_request()
    prepared, plain = client_for(adapter, request), sdk_client(adapter, api_key)
    try:
        for client in (prepared, plain):
            server.enqueue_sse(sse_stream({"content": "a"}), headers={"set-cookie": "__cf_bm=abc123; Path=/"})
            server.enqueue_sse(sse_stream({"content": "b"}))
            await collect(adapter, client, request)
            await collect(adapter, client, request)
    finally:
        await plain.close()
    fast_first, fast_second, sdk_first, sdk_second = server.requests
    assert "cookie" not in fast_first.headers and "cookie" not in sdk_first.headers
    assert fast_second.headers["cookie"] == sdk_second.headers["cookie"] == "__cf_bm=abc123"


async def test_a_client_built_outside_the_event_loop_sends_the_sdks_headers(
    server: ReplayServer,
    adapter: OpenAIAdapter,
    make_request: Request,
    sse_stream: Callable[..., list[str]],
    api_key: str,
) -> None:
    # One SDK header names the async library of the request: it is known only in the event loop.
    from completions_core.adapter import Credential
    from completions_core.redaction import Secret

    request = make_request()
    config = adapter.client_config(request, Credential("customer", Secret(api_key)))
    prepared = await anyio.to_thread.run_sync(adapter.create_client, config)
    plain = sdk_client(adapter, api_key)
    try:
        for client in (prepared, plain):
            server.enqueue_sse(sse_stream({"content": "a"}))
            await collect(adapter, client, request)
    finally:
        await prepared.close()
        await plain.close()
    fast, sdk = server.requests
    assert fast.headers["x-stainless-async"] == sdk.headers["x-stainless-async"] == "async:asyncio"


async def test_the_prepared_post_reads_the_body_straight_from_aiohttp(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request,
    sse_stream: Callable[..., list[str]],
) -> None:
    request = make_request()
    server.enqueue_sse(sse_stream({"content": "Hi"}))
    post = prepared_post(client_for(adapter, request))
    assert post is not None
    body = await post.send({"model": "gpt-4o-mini", "stream": True}, 5.0)
    try:
        assert body.direct  # the SDK's default transport is aiohttp: its response is read as is
        data = await body.aread()
    finally:
        await body.aclose()
    assert b'"content":"Hi"' in data.replace(b" ", b"") and data.rstrip().endswith(b"data: [DONE]")


async def test_an_upstream_silent_mid_stream_times_out_as_through_the_sdk(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request,
    sse_stream: Callable[..., list[str]], api_key: str,
) -> None:
    # The request's timeout is the longest wait for the next bytes: aiohttp's read timer, on the
    # prepared post (read straight from aiohttp) as on the SDK's own sending. The upstream then
    # hangs for good.
    request = make_request(timeout=0.2)
    events = sse_stream({"content": "Hel"}, {"content": "lo"})
    plain = sdk_client(adapter, api_key)
    seen: dict[str, list[str]] = {}
    failures: dict[str, ProviderError] = {}
    try:
        for name, client in (("fast", client_for(adapter, request)), ("sdk", plain)):
            server.enqueue(Stream(events).then_hang(after_events=3))
            texts = seen.setdefault(name, [])
            with pytest.raises(ProviderError) as info:
                async for event in adapter.stream(client, request):
                    if isinstance(event, TextDelta):
                        texts.append(event.text)
            failures[name] = info.value
    finally:
        await plain.close()
    await server.wait_for_disconnects(2)  # both dropped the silent connection
    fast, sdk = failures["fast"], failures["sdk"]
    assert (fast.error_type, fast.message, fast.retryable) == (sdk.error_type, sdk.message, sdk.retryable)
    assert fast.error_type == "timeout_error"
    assert seen["fast"] == seen["sdk"] == ["Hel", "lo"]


async def test_a_stream_the_caller_stops_closes_the_upstream_response(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request,
    sse_stream: Callable[..., list[str]],
) -> None:
    request = make_request()
    server.enqueue(Stream(sse_stream({"content": "Hel"}, {"content": "lo"})).then_hang(after_events=2))
    stream = adapter.stream(client_for(adapter, request), request)
    async for event in stream:
        if isinstance(event, TextDelta):
            break
    await stream.aclose()  # type: ignore[attr-defined]
    await server.wait_for_disconnects(1)
    assert server.requests[0].closed_early
