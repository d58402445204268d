"""Error mapping: recorded errors, and the documented ones no recording has (529, 413, stream errors)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from completions_anthropic import AnthropicAdapter, retry_after_seconds

from completions_core.errors import ProviderError
from completions_core.request import ProviderRequest
from completions_core.testing.cassettes import Cassette
from completions_core.testing.contract import collect
from completions_core.testing.replay import Fault, ReplayServer, Stream
from completions_core.testing.requests import provider_request
from completions_core.types import UserMessage

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
]

ClientFor = Callable[[ProviderRequest], Any]
# Anthropic's documented overload body (no real 529 was ever recorded in a permissive repo).
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def request(**fields: Any) -> ProviderRequest:
    values: dict[str, Any] = {"provider": "anthropic", "model": "claude-haiku-4-5", "messages": [UserMessage("Hi")]}
    values.update(fields)
    return provider_request(**values)


def error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_synth"}


async def test_529_overloaded_is_a_retryable_overloaded_error(
    server: ReplayServer, adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    server.enqueue(Fault.status(529, OVERLOADED))
    server.enqueue(Fault.status(529, OVERLOADED))
    req = request()
    client = client_for(req)
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client, req)
    assert (info.value.error_type, info.value.status_code, info.value.retryable) == ("overloaded_error", 529, True)
    assert info.value.message == "Overloaded" and info.value.http_status == 503
    with pytest.raises(ProviderError) as streamed:
        await collect(adapter, client, req)
    assert (streamed.value.error_type, streamed.value.retryable) == ("overloaded_error", True)
    assert len(server.requests) == 2  # SDK retries are off: one request per call


async def test_an_overloaded_error_event_inside_the_stream_is_retryable(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    recorded = Stream.from_response(cassette("messages_stream_text.yaml")[0].response)
    events = [*recorded.events[:4], f"event: error\ndata: {json.dumps(OVERLOADED)}\n\n"]
    server.enqueue_sse(events)
    req = request()
    with pytest.raises(ProviderError) as info:
        await collect(adapter, client_for(req), req)
    assert (info.value.error_type, info.value.retryable) == ("overloaded_error", True)
    assert info.value.message == "Overloaded"
    assert info.value.status_code is None  # the stream itself had started with 200


async def test_413_keeps_anthropics_message_verbatim(
    server: ReplayServer, adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    message = "Request exceeds the maximum allowed number of bytes."
    server.enqueue(Fault.status(413, error("request_too_large", message)))
    req = request()
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(req), req)
    assert (info.value.error_type, info.value.status_code, info.value.message) == (
        "request_too_large_error",
        413,
        message,
    )
    assert not info.value.retryable and info.value.http_status == 413


async def test_400_keeps_anthropics_message_verbatim(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    server.enqueue_cassette(cassette("messages_error_400_invalid_request.yaml"), path="/v1/messages")
    req = request()
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(req), req)
    assert info.value.message == "This model does not support effort level 'xhigh'. Supported levels: high, low, max, medium."
    assert (info.value.error_type, info.value.http_status) == ("invalid_request_error", 400)


@pytest.mark.parametrize(
    ("status", "kind", "expected", "retryable"),
    [
        (401, "authentication_error", "authentication_error", False),
        (403, "permission_error", "permission_error", False),
        (404, "not_found_error", "not_found_error", False),
        (500, "api_error", "provider_error", True),
        (502, "api_error", "provider_error", True),
        (503, "overloaded_error", "overloaded_error", True),
        (504, "timeout_error", "timeout_error", True),
    ],
)
async def test_status_codes_are_mapped(
    status: int,
    kind: str,
    expected: str,
    retryable: bool,
    server: ReplayServer,
    adapter: AnthropicAdapter,
    client_for: ClientFor,
) -> None:
    server.enqueue(Fault.status(status, error(kind, f"synthetic {kind}")))
    req = request()
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(req), req)
    assert (info.value.error_type, info.value.status_code, info.value.retryable) == (expected, status, retryable)
    assert info.value.message == f"synthetic {kind}"


async def test_429_keeps_retry_after_ms(server: ReplayServer, adapter: AnthropicAdapter, client_for: ClientFor) -> None:
    server.enqueue(Fault.status(429, error("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"), retry_after_ms=1500))
    req = request()
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(req), req)
    assert (info.value.error_type, info.value.retry_after, info.value.retryable) == ("rate_limit_error", 1.5, True)


def test_retry_after_reads_seconds_milliseconds_and_http_dates() -> None:
    assert retry_after_seconds({"retry-after": "7"}) == 7.0
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "7"}) == 0.25
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


async def test_a_stream_that_ends_before_message_stop_is_an_invalid_response(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    recorded = Stream.from_response(cassette("messages_stream_text.yaml")[0].response)
    server.enqueue_sse(list(recorded.events[:6]))
    req = request()
    with pytest.raises(ProviderError) as info:
        await collect(adapter, client_for(req), req)
    assert (info.value.error_type, info.value.retryable) == ("invalid_response_error", True)


async def test_a_connection_reset_mid_stream_is_a_retryable_connection_error(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    server.enqueue(Stream.from_response(cassette("messages_stream_text.yaml")[0].response).then_reset(after_events=5))
    req = request()
    with pytest.raises(ProviderError) as info:
        await collect(adapter, client_for(req), req)
    assert (info.value.error_type, info.value.retryable) == ("connection_error", True)


async def test_a_malformed_event_is_an_invalid_response(
    server: ReplayServer, adapter: AnthropicAdapter, client_for: ClientFor
) -> None:
    server.enqueue(Fault.malformed_sse(event='event: message_start\ndata: {"type": "message_st\n\n'))
    req = request()
    with pytest.raises(ProviderError) as info:
        await collect(adapter, client_for(req), req)
    assert info.value.error_type == "invalid_response_error"


async def test_the_key_never_reaches_an_error_message(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicAdapter, client_for: ClientFor, api_key: str
) -> None:
    server.enqueue_cassette(cassette("messages_error_401_authentication.yaml"))
    req = request()
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(req), req)
    assert info.value.message == "invalid x-api-key"
    assert api_key not in repr(info.value) and api_key not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
