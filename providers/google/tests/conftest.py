"""Fixtures for the Gemini provider tests: a replay server, a clean environment, small builders."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from completions_google import GoogleAdapter, GoogleClient

from completions_core.adapter import Credential
from completions_core.assembly import ResponseAssembler
from completions_core.redaction import Secret
from completions_core.request import ProviderRequest
from completions_core.testing.cassettes import Cassette, load_cassette
from completions_core.testing.replay import ReplayServer
from completions_core.testing.requests import provider_request
from completions_core.types import StreamOptions, UserMessage

CASSETTES = Path(__file__).parent / "cassettes"
KEY = "AIzaSy-test-GEMINI-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def _no_ambient_google_config(monkeypatch: pytest.MonkeyPatch) -> None:
    # google-genai reads GOOGLE_API_KEY, GOOGLE_GENAI_USE_VERTEXAI, GOOGLE_GEMINI_BASE_URL,
    # GOOGLE_GENAI_CLIENT_MODE, GOOGLE_GENAI_HTTP_CLIENT... from the environment: a developer's
    # shell must not change what a test does.
    for name in list(os.environ):
        if name.upper().startswith(("GOOGLE_", "GEMINI_")) or name == "COMPLETIONS_GOOGLE_BASE_URL":
            monkeypatch.delenv(name, raising=False)




@pytest.fixture
def adapter(server: ReplayServer) -> GoogleAdapter:
    """An adapter whose endpoint is the replay server (the operator base URL override)."""
    return GoogleAdapter(base_url=server.url)


@pytest.fixture
async def client(adapter: GoogleAdapter) -> AsyncIterator[GoogleClient]:
    """The client the proxy would build for a customer key; closed after the test."""
    request = provider_request(provider="google", model="m", messages=[UserMessage("Hi")])
    built = adapter.create_client(adapter.client_config(request, Credential("customer", Secret(KEY))))
    yield built
    await adapter.close_client(built)


def load(name: str) -> Cassette:
    """One of this plugin's cassettes."""
    return load_cassette(CASSETTES / name)


def make_request(**fields: Any) -> ProviderRequest:
    """A Gemini request with defaults; keyword arguments override fields."""
    values: dict[str, Any] = {"provider": "google", "model": "gemini-2.5-flash", "messages": [UserMessage("Hi")]}
    values.update(fields)
    return provider_request(**values)


async def collect(adapter: GoogleAdapter, client: GoogleClient, request: ProviderRequest) -> tuple[
    ResponseAssembler, list[Any]
]:
    """Run a stream to its end through the core assembler; also return the raw events."""
    assembler = ResponseAssembler(StreamOptions(), provider="google", model=request.model)
    events: list[Any] = []
    stream = adapter.stream(client, request)
    try:
        async for event in stream:
            events.append(event)
            assembler.feed(event)
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    assembler.finish()
    return assembler, events
