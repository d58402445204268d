"""What an adapter is handed through the proxy: a ProviderRequest, never the wire's dicts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Hashable
from typing import Any

import aiohttp
import pytest

from completions_core.adapter import Credential, Finish, ProviderAdapter, StreamEvent, TextDelta
from completions_core.errors import ProviderError
from completions_core.request import ProviderRequest, RetryPolicy
from completions_core.types import AssistantMessage, SystemMessage, ToolDefinition, UserMessage
from completions_proxy.testing import running_proxy
from tests.helpers import registry

pytestmark = pytest.mark.anyio


class Recorder(ProviderAdapter):
    """Keeps every request it is handed; a model named "down" fails without a retry."""

    name = "recorder"
    aliases = ("taper",)
    requires_key = False
    keeps_thought_signatures = False

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def client_config(self, request: ProviderRequest, credential: Credential) -> Hashable:
        self.seen.append(request)
        return "recorder"

    def create_client(self, config: Any) -> Any:
        return object()

    async def close_client(self, client: Any) -> None:
        return None

    async def stream(self, client: Any, request: ProviderRequest) -> AsyncIterator[StreamEvent]:
        self.seen.append(request)
        if request.model == "down":
            raise ProviderError("down", "invalid_request_error", provider=self.name, retryable=False)
        yield TextDelta("ok")
        yield Finish("stop")


async def test_the_adapter_gets_decoded_resolved_requests_for_the_primary_and_each_fallback() -> None:
    recorder = Recorder()
    body = {
        "provider": "taper",  # an alias: the adapter sees its own name
        "model": "down",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello", "thought_signature": "AAEC"},
            {"role": "user", "content": "again"},
        ],
        "tools": [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}}],
        "tool_choice": "auto",
        "temperature": 0.3,
        "timeout": 30,
        "retry": {"enabled": False},
        "provider_kwargs": {"recorder": {"k": 1}},
        "fallbacks": [{"model": "up", "retry": {"max_retries": 1, "retry_delay": 0.001}}],
    }
    async with running_proxy(registry(recorder)) as proxy, aiohttp.ClientSession() as session:
        async with session.post(
            proxy.url + "/v1/completions", json=body, headers={"Authorization": f"Bearer {proxy.token}"}
        ) as resp:
            status, answer = resp.status, await resp.json()
    assert status == 200, answer
    assert answer["message"]["content"] == "ok"
    assert [r.model for r in recorder.seen] == ["down", "down", "up", "up"]  # client_config, then the call
    for request in recorder.seen:
        assert type(request) is ProviderRequest
        assert request.provider == "recorder"
        assert [type(m) for m in request.messages] == [SystemMessage, UserMessage, AssistantMessage, UserMessage]
        assert request.messages[2].thought_signature is None  # dropped for a provider that does not keep them
        assert type(request.tools) is tuple and all(isinstance(t, ToolDefinition) for t in request.tools)
        assert (request.tool_choice, request.temperature, request.timeout) == ("auto", 0.3, 30)
        assert request.provider_kwargs == {"recorder": {"k": 1}}
    assert recorder.seen[0].retry is None
    assert recorder.seen[-1].retry == RetryPolicy(max_retries=1, retry_delay=0.001)
