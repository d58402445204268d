"""Who the adapter talks to: endpoint, key, headers, and nothing picked up behind the operator's back."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import pytest
from completions_openai import OpenAIAdapter, OpenAIClientConfig

from completions_core.adapter import Credential
from completions_core.errors import ProviderError
from completions_core.redaction import Secret
from completions_core.request import ProviderRequest
from completions_core.testing.cassettes import Cassette
from completions_core.testing.replay import ReplayServer

Request = Callable[..., ProviderRequest]
ClientFor = Callable[[OpenAIAdapter, ProviderRequest], Any]


def test_the_default_endpoint_is_openais() -> None:
    assert OpenAIAdapter().base_url == "https://api.openai.com/v1"


def test_the_operator_can_override_the_endpoint_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLETIONS_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert OpenAIAdapter().base_url == "http://127.0.0.1:9/v1"
    assert OpenAIAdapter(base_url="http://127.0.0.1:10/v1").base_url == "http://127.0.0.1:10/v1"


def test_equal_keys_share_a_client_config_and_other_keys_do_not(make_request: Request) -> None:
    adapter = OpenAIAdapter()
    request = make_request()
    one = adapter.client_config(request, Credential("customer", Secret("sk-aaaaaaaaaaaa")))
    same = adapter.client_config(request, Credential("managed", Secret("sk-aaaaaaaaaaaa")))
    other = adapter.client_config(request, Credential("customer", Secret("sk-bbbbbbbbbbbb")))
    assert one == same and hash(one) == hash(same)
    assert one != other
    assert "sk-aaaa" not in repr(one)


def test_a_client_without_a_key_is_refused_instead_of_reading_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    adapter = OpenAIAdapter()
    with pytest.raises(ProviderError) as info:
        adapter.create_client(OpenAIClientConfig(base_url=adapter.base_url, api_key=None))
    assert info.value.error_type == "authentication_error"


@pytest.mark.anyio
async def test_only_the_given_key_and_endpoint_are_used_whatever_the_environment_says(
    monkeypatch: pytest.MonkeyPatch,
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
    api_key: str,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-key-must-not-be-sent")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/elsewhere")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-operator")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-operator")
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "sk-admin-must-not-be-sent")
    server.enqueue_cassette(cassette("chat_text.yaml"))
    request = make_request()
    await adapter.complete(client_for(adapter, request), request)
    server.assert_all_used()
    headers = server.requests[-1].headers
    assert headers["authorization"] == f"Bearer {api_key}"
    assert "openai-organization" not in headers and "openai-project" not in headers
    assert not any("sk-env" in value or "sk-admin" in value for value in headers.values())


@pytest.mark.anyio
async def test_sdk_retries_are_off(
    server: ReplayServer, adapter: OpenAIAdapter, client_for: ClientFor, make_request: Request
) -> None:
    server.enqueue_json(500, {"error": {"message": "boom", "type": "server_error"}})
    request = make_request()
    with pytest.raises(ProviderError):
        await adapter.complete(client_for(adapter, request), request)
    assert len(server.requests) == 1
    assert server.requests[0].headers["x-stainless-retry-count"] == "0"


@pytest.mark.anyio
async def test_the_per_call_timeout_reaches_the_sdk(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: OpenAIAdapter,
    client_for: ClientFor,
    make_request: Request,
) -> None:
    server.enqueue_cassette(cassette("chat_text.yaml"))
    request = make_request(timeout=7.5)
    await adapter.complete(client_for(adapter, request), request)
    # The SDK reports the read timeout it applies to this very request.
    assert server.requests[-1].headers["x-stainless-read-timeout"] == "7.5"


def test_the_plugin_is_registered_under_the_completions_entry_point() -> None:
    (entry,) = [e for e in entry_points(group="completions") if e.name == "openai"]
    assert entry.value == "completions_openai"


def test_importing_the_plugin_does_not_import_the_sdk() -> None:
    code = "import sys, completions_openai; print('openai' in sys.modules, 'httpx2' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("transport", ["aiohttp", "httpx2"])
def test_the_transport_can_be_chosen_and_never_follows_redirects(transport: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import openai
    from completions_openai.adapter import _http_client

    monkeypatch.setenv("COMPLETIONS_OPENAI_TRANSPORT", transport)
    client = _http_client()
    expected = openai.DefaultAioHttpClient if transport == "aiohttp" else openai.DefaultAsyncHttpxClient
    assert isinstance(client, expected)
    assert client.follow_redirects is False


@pytest.mark.anyio
async def test_warm_opens_the_connection_with_one_model_listing_and_never_fails() -> None:
    async with ReplayServer() as server:
        server.enqueue_json(200, {"object": "list", "data": []}, path="/v1/models")
        server.enqueue_json(500, {"error": {"message": "down", "type": "server_error"}}, path="/v1/models")
        adapter = OpenAIAdapter(base_url=server.url + "/v1")
        client = adapter.create_client(OpenAIClientConfig(base_url=server.url + "/v1", api_key=Secret("sk-test-warm-0001")))
        try:
            await adapter.warm(client)
            await adapter.warm(client)  # a failing warm-up is silent
        finally:
            await adapter.close_client(client)
        assert [r.path for r in server.requests] == ["/v1/models", "/v1/models"]
        assert server.requests[0].headers["authorization"] == "Bearer sk-test-warm-0001"
