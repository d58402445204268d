"""Fixtures for the OpenAI plugin's tests: a replay server, a clean environment, small builders."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Optional

import pytest
from completions_openai import OpenAIAdapter

from completions_core.adapter import Credential
from completions_core.redaction import Secret
from completions_core.request import ProviderRequest
from completions_core.testing.cassettes import Cassette, load_cassette
from completions_core.testing.replay import ReplayServer
from completions_core.testing.requests import provider_request
from completions_core.types import UserMessage

CASSETTES = Path(__file__).parent / "cassettes"
KEY = "sk-test-openai-7c1e2d3f4a5b"

# Variables that make the SDK pick another endpoint, account or credential behind the test's back.
_PROVIDER_ENV_PREFIXES = ("OPENAI_", "COMPLETIONS_OPENAI_", "DASHSCOPE_", "COMPLETIONS_ALIBABA_")



@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(_PROVIDER_ENV_PREFIXES):
            monkeypatch.delenv(name)



@pytest.fixture
def cassette() -> Callable[[str], Cassette]:
    """Load one of this plugin's cassettes by file name."""
    return lambda name: load_cassette(CASSETTES / name)


@pytest.fixture
def adapter(server: ReplayServer) -> OpenAIAdapter:
    """An adapter pointed at the replay server (operator base URL override)."""
    return OpenAIAdapter(base_url=server.url + "/v1")


@pytest.fixture
def make_request() -> Callable[..., ProviderRequest]:
    """A request with sensible defaults; keyword arguments override fields."""

    def build(**fields: Any) -> ProviderRequest:
        values: dict[str, Any] = {"provider": "openai", "model": "gpt-4o-mini", "messages": [UserMessage("Hi")]}
        values.update(fields)
        return provider_request(**values)

    return build


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[[OpenAIAdapter, ProviderRequest], Any]]:
    """The SDK client the proxy would build for a request (customer key); closed after the test."""
    clients: list[Any] = []

    def build(adapter: OpenAIAdapter, request: ProviderRequest) -> Any:
        client = adapter.create_client(adapter.client_config(request, Credential("customer", Secret(KEY))))
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.close()


def _chunk(
    delta: Optional[dict[str, Any]] = None,
    finish: Optional[str] = None,
    usage: Optional[dict[str, Any]] = None,
) -> str:
    # The documented chat.completion.chunk shape; the last chunk of an include_usage stream has
    # no choices and carries the usage.
    body: dict[str, Any] = {
        "id": "chatcmpl-synth",
        "object": "chat.completion.chunk",
        "created": 1731368639,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [] if usage is not None else [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
        "usage": usage,
    }
    return "data: " + json.dumps(body) + "\n\n"


@pytest.fixture
def sse_chunk() -> Callable[..., str]:
    """One SSE event holding a chat.completion.chunk (``delta``, ``finish``, or ``usage``)."""
    return _chunk


USAGE = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}


@pytest.fixture
def sse_stream() -> Callable[..., list[str]]:
    """A whole stream: the role chunk, one chunk per delta, the finish chunk, usage, [DONE]."""

    def build(*deltas: dict[str, Any], finish: Optional[str] = "stop") -> list[str]:
        events = [_chunk({"role": "assistant", "content": ""})]
        events += [_chunk(delta) for delta in deltas]
        if finish is not None:
            events.append(_chunk({}, finish))
        events.append(_chunk(usage=USAGE))
        events.append("data: [DONE]\n\n")
        return events

    return build


@pytest.fixture
def api_key() -> str:
    """The key every client in these tests is built with."""
    return KEY
