"""The prepared streaming post: the same request on the wire and the same failures as the SDK's
own ``messages.with_streaming_response.create``, on the client's own connection pool."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

import anthropic
import pytest
from completions_anthropic import AnthropicAdapter
from completions_anthropic.adapter import _timeout, http_client
from completions_anthropic.sending import prepared_post

from completions_core.adapter import StreamEvent, TextDelta
from completions_core.errors import ProviderError
from completions_core.request import ProviderRequest
from completions_core.testing.cassettes import Cassette
from completions_core.testing.replay import ReplayServer
from completions_core.testing.replies import Stream, refusing_port
from completions_core.testing.requests import provider_request
from completions_core.types import CacheBreakpoint, SystemMessage, UserMessage

ClientFor = Callable[[ProviderRequest], Any]

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Using Claude with .*:UserWarning"),
]

THINKING = {"anthropic": {"thinking": {"type": "enabled", "budget_tokens": 1024}}}


def sdk_client(adapter: AnthropicAdapter, api_key: str) -> Any:
    """A client built like the adapter's, but not by it: it has no prepared post, the SDK sends."""
    return anthropic.AsyncAnthropic(
        api_key=api_key, base_url=adapter.base_url, max_retries=0, timeout=_timeout(None), http_client=http_client()
    )


def text_request(**fields: Any) -> ProviderRequest:
    return provider_request("anthropic", "claude-haiku-4-5", **fields)


async def collect(adapter: AnthropicAdapter, client: Any, request: ProviderRequest) -> list[StreamEvent]:
    return [event async for event in adapter.stream(client, request)]


async def stream_failure(adapter: AnthropicAdapter, client: Any, request: ProviderRequest) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        await collect(adapter, client, request)
    return info.value


async def test_only_clients_the_adapter_built_have_a_prepared_post(
    adapter: AnthropicAdapter, client_for: ClientFor, api_key: str
) -> None:
    assert prepared_post(client_for(text_request())) is not None
    plain = sdk_client(adapter, api_key)
    try:
        assert prepared_post(plain) is None
        assert prepared_post(plain.with_options(timeout=5.0)) is None  # a copy: the SDK sends
    finally:
        await plain.close()


@pytest.mark.parametrize(
    ("recording", "fields"),
    [
        ("messages_stream_text.yaml", {"timeout": None, "temperature": 0.5, "max_tokens": 20}),
        ("messages_stream_text.yaml", {"timeout": 12.5}),
        ("messages_stream_thinking.yaml", {"model": "claude-3-7-sonnet-20250219", "max_tokens": 2048,
                                           "provider_kwargs": THINKING}),
        ("messages_stream_prompt_cache.yaml", {"messages": [
            SystemMessage("Always answer in English.", cache_breakpoint=CacheBreakpoint(ttl="1h")),
            UserMessage("Say hello."),
        ]}),
    ],
)  # fmt: skip
async def test_the_request_on_the_wire_is_the_sdks(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: AnthropicAdapter,
    client_for: ClientFor,
    api_key: str,
    recording: str,
    fields: dict[str, Any],
) -> None:
    request = provider_request(**{"provider": "anthropic", "model": "claude-haiku-4-5", **fields})
    for _ in range(2):
        server.enqueue_cassette(cassette(recording), only=[0])
    prepared, plain = client_for(request), sdk_client(adapter, api_key)
    try:
        fast_events = await collect(adapter, prepared, request)
        assert fast_events == await collect(adapter, plain, request)
    finally:
        await plain.close()
    assert any(isinstance(event, TextDelta) for event in fast_events)
    fast, sdk = server.requests
    assert (fast.method, fast.path, fast.query) == (sdk.method, sdk.path, sdk.query) == ("POST", "/v1/messages", {})
    assert fast.json() == sdk.json()
    assert fast.json()["stream"] is True
    # The SDK's encoder and orjson may space the same JSON differently; x-stainless-raw-response
    # is the SDK's marker of its with_streaming_response wrapper, which the prepared post is not.
    ignored = {"content-length", "x-stainless-raw-response"}
    assert sdk.headers["x-stainless-raw-response"] == "stream" and "x-stainless-raw-response" not in fast.headers
    assert {k: v for k, v in fast.headers.items() if k not in ignored} == {
        k: v for k, v in sdk.headers.items() if k not in ignored
    }
    timeout: Optional[float] = fields.get("timeout")
    expected = str(timeout if timeout is not None else 600.0)
    assert fast.headers["x-stainless-read-timeout"] == fast.headers["x-stainless-timeout"] == expected


