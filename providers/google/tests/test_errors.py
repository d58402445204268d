"""Every Gemini failure becomes one ProviderError, and the API key never shows in a message or a log."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from completions_google import GoogleAdapter
from completions_google.errors import map_error, scrub

from completions_core.adapter import Credential
from completions_core.errors import ProviderError
from completions_core.secrets import Secret
from completions_core.testing.replay import Fault, Stream

from .conftest import KEY, collect, load, make_request

GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent"
STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"


def _error(code: int, status: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        body["details"] = details
    return {"error": body}


def _client_error(code: int, body: Any) -> BaseException:
    from google.genai import errors

    cls = errors.ClientError if code < 500 else errors.ServerError
    return cls(code, body)


@pytest.mark.anyio
async def test_recorded_resource_exhausted_is_a_retryable_rate_limit(server, adapter, client) -> None:
    server.enqueue_cassette(load("error_429_resource_exhausted.yaml"), path=GENERATE)
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client, make_request())
    error = info.value
    assert (error.error_type, error.status_code, error.retryable) == ("rate_limit_error", 429, True)
    assert error.message.startswith("RESOURCE_EXHAUSTED: Resource exhausted. Please try again later.")
    assert error.provider == "google"


@pytest.mark.anyio
async def test_retry_info_delay_is_the_retry_after(server, adapter, client) -> None:
    details = [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaMetric": "requests"}]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "34s"},
    ]
    server.enqueue(Fault.status(429, _error(429, "RESOURCE_EXHAUSTED", "Quota exceeded", details), retry_after=5))
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client, make_request())
    assert info.value.error_type == "rate_limit_error" and info.value.retry_after == 34.0


@pytest.mark.anyio
async def test_retry_after_header_is_used_without_retry_info(server, adapter, client) -> None:
    server.enqueue(Fault.status(429, _error(429, "RESOURCE_EXHAUSTED", "Slow down"), retry_after=3))
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client, make_request())
    assert info.value.retry_after == 3.0


@pytest.mark.anyio
async def test_an_error_chunk_mid_stream_is_mapped(server, adapter, client) -> None:
    server.enqueue_sse(
        [
            'data: {"candidates": [{"content": {"parts": [{"text": "Hel"}], "role": "model"}, "index": 0}]}\r\n\r\n',
            'data: {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}\r\n\r\n',
        ],
        path=STREAM,
    )
    with pytest.raises(ProviderError) as info:
        await collect(adapter, client, make_request())
    assert (info.value.error_type, info.value.status_code, info.value.retryable) == ("overloaded_error", 503, True)


@pytest.mark.anyio
async def test_a_connection_reset_mid_stream_is_a_connection_error(server, adapter, client) -> None:
    interaction = load("stream_text.yaml")[0]
    server.enqueue(Stream.from_response(interaction.response).then_reset(after_events=1))
    with pytest.raises(ProviderError) as info:
        await collect(adapter, client, make_request())
    assert info.value.error_type == "connection_error" and info.value.retryable


@pytest.mark.anyio
async def test_a_stream_that_stalls_after_headers_times_out(server, adapter, client) -> None:
    server.enqueue(Fault.hang_after_headers())
    with pytest.raises(ProviderError) as info:
        await collect(adapter, client, make_request(timeout=0.3))
    assert info.value.error_type == "timeout_error" and info.value.retryable


@pytest.mark.anyio
async def test_malformed_stream_json_is_an_invalid_response(server, adapter, client) -> None:
    server.enqueue(Fault.malformed_sse(['data: {"candidates": [{"content": {"parts": [{"text": "Hi"}]}}]}\r\n\r\n']))
    with pytest.raises(ProviderError) as info:
        await collect(adapter, client, make_request())
    assert info.value.error_type == "invalid_response_error"


@pytest.mark.anyio
async def test_the_key_never_appears_in_an_error_message(server, adapter, client) -> None:
    # An upstream (or a gateway in front of it) that echoes the key, in a URL and in a header dump.
    echo = f"API key {KEY} rejected at https://generativelanguage.googleapis.com/v1beta/models/x?key={KEY}&alt=sse " \
           f"with headers {{'x-goog-api-key': '{KEY}'}}"
    server.enqueue(Fault.status(400, _error(400, "INVALID_ARGUMENT", echo)))
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client, make_request())
    assert KEY not in info.value.message and KEY not in repr(info.value)
    assert "key=****" in info.value.message and "rejected at" in info.value.message
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.anyio
async def test_the_key_never_appears_in_any_log(server, adapter, client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # Every logger at DEBUG, also those the proxy holds at WARNING (an earlier test may have built one).
    for name in ("httpx2", "httpcore2", "google_genai", "hpack", "h2"):
        caplog.set_level(logging.DEBUG, logger=name)
    server.enqueue_cassette(load("generate_text.yaml"), path=GENERATE)
    server.enqueue_cassette(load("stream_text.yaml"), path=STREAM)
    server.enqueue_cassette(load("error_400_api_key_invalid.yaml"), path=GENERATE)
    server.enqueue_cassette(load("error_400_api_key_invalid_stream.yaml"), path=STREAM)
    await adapter.complete(client, make_request())
    await collect(adapter, client, make_request())
    for run in (adapter.complete(client, make_request()), collect(adapter, client, make_request())):
        with pytest.raises(ProviderError):
            await run
    server.assert_all_used()
    assert caplog.records, "expected the SDK and transport to log something at DEBUG"
    assert KEY not in caplog.text


@pytest.mark.anyio
async def test_a_missing_key_is_an_authentication_error(adapter) -> None:
    with pytest.raises(ProviderError) as info:
        adapter.client_config(make_request(), Credential("customer", None))
    assert info.value.error_type == "authentication_error"


@pytest.mark.parametrize(
    ("code", "status", "message", "expected"),
    [
        (400, "INVALID_ARGUMENT", "Invalid JSON payload received.", "invalid_request_error"),
        (400, "INVALID_ARGUMENT", "Request payload size exceeds the limit: 20971520 bytes.", "request_too_large_error"),
        (400, "FAILED_PRECONDITION", "User location is not supported for the API use.", "permission_error"),
        (401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", "authentication_error"),
        (403, "PERMISSION_DENIED", "The caller does not have permission", "permission_error"),
        (404, "NOT_FOUND", "models/nope is not found", "not_found_error"),
        (500, "INTERNAL", "An internal error has occurred.", "provider_error"),
        (503, "UNAVAILABLE", "The model is overloaded. Please try again later.", "overloaded_error"),
        (504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.", "timeout_error"),
    ],
)
def test_statuses_map_to_error_types(code: int, status: str, message: str, expected: str) -> None:
    error = map_error(_client_error(code, _error(code, status, message)))
    assert error is not None
    assert (error.error_type, error.status_code) == (expected, code)
    assert error.message == f"{status}: {message}"


def test_an_error_body_left_as_raw_text_is_still_understood() -> None:
    # google-genai's aiohttp transport does this with Gemini's streaming errors (wire README gotcha 2).
    raw = load("error_400_api_key_invalid_stream.yaml")[0].response.body
    error = map_error(_client_error(400, {"message": raw, "status": "Bad Request"}))
    assert error is not None
    assert (error.error_type, error.status_code) == ("authentication_error", 400)
    assert error.message == "INVALID_ARGUMENT: API key not valid. Please pass a valid API key."


def test_a_non_json_error_page_is_cut_short() -> None:
    page = "<html>" + "x" * 5000 + "</html>"
    error = map_error(_client_error(502, {"message": page, "status": "Bad Gateway"}))
    assert error is not None and error.error_type == "provider_error" and error.retryable
    assert len(error.message) < 1100


def test_an_unrecognised_exception_is_left_alone() -> None:
    assert map_error(KeyError("surprise")) is None


def test_scrub_masks_the_key_and_key_shaped_values() -> None:
    secret = Secret("my-very-secret-key")
    text = scrub(
        "url https://h/v1?alt=sse&key=abc123 hdr 'x-goog-api-key': 'zzz' raw my-very-secret-key "
        "google AIzaSyA1234567890abcdefghijklmnopqrstuv",
        secret,
    )
    assert "my-very-secret-key" not in text and "abc123" not in text and "zzz" not in text
    assert "AIzaSyA1234567890" not in text
    assert text.count("****") == 4


def test_adapter_rejects_a_foreign_client_config() -> None:
    with pytest.raises(TypeError):
        GoogleAdapter().create_client(Credential("customer", Secret(KEY)))


@pytest.mark.parametrize(
    "bad_key",
    [
        "AIzaSyA-abcdefghij\r\nklmnopqrstuvwxyz012345",
        "AIzaSyA-abcdefghij\nX-Injected: 1",
        "AIzaSyA-abcdefghij\x00klmnopqrstuvwxyz012345",
        "AIzaSyA-abcdefghijéklmnopqrstuvwxyz012345",
        "AIzaSyA-abcdefghij\u20acklmnopqrstuvwxyz012345",
    ],
)
@pytest.mark.anyio
async def test_a_key_no_header_can_carry_is_a_clear_401_that_never_repeats_it(server, adapter, bad_key: str) -> None:
    # Issue 14, item 9: such a key used to reach the transport, which failed with the raw key in
    # its message (a retryable 502) or with a UnicodeEncodeError holding it (a 500).
    with pytest.raises(ProviderError) as info:
        adapter.client_config(make_request(), Credential("customer", Secret(bad_key)))
    error = info.value
    assert (error.error_type, error.http_status, error.retryable) == ("authentication_error", 401, False)
    assert "header" in error.message
    for piece in ("abcdefghij", "klmnopqrst", "X-Injected"):
        assert piece not in error.message and piece not in repr(error)
    assert server.requests == []
