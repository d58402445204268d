"""Fixtures for the Anthropic plugin's own tests: a replay server and clients that get closed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from completions_anthropic import AnthropicAdapter

from completions_core.adapter import Credential
from completions_core.redaction import Secret
from completions_core.request import ProviderRequest
from completions_core.testing.cassettes import Cassette, load_cassette
from completions_core.testing.replay import ReplayServer

CASSETTES = Path(__file__).parent / "cassettes"
API_KEY = "sk-ant-test-PLUGIN-0d9c8b7a6f5e"




@pytest.fixture
def cassette() -> Callable[[str], Cassette]:
    def load(name: str) -> Cassette:
        return load_cassette(CASSETTES / name)

    return load


@pytest.fixture
def api_key() -> str:
    return API_KEY


@pytest.fixture
def adapter(server: ReplayServer) -> AnthropicAdapter:
    return AnthropicAdapter(base_url=server.url)


@pytest.fixture
async def client_for(adapter: AnthropicAdapter) -> AsyncIterator[Callable[[ProviderRequest], Any]]:
    made: list[Any] = []

    def build(request: ProviderRequest) -> Any:
        client = adapter.create_client(adapter.client_config(request, Credential("customer", Secret(API_KEY))))
        made.append(client)
        return client

    yield build
    for client in made:
        await adapter.close_client(client)
