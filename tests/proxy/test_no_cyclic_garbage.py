"""A finished stream leaves nothing for the cyclic garbage collector.

Every request that ends in a reference cycle is freed only by a collection, and at hundreds of
open streams those collections are pauses that walk everything the open streams hold (bench/README.md,
"Paced-256 per stream beyond the micro-benchmarks"): the body and its close, and the server's
``send`` left in the scope, were such cycles. Here whole streams run through the app over ASGI
(the provider plugins' real SDKs against the loopback replay server) with the collector off, and
what a collection then finds must be nothing. Error paths are left out: an exception and its
traceback are a cycle by nature, and they are rare.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from completions_anthropic import AnthropicAdapter
from completions_google import GoogleAdapter
from completions_openai import OpenAIAdapter

from completions_core.plugins import ProviderRegistry
from completions_core.testing.cassettes import load_cassette
from completions_core.testing.replay import ReplayServer
from completions_proxy.app import create_app
from completions_proxy.settings import Settings

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "t" * 24
CASES = [  # (provider, model, cassette)
    ("openai", "gpt-4o-mini", "openai/tests/cassettes/chat_stream_text.yaml"),
    ("openai", "gpt-4o-mini", "openai/tests/cassettes/chat_stream_tool_calls.yaml"),
    ("anthropic", "claude-haiku-4-5", "anthropic/tests/cassettes/messages_stream_text.yaml"),
    ("google", "gemini-2.0-flash-exp", "google/tests/cassettes/stream_text.yaml"),
]


class Exchange:
    """One request's server side, as hypercorn's stream is: it holds the scope, and ``send`` and
    ``receive`` are its methods (so a scope that kept ``send`` would be a cycle, as it was)."""

    def __init__(self, provider: str, model: str, sentences: bool) -> None:
        request: dict[str, Any] = {"provider": provider, "model": model, "stream": True,
                                   "messages": [{"role": "user", "content": "Hello"}],
                                   "credentials": {provider: {"voicerun_managed": True}}}
        if sentences:
            request["stream_options"] = {"stream_sentences": True}
        body = json.dumps(request).encode()
        self.scope: dict[str, Any] = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": "/v1/completions", "raw_path": b"/v1/completions", "query_string": b"", "root_path": "",
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
            "headers": [(b"authorization", f"Bearer {TOKEN}".encode()), (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode())]}
        self.messages = [{"type": "http.request", "body": body, "more_body": False}]
        self.never = anyio.Event()
        self.out: list[bytes] = []

    async def receive(self) -> dict[str, Any]:
        if self.messages:
            return self.messages.pop()
        await self.never.wait()  # the client stays until the end
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message
        elif message["type"] == "http.response.body":
            self.out.append(message.get("body", b""))

    async def run(self, app: Any) -> list[dict[str, Any]]:
        with anyio.fail_after(10):
            await app(self.scope, self.receive, self.send)
        return [json.loads(line) for line in b"".join(self.out).splitlines() if line.strip()]


async def test_streams_to_their_end_leave_no_cyclic_garbage(server: ReplayServer) -> None:
    registry = ProviderRegistry()
    registry.register(OpenAIAdapter(base_url=server.url + "/v1"), "test")
    registry.register(AnthropicAdapter(base_url=server.url), "test")
    registry.register(GoogleAdapter(base_url=server.url), "test")
    env = {"COMPLETIONS_PROXY_TOKENS": TOKEN, "OPENAI_API_KEY": "sk-managed-openai-0001",
           "ANTHROPIC_API_KEY": "sk-ant-managed-0002", "GEMINI_API_KEY": "gemini-managed-0003"}
    app = create_app(Settings.from_env(env), registry)

    async def one_of_each(sentences: bool = False) -> None:
        for provider, model, cassette in CASES:
            server.enqueue_cassette(load_cassette(ROOT / "providers" / cassette))
            records = await Exchange(provider, model, sentences).run(app)
            assert records[-1]["type"] == "response", records[-1]  # the stream ran to its end

    async with app.router.lifespan_context(app):
        await one_of_each()  # the first request of each provider builds its client and pool
        gc.collect()
        was = gc.isenabled()
        gc.disable()
        try:
            for _ in range(5):
                await one_of_each()
                await one_of_each(sentences=True)
            found = gc.collect()
        finally:
            if was:
                gc.enable()
    assert found == 0, f"{found} objects of 40 finished streams were only freed by the cyclic collector"
