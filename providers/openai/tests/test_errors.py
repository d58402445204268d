"""Every provider failure becomes one stable error_type, with the provider's message and retry hints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

import pytest
from completions_openai import OpenAIAdapter

from completions_core.errors import ProviderError
from completions_core.request import ProviderRequest
from completions_core.testing.cassettes import Cassette
from completions_core.testing.replay import Body, Fault, ReplayServer

Request = Callable[..., ProviderRequest]
ClientFor = Callable[[OpenAIAdapter, ProviderRequest], Any]


def openai_error(message: str, kind: str = "invalid_request_error", code: Optional[str] = None) -> dict[str, Any]:
    """OpenAI's documented error body."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


async def failure(adapter: OpenAIAdapter, client_for: ClientFor, request: ProviderRequest) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(adapter, request), request)
    return info.value


@pytest.mark.parametrize(
    ("status", "error_type", "retryable"),
    [
        (400, "invalid_request_error", False),
        (401, "authentication_error", False),
        (403, "permission_error", False),
        (404, "not_found_error", False),
        (408, "timeout_error", True),
        (409, "provider_error", True),
        (413, "request_too_large_error", False),
        (422, "invalid_request_error", False),
        (429, "rate_limit_error", True),
        (500, "provider_error", True),
        (502, "provider_error", True),
        (503, "overloaded_error", True),
        (504, "timeout_error", True),
        (402, "permission_error", False),
        (418, "invalid_request_error", False),
    ],
)
@pytest.mark.anyio
async def test_each_status_maps_to_one_error_type(
    server: ReplayServer,
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
    status: int,
    error_type: str,
    retryable: bool,
) -> None:
    server.enqueue(Fault.status(status, openai_error(f"upstream says {status}")))
    error = await failure(adapter, client_for, make_request())
    assert (error.error_type, error.status_code, error.retryable) == (error_type, status, retryable)
    assert error.message == f"upstream says {status}"
    assert error.provider == "openai"


@pytest.mark.anyio
async def test_a_bad_request_keeps_the_providers_message(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
) -> None:
    server.enqueue_cassette(cassette("chat_error_400_unsupported_value.yaml"))
    error = await failure(adapter, client_for, make_request(model="o1-mini"))
    assert error.message == "Unsupported value: 'messages[0].role' does not support 'system' with this model."
    assert error.http_status == 400


@pytest.mark.anyio
async def test_a_request_too_large_keeps_the_providers_message(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request
) -> None:
    server.enqueue(Fault.status(413, openai_error("Request too large for gpt-4o: 1200000 bytes")))
    error = await failure(adapter, client_for, make_request())
    assert (error.error_type, error.http_status) == ("request_too_large_error", 413)
    assert error.message == "Request too large for gpt-4o: 1200000 bytes"


@pytest.mark.anyio
async def test_an_openai_compatible_429_with_an_integer_code_is_a_rate_limit(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
) -> None:
    # OpenRouter sends "code": 429 (an int) where OpenAI sends a string.
    server.enqueue_cassette(cassette("compat_openrouter_error_429.yaml"), path="/v1/chat/completions")
    error = await failure(adapter, client_for, make_request())
    assert (error.error_type, error.status_code, error.retryable) == ("rate_limit_error", 429, True)
    assert error.message == "Provider returned error"


@pytest.mark.anyio
async def test_retry_after_ms_is_preferred_to_retry_after(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request
) -> None:
    server.enqueue(Fault.status(429, openai_error("slow down", "requests"), retry_after=7, retry_after_ms=1500))
    error = await failure(adapter, client_for, make_request())
    assert error.retry_after == 1.5


@pytest.mark.anyio
async def test_retry_after_as_an_http_date_is_read(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request
) -> None:
    server.enqueue(Fault.status(503, openai_error("busy", "server_error"), retry_after="Wed, 21 Oct 2015 07:28:00 GMT"))
    error = await failure(adapter, client_for, make_request())
    assert error.error_type == "overloaded_error"
    assert error.retry_after == 0.0  # a date in the past: retry now


@pytest.mark.anyio
async def test_an_exhausted_quota_is_a_rate_limit_that_no_retry_fixes(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request
) -> None:
    body = openai_error("You exceeded your current quota", "insufficient_quota", "insufficient_quota")
    server.enqueue(Fault.status(429, body))
    error = await failure(adapter, client_for, make_request())
    assert error.error_type == "rate_limit_error" and not error.retryable


@pytest.mark.anyio
async def test_x_should_retry_overrides_the_default(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request
) -> None:
    server.enqueue(Fault.status(500, openai_error("broken", "server_error"), headers={"x-should-retry": "false"}))
    error = await failure(adapter, client_for, make_request())
    assert error.error_type == "provider_error" and not error.retryable


@pytest.mark.anyio
async def test_an_error_body_that_is_not_json_still_maps_by_status(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request
) -> None:
    server.enqueue(Body("<html>Bad gateway</html>", status=502, content_type="text/html"))
    error = await failure(adapter, client_for, make_request())
    assert (error.error_type, error.status_code) == ("provider_error", 502)
    assert error.message == "openai answered HTTP 502"


@pytest.mark.anyio
async def test_the_key_is_masked_if_a_provider_echoes_it(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request, api_key: str
) -> None:
    server.enqueue(Fault.status(401, openai_error(f"Incorrect API key provided: {api_key}.")))
    error = await failure(adapter, client_for, make_request())
    assert api_key not in error.message and api_key not in str(error)
    assert error.message == "Incorrect API key provided: ****."


@pytest.mark.anyio
async def test_truncated_json_is_an_invalid_response(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request
) -> None:
    server.enqueue(Fault.truncated_json({"id": "chatcmpl-x", "object": "chat.completion", "choices": []}))
    error = await failure(adapter, client_for, make_request())
    assert error.error_type == "invalid_response_error"


@pytest.mark.anyio
async def test_an_html_page_with_status_200_is_an_invalid_response(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request
) -> None:
    server.enqueue(Fault.wrong_content_type())
    error = await failure(adapter, client_for, make_request())
    assert error.error_type == "invalid_response_error"
    assert "instead of a chat completion" in error.message


@pytest.mark.anyio
async def test_a_completion_without_choices_is_an_invalid_response(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request
) -> None:
    server.enqueue_json(
        200, {"id": "chatcmpl-x", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini", "choices": []}
    )
    error = await failure(adapter, client_for, make_request())
    assert error.error_type == "invalid_response_error"


@pytest.mark.anyio
async def test_a_redirect_is_not_followed(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request
) -> None:
    async with ReplayServer() as elsewhere:
        location = elsewhere.url + "/v1/chat/completions"
        server.enqueue(Body(b"", status=307, headers={"location": location}))
        error = await failure(adapter, client_for, make_request())
        assert elsewhere.requests == []
    assert (error.error_type, error.status_code, error.retryable) == ("invalid_response_error", 307, False)
