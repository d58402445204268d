"""The adapter contract: tests every provider plugin runs against replayed real traffic.

A provider's test module subclasses :class:`AdapterContract` as ``Test<Name>Contract``, points
it at its cassettes and implements :meth:`AdapterContract.make_adapter`; pytest then collects
every ``test_*`` method here for that provider. The real SDK talks to a
:class:`~completions_core.testing.replay.ReplayServer`; nothing inside the SDK is mocked. The
``server`` and ``anyio_backend`` fixtures come from :mod:`completions_core.testing.pytest_plugin`
(``pytest_plugins = ["completions_core.testing.pytest_plugin"]`` in the suite's top conftest).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Optional

import anyio
import pytest

from completions_core.adapter import Credential, ProviderAdapter, StreamEvent, TextDelta
from completions_core.assembly import ResponseAssembler
from completions_core.errors import ProviderError
from completions_core.redaction import Secret
from completions_core.request import ProviderRequest
from completions_core.testing.cassettes import Cassette, load_cassette
from completions_core.testing.replay import Fault, PathOverride, ReplayServer, Stream
from completions_core.testing.replies import refusing_port
from completions_core.testing.requests import provider_request
from completions_core.types import (
    AssistantMessage,
    FunctionCall,
    FunctionDefinition,
    StreamOptions,
    ToolCall,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
)

__all__ = ["AdapterContract", "TEST_API_KEY", "collect"]

#: The key every contract test uses; no log line or error may ever contain it.
TEST_API_KEY = "sk-test-CONTRACT-4f1d2c3b5a6978"

WEATHER = ToolDefinition(
    type="function",
    function=FunctionDefinition(
        name="get_weather",
        description="Current weather for a city",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    ),
)


async def collect(adapter: ProviderAdapter, client: Any, request: ProviderRequest) -> ResponseAssembler:
    """Run a stream to its end through the core assembler (as the proxy does)."""
    assembler = ResponseAssembler(StreamOptions(), provider=adapter.name, model=request.model)
    stream = adapter.stream(client, request)
    try:
        async for event in stream:
            assembler.feed(event)
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    assembler.finish()
    return assembler


class AdapterContract:
    """Shared behaviour every provider adapter must show. Subclass and fill in the class attributes."""

    #: Folder holding the provider's copied cassettes.
    cassette_dir: ClassVar[Path]
    #: Model id used in requests.
    model: ClassVar[str] = "test-model"
    #: Serve recorded paths elsewhere (DashScope prefix, Vertex rawPredict), or None.
    path_override: ClassVar[PathOverride] = None
    #: How many events of ``stream_cassette`` to send before the mid-stream hang: enough to
    #: include the first text (Anthropic opens with message_start, content_block_start and ping).
    hang_after_events: ClassVar[int] = 2

    text_cassette: ClassVar[str]
    expected_text: ClassVar[str]
    stream_cassette: ClassVar[str]
    expected_stream_text: ClassVar[str]
    tool_stream_cassette: ClassVar[str]
    #: (function name, arguments) of every tool call in ``tool_stream_cassette``, in order.
    expected_tool_calls: ClassVar[Sequence[tuple[str, dict[str, Any]]]]
    #: (cassette, interaction index) answering a request that carries a tool result.
    tool_result_interaction: ClassVar[tuple[str, int]]
    #: (cassette, interaction index) answering with structured (JSON) output.
    structured_interaction: ClassVar[tuple[str, int]]
    #: (cassette, expected error_type, expected provider status).
    error_cassettes: ClassVar[Sequence[tuple[str, str, int]]]

    # -- what a provider supplies ---------------------------------------------------------------

    def make_adapter(self, base_url: str) -> ProviderAdapter:
        """An adapter whose SDK client talks to ``base_url`` (the replay server)."""
        raise NotImplementedError

    def credential(self) -> Credential:
        """The credential the client is built with."""
        return Credential("customer", Secret(TEST_API_KEY))

    def error_body(self, status: int, message: str) -> Any:
        """The provider's documented error body for a synthesized status."""
        return {"error": {"message": message, "type": "api_error", "code": status}}

    def stream_path(self) -> Optional[str]:
        """The path a streaming request is served on (None: whatever the cassette recorded)."""
        return None

    # -- helpers ----------------------------------------------------------------------------------

    def _served_path(self) -> PathOverride:
        # Read through the class: a function stored as a class attribute would bind to ``self``.
        value: PathOverride = type(self).__dict__.get("path_override", None) or next(
            (c.__dict__["path_override"] for c in type(self).__mro__ if "path_override" in c.__dict__), None
        )
        return value

    def cassette(self, name: str) -> Cassette:
        return load_cassette(self.cassette_dir / name)

    def request(self, provider: str, **overrides: Any) -> ProviderRequest:
        """The adapter's request (through the codec, as the proxy builds it) for these fields."""
        fields: dict[str, Any] = {"model": self.model, "messages": [UserMessage("Say hello.")], **overrides}
        return provider_request(provider, **fields)

    def client(self, adapter: ProviderAdapter, request: ProviderRequest) -> Any:
        """A client for ``request``; closed when the test ends (pooled sockets must not leak)."""
        made = adapter.create_client(adapter.client_config(request, self.credential()))
        self._made_clients.append((adapter, made))
        return made

    @pytest.fixture(autouse=True)
    async def _close_made_clients(self) -> AsyncIterator[None]:
        self._made_clients: list[tuple[ProviderAdapter, Any]] = []
        yield
        for adapter, made in self._made_clients:
            await adapter.close_client(made)

    # -- the contract -----------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_text_completion(self, server: ReplayServer) -> None:
        server.enqueue_cassette(self.cassette(self.text_cassette), path=self._served_path())
        adapter = self.make_adapter(server.url)
        request = self.request(provider=adapter.name)
        completion = await adapter.complete(self.client(adapter, request), request)
        assert completion.message.content == self.expected_text
        assert completion.finish_reason == "stop"
        assert completion.usage
        server.assert_all_used()

    @pytest.mark.anyio
    async def test_streamed_text_is_reassembled(self, server: ReplayServer) -> None:
        server.enqueue_cassette(self.cassette(self.stream_cassette), path=self._served_path())
        adapter = self.make_adapter(server.url)
        request = self.request(provider=adapter.name)
        result = await collect(adapter, self.client(adapter, request), request)
        assert result.text == self.expected_stream_text
        assert result.response.finish_reason == "stop"
        usage = adapter.normalize_usage(result.usage)
        assert usage.input_tokens > 0 and usage.output_tokens > 0
        server.assert_all_used()

    @pytest.mark.anyio
    async def test_streamed_tool_calls_are_reassembled(self, server: ReplayServer) -> None:
        server.enqueue_cassette(self.cassette(self.tool_stream_cassette), only=[0], path=self._served_path())
        adapter = self.make_adapter(server.url)
        request = self.request(provider=adapter.name, tools=[WEATHER])
        result = await collect(adapter, self.client(adapter, request), request)
        calls = result.response.message.tool_calls or []
        assert [(c.function.name, c.function.arguments) for c in calls] == [
            (name, args) for name, args in self.expected_tool_calls
        ]
        assert all(c.id for c in calls)
        assert [c.index for c in calls] == list(range(len(calls)))
        assert result.response.finish_reason == "tool_calls"

    @pytest.mark.anyio
    async def test_tool_result_turn_is_sent_and_answered(self, server: ReplayServer) -> None:
        name, index = self.tool_result_interaction
        server.enqueue_cassette(self.cassette(name), only=[index], path=self._served_path())
        adapter = self.make_adapter(server.url)
        call = ToolCall(id="call_contract_1", type="function", function=FunctionCall("get_weather", {"city": "Paris"}))
        request = self.request(
            provider=adapter.name,
            tools=[WEATHER],
            messages=[
                UserMessage("What is the weather in Paris?"),
                AssistantMessage(tool_calls=[call]),
                ToolResultMessage(tool_call_id="call_contract_1", name="get_weather", content={"temp_c": 17.5}),
            ],
        )
        client = self.client(adapter, request)
        if server.requests is not None and self.cassette(name)[index].response.is_streaming:
            result = await collect(adapter, client, request)
            assert result.text or result.response.message.tool_calls
        else:
            completion = await adapter.complete(client, request)
            assert completion.message.content or completion.message.tool_calls
        sent = json.dumps(server.requests[-1].json())
        assert "17.5" in sent and "get_weather" in sent

    @pytest.mark.anyio
    async def test_structured_output_returns_json_text(self, server: ReplayServer) -> None:
        name, index = self.structured_interaction
        server.enqueue_cassette(self.cassette(name), only=[index], path=self._served_path())
        adapter = self.make_adapter(server.url)
        schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        request = self.request(provider=adapter.name, response_schema=schema)
        completion = await adapter.complete(self.client(adapter, request), request)
        assert isinstance(json.loads(completion.message.content or ""), (dict, list))

    @pytest.mark.anyio
    async def test_recorded_errors_are_mapped(self, server: ReplayServer) -> None:
        adapter = self.make_adapter(server.url)
        for name, error_type, status in self.error_cassettes:
            cassette = self.cassette(name)
            server.enqueue_cassette(cassette, path=self._served_path())
            stream = cassette[0].request.json().get("stream", False) or "stream" in name
            request = self.request(provider=adapter.name)
            client = self.client(adapter, request)
            with pytest.raises(ProviderError) as info:
                if stream:
                    await collect(adapter, client, request)
                else:
                    await adapter.complete(client, request)
            assert (info.value.error_type, info.value.status_code) == (error_type, status), name
            assert info.value.message and TEST_API_KEY not in info.value.message
            assert not info.value.retryable
        server.assert_all_used()

    @pytest.mark.anyio
    async def test_rate_limit_keeps_retry_after(self, server: ReplayServer) -> None:
        server.enqueue(Fault.status(429, self.error_body(429, "Rate limit reached"), retry_after=2))
        adapter = self.make_adapter(server.url)
        request = self.request(provider=adapter.name)
        with pytest.raises(ProviderError) as info:
            await adapter.complete(self.client(adapter, request), request)
        assert info.value.error_type == "rate_limit_error"
        assert info.value.status_code == 429 and info.value.retryable
        assert info.value.retry_after == 2.0

    @pytest.mark.anyio
    async def test_server_errors_are_retryable(self, server: ReplayServer) -> None:
        adapter = self.make_adapter(server.url)
        for status in (500, 503):
            server.enqueue(Fault.status(status, self.error_body(status, "upstream trouble")))
            request = self.request(provider=adapter.name)
            with pytest.raises(ProviderError) as info:
                await adapter.complete(self.client(adapter, request), request)
            assert info.value.status_code == status
            assert info.value.retryable
            assert info.value.error_type in ("provider_error", "overloaded_error")

    @pytest.mark.anyio
    async def test_connection_refused_is_a_retryable_connection_error(self) -> None:
        with refusing_port() as port:
            adapter = self.make_adapter(f"http://127.0.0.1:{port}")
            request = self.request(provider=adapter.name, timeout=5)
            with pytest.raises(ProviderError) as info:
                await adapter.complete(self.client(adapter, request), request)
        assert info.value.error_type == "connection_error" and info.value.retryable

    @pytest.mark.anyio
    async def test_hang_before_headers_is_a_timeout_error(self, server: ReplayServer) -> None:
        server.enqueue(Fault.hang())
        adapter = self.make_adapter(server.url)
        request = self.request(provider=adapter.name, timeout=0.1)  # the server never answers: any deadline hits
        with anyio.fail_after(20), pytest.raises(ProviderError) as info:
            await adapter.complete(self.client(adapter, request), request)
        assert info.value.error_type == "timeout_error" and info.value.retryable

    @pytest.mark.anyio
    async def test_closing_the_stream_midway_closes_the_upstream_response(self, server: ReplayServer) -> None:
        interaction = self.cassette(self.stream_cassette)[0]
        hanging = Stream.from_response(interaction.response).then_hang(after_events=self.hang_after_events)
        server.enqueue(hanging, path=self.stream_path())
        adapter = self.make_adapter(server.url)
        request = self.request(provider=adapter.name)
        stream = adapter.stream(self.client(adapter, request), request)
        first: Optional[StreamEvent] = None
        with anyio.fail_after(20):
            async for event in stream:
                if isinstance(event, TextDelta):
                    first = event
                    break
            await stream.aclose()  # type: ignore[attr-defined]
            await server.wait_for_disconnects(1)
        assert first is not None
        assert server.disconnects == 1