def anthropic_error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (400, anthropic_error("invalid_request_error", "max_tokens: Field required"), {}),
        (401, anthropic_error("authentication_error", "invalid x-api-key"), {}),
        (404, anthropic_error("not_found_error", "model: claude-nope"), {}),
        (429, anthropic_error("rate_limit_error", "slow down"), {"retry-after": "7"}),
        (500, anthropic_error("api_error", "Internal server error"), {"x-should-retry": "false"}),
        (529, anthropic_error("overloaded_error", "Overloaded"), {}),
        (503, "upstream unavailable", {}),
    ],
)
async def test_a_failed_status_maps_as_through_the_sdk(
    server: ReplayServer,
    adapter: AnthropicAdapter,
    client_for: ClientFor,
    api_key: str,
    status: int,
    body: Any,
    headers: dict[str, str],
) -> None:
    request = text_request()
    for _ in range(2):
        server.enqueue_json(status, body, headers=headers)
    plain = sdk_client(adapter, api_key)
    try:
        fast = await stream_failure(adapter, client_for(request), request)
        sdk = await stream_failure(adapter, plain, request)
    finally:
        await plain.close()
    assert (fast.error_type, fast.message, fast.status_code, fast.retryable, fast.retry_after) == (
        sdk.error_type, sdk.message, sdk.status_code, sdk.retryable, sdk.retry_after
    )  # fmt: skip
    assert fast.status_code == status
    assert api_key not in repr(fast) and api_key not in str(fast) and fast.__cause__ is None


async def test_the_recorded_401_maps_as_through_the_sdk(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: AnthropicAdapter,
    client_for: ClientFor,
    api_key: str,
) -> None:
    request = text_request()
    for _ in range(2):
        server.enqueue_cassette(cassette("messages_error_401_authentication_stream.yaml"), only=[0])
    plain = sdk_client(adapter, api_key)
    try:
        fast = await stream_failure(adapter, client_for(request), request)
        sdk = await stream_failure(adapter, plain, request)
    finally:
        await plain.close()
    assert (fast.error_type, fast.message, fast.status_code) == (sdk.error_type, sdk.message, sdk.status_code)
    assert (fast.error_type, fast.status_code) == ("authentication_error", 401)


async def test_an_unreachable_provider_fails_as_through_the_sdk(api_key: str) -> None:
    from completions_core.adapter import Credential
    from completions_core.redaction import Secret

    request = text_request()
    with refusing_port() as port:
        adapter = AnthropicAdapter(base_url=f"http://127.0.0.1:{port}")
        prepared = adapter.create_client(adapter.client_config(request, Credential("customer", Secret(api_key))))
        plain = sdk_client(adapter, api_key)
        try:
            fast = await stream_failure(adapter, prepared, request)
            sdk = await stream_failure(adapter, plain, request)
        finally:
            await plain.close()
            await prepared.close()
    assert (fast.error_type, fast.message) == (sdk.error_type, sdk.message)
    assert fast.error_type == "connection_error"


async def test_the_prepared_post_sends_on_the_sdk_clients_own_pool(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    request = text_request()
    client = client_for(request)
    for _ in range(2):
        server.enqueue_cassette(cassette("messages_stream_text.yaml"), only=[0])
    first, second = [await collect(adapter, client, request) for _ in range(2)]
    assert first == second and any(isinstance(event, TextDelta) for event in first)
    post = prepared_post(client)
    assert post is not None and post.http is client._client and not post.http.is_closed
    await adapter.close_client(client)  # what the proxy's client cache does: the SDK closes the one pool
    assert post.http.is_closed


async def test_while_a_trace_is_active_the_sdk_sends_and_propagates_it(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    request = text_request()
    client = client_for(request)
    assert prepared_post(client) is not None
    parent = NonRecordingSpan(SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, False, TraceFlags(1)))
    server.enqueue_cassette(cassette("messages_stream_text.yaml"), only=[0])
    with trace.use_span(parent):
        assert prepared_post(client) is None  # the SDK makes the span and sends its trace headers
        await collect(adapter, client, request)
    (sent,) = server.requests
    assert sent.headers["traceparent"].split("-")[1] == "0af7651916cd43dd8448eb211c80319c"


async def test_an_upstream_silent_mid_stream_times_out_as_through_the_sdk(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor,
    api_key: str,
) -> None:
    # The recorded stream, cut after its first text delta; then the upstream hangs for good. The
    # request's timeout is the longest wait for the next bytes: aiohttp's read timer, on the
    # prepared post (read straight from aiohttp) as on the SDK's own sending.
    recorded = cassette("messages_stream_text.yaml")[0].response
    events = recorded.sse_events()
    first_text = next(i for i, event in enumerate(events) if "text_delta" in event) + 1
    request = text_request(timeout=0.2)
    plain = sdk_client(adapter, api_key)
    seen: dict[str, list[str]] = {}
    failures: dict[str, ProviderError] = {}
    try:
        for name, client in (("fast", client_for(request)), ("sdk", plain)):
            server.enqueue(Stream.from_response(recorded).then_hang(after_events=first_text))
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
    assert len(seen["fast"]) == 1 and seen["fast"] == seen["sdk"]


async def test_the_prepared_post_reads_the_body_straight_from_aiohttp(
    server: ReplayServer, cassette: Callable[[str], Cassette], client_for: ClientFor
) -> None:
    server.enqueue_cassette(cassette("messages_stream_text.yaml"), only=[0])
    post = prepared_post(client_for(text_request()))
    assert post is not None
    body = await post.send({"model": "claude-haiku-4-5", "max_tokens": 20, "stream": True, "messages": []}, 5.0)
    try:
        assert body.direct  # the SDK's default transport here is aiohttp: its response is read as is
        data = await body.aread()
    finally:
        await body.aclose()
    assert b"event: message_stop" in data
