"""What a minimal adapter gets for free: ``complete`` from ``stream``, and the core helpers adapters share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from completions_core.adapter import (
    Finish,
    MessageExtras,
    ProviderAdapter,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    UsageEvent,
    http_transport,
)
from completions_core.errors import ProviderError
from completions_core.request import ProviderRequest
from completions_core.sse import sse_data
from completions_core.testing.requests import provider_request
from completions_core.types import UserMessage


class _Minimal(ProviderAdapter):
    """Only ``name``, ``create_client`` and ``stream``."""

    name = "minimal"

    def __init__(self, fail_after: int | None = None) -> None:
        self.fail_after = fail_after
        self.closed = False

    def create_client(self, config: Any) -> object:
        return object()

    async def stream(self, client: Any, request: ProviderRequest) -> AsyncIterator[StreamEvent]:
        try:
            for index, piece in enumerate(["Hel", "lo."]):
                if index == self.fail_after:
                    raise ProviderError("upstream broke", "provider_error", provider=self.name)
                yield TextDelta(piece)
            yield ToolCallDelta(index=0, id="call_1", name="lookup")
            yield ToolCallDelta(index=0, arguments='{"id": ')
            yield ToolCallDelta(index=0, arguments="7}")
            yield MessageExtras(thought_signature=b"sig")
            yield Finish("tool_calls", native_reason="TOOL_USE")
            yield UsageEvent({"prompt_tokens": 3, "completion_tokens": 2})
        finally:
            self.closed = True


def _request() -> ProviderRequest:
    return provider_request("minimal", "m", [UserMessage("Hi")])


@pytest.mark.anyio
async def test_the_default_complete_drains_the_stream_through_the_assembler() -> None:
    adapter = _Minimal()
    completion = await adapter.complete(adapter.create_client(None), _request())
    assert completion.message.content == "Hello."
    calls = completion.message.tool_calls or []
    assert [(c.id, c.function.name, c.function.arguments, c.index) for c in calls] == [("call_1", "lookup", {"id": 7}, 0)]
    assert completion.message.thought_signature == b"sig"
    assert (completion.finish_reason, completion.native_finish_reason) == ("tool_calls", "TOOL_USE")
    assert completion.usage == {"prompt_tokens": 3, "completion_tokens": 2}
    assert adapter.normalize_usage(completion.usage).input_tokens == 3
    assert adapter.closed


@pytest.mark.anyio
async def test_a_failing_stream_fails_complete_with_the_same_error_and_is_closed() -> None:
    adapter = _Minimal(fail_after=1)
    with pytest.raises(ProviderError, match="upstream broke"):
        await adapter.complete(adapter.create_client(None), _request())
    assert adapter.closed


@pytest.mark.anyio
async def test_sse_data_yields_only_data_payloads() -> None:
    async def lines() -> AsyncIterator[str | bytes]:
        for line in [b"event: message\n", b'data: {"a": 1}\n', b"\n", ": comment", "id: 4", "data:[2]", "data: [DONE]",
                     "data: ", 'data: "caf\xe9"']:  # fmt: skip
            yield line

    assert [payload async for payload in sse_data(lines())] == ['{"a": 1}', "[2]", '"caf\xe9"']


def test_the_transport_switch_defaults_to_aiohttp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPLETIONS_X_TRANSPORT", raising=False)
    assert http_transport("COMPLETIONS_X_TRANSPORT") == "aiohttp"
    monkeypatch.setenv("COMPLETIONS_X_TRANSPORT", " HTTPX2 ")
    assert http_transport("COMPLETIONS_X_TRANSPORT") == "httpx2"
    monkeypatch.setenv("COMPLETIONS_X_TRANSPORT", "curl")
    assert http_transport("COMPLETIONS_X_TRANSPORT") == "aiohttp"
