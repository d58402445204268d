"""Through the real proxy and client, with a managed key: a caller cannot redirect it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from completions_alibaba import AlibabaAdapter

from completions_core.plugins import ProviderRegistry
from completions_core.testing.replay import ReplayServer
from completions_proxy.testing import running_proxy
from primfunctions.completions import (
    CompletionsProxyError,
    configure,
    configure_provider,
    generate_chat_completion,
    generate_chat_completion_stream,
)
from primfunctions.completions import client as client_module


@pytest.fixture
async def proxy(server: ReplayServer, api_key: str) -> AsyncIterator[None]:
    registry = ProviderRegistry()
    registry.register(AlibabaAdapter(base_url=server.url + "/compatible-mode/v1"), "test")
    await client_module._reset_for_tests()
    try:
        # The proxy's managed key for alibaba, read from its environment as in production.
        async with running_proxy(registry, env={"DASHSCOPE_API_KEY": api_key}) as running:
            configure(running.url, running.token)
            configure_provider("alibaba", voicerun_managed=True)
            yield
    finally:
        await client_module._reset_for_tests()


def body(**extra: Any) -> dict[str, Any]:
    return {"provider": "alibaba", "model": "qwen-plus", "messages": [{"role": "user", "content": "Hi"}], **extra}


@pytest.mark.anyio
async def test_the_managed_key_answers_a_streamed_turn_with_search_on(
    server: ReplayServer, enqueue: Callable[..., None], proxy: None, api_key: str
) -> None:
    enqueue("chat_stream_text.yaml")
    stream = await generate_chat_completion_stream(body(provider_kwargs={"alibaba": {"enable_search": True}}))
    kinds = [chunk.type async for chunk in stream]
    assert kinds[-3:] == ["finish_reason", "usage", "response"]
    assert stream.response is not None and stream.response.provider == "alibaba"
    # The last completion request: configure_provider's background warm-up (GET /models) may land after it.
    received = [r for r in server.requests if r.method == "POST"][-1]
    assert received.headers["authorization"] == f"Bearer {api_key}"
    assert received.json()["enable_search"] is True


HOSTILE = [
    "https://dashscope.aliyuncs.com@127.0.0.1/compatible-mode/v1",
    "http://127.0.0.1/compatible-mode/v1",
    "https://dashscope.aliyuncs.com.evil.example.com/compatible-mode/v1",
]


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.anyio
async def test_a_hostile_base_url_fails_the_request_and_nothing_is_sent(
    server: ReplayServer, proxy: None, hostile: str
) -> None:
    with pytest.raises(CompletionsProxyError) as info:
        await generate_chat_completion(body(provider_kwargs={"alibaba": {"base_url": hostile}}))
    assert info.value.status_code is not None and info.value.status_code >= 400
    assert server.requests == []


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.anyio
async def test_a_hostile_base_url_is_a_400_naming_the_field(server: ReplayServer, proxy: None, hostile: str) -> None:
    with pytest.raises(CompletionsProxyError) as info:
        await generate_chat_completion(body(provider_kwargs={"alibaba": {"base_url": hostile}}))
    assert (info.value.status_code, info.value.error_type) == (400, "invalid_request_error")
    assert "provider_kwargs.alibaba.base_url" in info.value.message
