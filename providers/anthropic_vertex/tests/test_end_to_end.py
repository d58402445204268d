"""Anthropic on Vertex through the real proxy and client, with the managed service account."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from completions_anthropic_vertex import AnthropicVertexAdapter

from completions_core.plugins import ProviderRegistry
from completions_core.testing.cassettes import Cassette
from completions_core.testing.replay import ReplayServer

pytestmark = pytest.mark.anyio

PROJECT = "voicerun-test-1"
REGION = "us-east5"
MODEL = "claude-haiku-4-5@20251001"


def vertex_path(stream: bool) -> str:
    verb = "streamRawPredict" if stream else "rawPredict"
    return f"/v1/projects/{PROJECT}/locations/{REGION}/publishers/anthropic/models/{MODEL}:{verb}"


@pytest.fixture
async def client_reset() -> AsyncIterator[None]:
    from primfunctions.completions.client import _reset_for_tests

    await _reset_for_tests()
    yield
    await _reset_for_tests()


@pytest.fixture
def mounted_service_account(tmp_path: Path, private_key_pem: str) -> Path:
    path = tmp_path / "vertex-sa.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT,
                "private_key": private_key_pem,
                "client_email": "completions@voicerun-test-1.iam.gserviceaccount.com",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    return path


async def test_managed_service_account_end_to_end_with_one_token_fetch(
    server: ReplayServer, cassette: Any, mounted_service_account: Path, client_reset: None
) -> None:
    from completions_proxy.testing import running_proxy
    from primfunctions.completions import configure, configure_provider, generate_chat_completion

    recorded: Cassette = cassette("messages_text.yaml")
    server.enqueue_json(200, {"access_token": "ya29.managed", "expires_in": 3600, "token_type": "Bearer"}, path="/token")
    server.enqueue_cassette(recorded, path=vertex_path(False))
    server.enqueue_cassette(recorded, path=vertex_path(False))
    registry = ProviderRegistry()
    registry.register(
        AnthropicVertexAdapter(
            base_url=server.url + "/v1", project_id=PROJECT, region=REGION, token_uri=server.url + "/token"
        ),
        "test",
    )
    env = {"COMPLETIONS_VERTEX_SERVICE_ACCOUNT_FILE": str(mounted_service_account)}
    async with running_proxy(registry, env=env) as proxy:
        configure(proxy.url, proxy.token)
        configure_provider("anthropic_vertex", voicerun_managed=True)
        body = {"provider": "anthropic_vertex", "model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}
        first = await generate_chat_completion(body)
        second = await generate_chat_completion(body)
    assert first.message.content == second.message.content
    assert first.message.content and first.message.content.startswith("Sure, here's a joke")
    assert first.provider == "anthropic_vertex"
    assert [r.path for r in server.requests] == ["/token", vertex_path(False), vertex_path(False)]
    assert server.requests[-1].headers["authorization"] == "Bearer ya29.managed"
    server.assert_all_used()


async def test_a_region_outside_the_allowlist_is_a_400_through_the_proxy(
    server: ReplayServer, client_reset: None
) -> None:
    from completions_proxy.testing import running_proxy
    from primfunctions.completions import (
        CompletionsProxyError,
        configure,
        configure_provider,
        generate_chat_completion,
        generate_chat_completion_stream,
    )

    registry = ProviderRegistry()
    registry.register(AnthropicVertexAdapter(base_url=server.url + "/v1", project_id=PROJECT, region=REGION), "test")
    async with running_proxy(registry) as proxy:
        configure(proxy.url, proxy.token)
        configure_provider("anthropic_vertex", api_key="ya29.caller-token")
        body = {
            "provider": "anthropic_vertex",
            "model": MODEL,
            "messages": [{"role": "user", "content": "Hi"}],
            "provider_kwargs": {"anthropic_vertex": {"region": "evil.example.com/x"}},
        }
        with pytest.raises(CompletionsProxyError) as info:
            await generate_chat_completion(body)
        with pytest.raises(CompletionsProxyError) as streamed:
            stream = await generate_chat_completion_stream(body)
            async for _ in stream:
                pass
    assert server.requests == []
    assert (streamed.value.status_code, streamed.value.error_type) == (400, "invalid_request_error")
    error: Any = info.value
    assert (error.status_code, error.error_type) == (400, "invalid_request_error")
    assert "provider_kwargs.anthropic_vertex.region" in error.message
