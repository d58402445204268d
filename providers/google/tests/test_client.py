"""Who the adapter talks to: the client it builds, how it is closed, and how the plugin is found."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import anyio
import pytest
from completions_google import GoogleAdapter
from completions_google.client import MAX_CONNECTIONS

from completions_core.adapter import Credential, TextDelta
from completions_core.redaction import Secret
from completions_core.testing.replay import Stream

from .conftest import KEY, load, make_request


def _credential() -> Credential:
    return Credential("customer", Secret(KEY))


@pytest.mark.anyio
async def test_closing_the_client_closes_the_pool_and_both_sdk_sides() -> None:
    adapter = GoogleAdapter(base_url="http://127.0.0.1:9")
    client = adapter.create_client(adapter.client_config(make_request(), _credential()))
    sync_http = client.genai._api_client._httpx_client
    await adapter.close_client(client)
    assert client.http.is_closed and sync_http.is_closed and client.closed
    await adapter.close_client(client)  # closing twice is harmless


@pytest.mark.anyio
async def test_the_stream_pool_holds_every_stream_the_proxy_admits() -> None:
    # A stream keeps its connection to its end: a pool smaller than the proxy's admission limit
    # (COMPLETIONS_MAX_INFLIGHT, 512 by default) would queue admitted streams before their first byte.
    adapter = GoogleAdapter(base_url="http://127.0.0.1:9")
    client = adapter.create_client(adapter.client_config(make_request(), _credential()))
    try:
        session = client.aiohttp_session()
        if session is None:  # COMPLETIONS_GOOGLE_TRANSPORT=httpx2: the SDK's pool
            assert client.http is not None
        else:
            assert session.connector is not None
            assert session.connector.limit == MAX_CONNECTIONS >= 512
    finally:
        await adapter.close_client(client)


def test_equal_keys_share_a_client_config_and_the_key_stays_hidden() -> None:
    adapter = GoogleAdapter(base_url="http://127.0.0.1:9")
    first = adapter.client_config(make_request(), _credential())
    second = adapter.client_config(make_request(model="gemini-2.0-flash"), _credential())
    other = adapter.client_config(make_request(), Credential("customer", Secret("another-key")))
    assert first == second and hash(first) == hash(second) and first != other
    assert KEY not in repr(first)


def test_base_url_comes_from_the_operator_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert GoogleAdapter().base_url == "https://generativelanguage.googleapis.com"
    monkeypatch.setenv("COMPLETIONS_GOOGLE_BASE_URL", "https://gemini-gateway.internal/")
    assert GoogleAdapter().base_url == "https://gemini-gateway.internal"
    assert GoogleAdapter(base_url="http://127.0.0.1:8080").base_url == "http://127.0.0.1:8080"


@pytest.mark.anyio
async def test_ambient_vertex_and_endpoint_settings_are_ignored(server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "true")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "someone-elses-project")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "us-central1")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("GOOGLE_GENAI_API_VERSION", "v1")
    monkeypatch.setenv("GOOGLE_API_KEY", "ambient-key")
    server.enqueue_cassette(load("generate_text.yaml"))
    adapter = GoogleAdapter(base_url=server.url)
    client = adapter.create_client(adapter.client_config(make_request(), _credential()))
    try:
        completion = await adapter.complete(client, make_request())
    finally:
        await adapter.close_client(client)
    assert completion.message.content == "Hello! How can I help you today?"
    server.assert_all_used()
    assert server.requests[0].headers["x-goog-api-key"] == KEY


def test_the_plugin_is_registered_under_the_completions_entry_point() -> None:
    (entry,) = [e for e in entry_points(group="completions") if e.name == "google"]
    assert entry.value == "completions_google"
    module = entry.load()
    registered = []
    module.register_providers(registered.append)
    assert [type(a) for a in registered] == [GoogleAdapter]
    adapter = registered[0]
    assert (adapter.name, adapter.aliases, adapter.managed_key_env) == (
        "google",
        ("gemini",),
        ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    )
    assert adapter.keeps_thought_signatures  # Gemini reads its signatures back on the next turn


def test_importing_the_plugin_does_not_import_the_sdk() -> None:
    code = "import sys, completions_google; print(sorted(m for m in ('google.genai', 'httpx2') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.anyio
async def test_a_cancelled_stream_closes_the_upstream_response(server, adapter, client) -> None:
    interaction = load("stream_text.yaml")[0]
    server.enqueue(Stream.from_response(interaction.response).then_hang(after_events=1))
    first = anyio.Event()

    async def consume() -> None:
        async for event in adapter.stream(client, make_request()):
            if isinstance(event, TextDelta):
                first.set()

    with anyio.fail_after(20):
        async with anyio.create_task_group() as group:
            group.start_soon(consume)
            await first.wait()
            group.cancel_scope.cancel()
        # No gc.collect(), no sleep: the adapter closed the HTTP response itself.
        await server.wait_for_disconnects(1)
    assert server.disconnects == 1
