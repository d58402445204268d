"""Fixtures for the Alibaba plugin's tests: DashScope's compatible mode played by a replay server."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Optional

import pytest
from completions_alibaba import AlibabaAdapter

from completions_core.adapter import Credential
from completions_core.redaction import Secret
from completions_core.request import ProviderRequest
from completions_core.testing.cassettes import Cassette, load_cassette
from completions_core.testing.replay import ReplayServer, with_prefix
from completions_core.testing.requests import provider_request
from completions_core.types import UserMessage

#: No DashScope recording exists: the OpenAI plugin's cassettes are replayed under DashScope's
#: /compatible-mode prefix (see tests/README.md), read from there rather than copied twice.
CASSETTES = Path(__file__).resolve().parents[2] / "openai" / "tests" / "cassettes"
#: Where DashScope's compatible mode serves Chat Completions.
CHAT_PATH = "/compatible-mode/v1/chat/completions"
KEY = "sk-test-dashscope-9a8b7c6d5e4f"

_PROVIDER_ENV_PREFIXES = ("OPENAI_", "COMPLETIONS_OPENAI_", "DASHSCOPE_", "COMPLETIONS_ALIBABA_")



@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(_PROVIDER_ENV_PREFIXES):
            monkeypatch.delenv(name)



@pytest.fixture
def api_key() -> str:
    """The key every client in these tests is built with."""
    return KEY


@pytest.fixture
def cassette() -> Callable[[str], Cassette]:
    """Load one of the OpenAI plugin's cassettes by file name."""
    return lambda name: load_cassette(CASSETTES / name)


@pytest.fixture
def enqueue(server: ReplayServer, cassette: Callable[[str], Cassette]) -> Callable[..., None]:
    """Queue a recorded OpenAI cassette, served on DashScope's compatible-mode path."""

    def add(name: str, only: Optional[list[int]] = None) -> None:
        server.enqueue_cassette(cassette(name), only=only, path=with_prefix("/compatible-mode"))

    return add


@pytest.fixture
def adapter(server: ReplayServer) -> AlibabaAdapter:
    """An adapter whose operator base URL is the replay server's compatible-mode endpoint."""
    return AlibabaAdapter(base_url=server.url + "/compatible-mode/v1")


@pytest.fixture
def make_request() -> Callable[..., ProviderRequest]:
    """A request with sensible defaults; keyword arguments override fields."""

    def build(**fields: Any) -> ProviderRequest:
        values: dict[str, Any] = {"provider": "alibaba", "model": "qwen-plus", "messages": [UserMessage("Hi")]}
        values.update(fields)
        return provider_request(**values)

    return build


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[[AlibabaAdapter, ProviderRequest], Any]]:
    """The SDK client the proxy would build for a request (managed key); closed after the test."""
    clients: list[Any] = []

    def build(adapter: AlibabaAdapter, request: ProviderRequest) -> Any:
        client = adapter.create_client(adapter.client_config(request, Credential("managed", Secret(KEY))))
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.close()


def _chunk(delta: Optional[dict[str, Any]] = None, finish: Optional[str] = None, usage: Any = None) -> str:
    # DashScope's compatible-mode chunks have OpenAI's shape (plus reasoning_content for thinking).
    body: dict[str, Any] = {
        "id": "chatcmpl-synth",
        "object": "chat.completion.chunk",
        "created": 1735120033,
        "model": "qwen-plus",
        "choices": [] if usage is not None else [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
        "usage": usage,
    }
    return "data: " + json.dumps(body) + "\n\n"


@pytest.fixture
def sse_stream() -> Callable[..., list[str]]:
    """A whole stream: one chunk per delta, the finish chunk, a usage chunk, [DONE]."""

    def build(*deltas: dict[str, Any], finish: str = "stop", usage: Optional[dict[str, Any]] = None) -> list[str]:
        events = [_chunk(delta) for delta in deltas]
        events.append(_chunk({}, finish))
        events.append(_chunk(usage=usage or {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}))
        events.append("data: [DONE]\n\n")
        return events

    return build
