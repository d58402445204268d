"""A stream's chunks go to the server's own ``send`` (``BODY_SEND``) only past layers that hand
body messages on unchanged; the status line and everything else still go through the app's layers."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import pytest
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from completions_core.types import ChatCompletionChunk, ContentDeltaChunk
from completions_proxy.app import create_app, passes_bodies_on
from completions_proxy.responses import BODY_SEND, ChunkStreamResponse
from completions_proxy.settings import Settings
from completions_proxy.testing import RunningProxy, running_proxy
from tests.helpers import FAST, KeyedAdapter, registry

pytestmark = pytest.mark.anyio

BODY = {"provider": "embedded", "model": "m", "messages": [{"role": "user", "content": "hi"}], "provider_kwargs": FAST,
        "stream": True}


class Counting:
    """A middleware that sees every message a route sends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted(message: Any) -> None:
            self.seen.append(message["type"])
            await send(message)

        await self.app(scope, receive, counted)


async def test_chunks_go_to_the_servers_send_and_the_status_line_through_the_apps() -> None:
    wire: list[tuple[str, str, bytes]] = []

    async def server_send(message: Any) -> None:
        wire.append(("server", message["type"], message.get("body", b"")))

    async def app_send(message: Any) -> None:  # a layer of the app: it sees what passes through it
        wire.append(("app", message["type"], b""))
        await server_send(message)

    async def receive() -> Any:
        await anyio.sleep_forever()

    async def chunks() -> AsyncGenerator[ChatCompletionChunk, None]:
        for text in ("a", "b"):
            yield ContentDeltaChunk(delta=text)
            await anyio.lowlevel.checkpoint()

    response = ChunkStreamResponse(chunks(), {}, keepalive=0)
    with anyio.fail_after(10):
        await response({"type": "http", BODY_SEND: server_send}, receive, app_send)
    assert [(who, kind) for who, kind, _ in wire] == [
        ("app", "http.response.start"), ("server", "http.response.start"),
        ("server", "http.response.body"), ("server", "http.response.body"),  # the chunks: straight to the server
        ("app", "http.response.body"), ("server", "http.response.body"),  # the end of the body
    ]
    assert [json.loads(body)["delta"] for who, kind, body in wire[2:4]] == ["a", "b"]


def test_only_the_apps_own_middleware_stack_passes_bodies_on() -> None:
    settings = Settings.from_env({"COMPLETIONS_PROXY_TOKENS": "t" * 20})
    assert passes_bodies_on(create_app(settings, registry()).build_middleware_stack())
    app = create_app(settings, registry())
    app.user_middleware.append(Middleware(Counting))
    assert not passes_bodies_on(app.build_middleware_stack())


@pytest.fixture
async def proxy() -> AsyncIterator[RunningProxy]:
    async with running_proxy(registry(KeyedAdapter())) as running:
        yield running


async def _stream(proxy: RunningProxy) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.post(
        proxy.url + "/v1/completions", json=BODY, headers={"Authorization": f"Bearer {proxy.token}"}
    ) as resp:
        assert resp.status == 200
        return [json.loads(line) for line in (await resp.text()).splitlines()]


async def test_a_layer_put_in_front_of_the_routes_later_sees_every_chunk(proxy: RunningProxy) -> None:
    direct = await _stream(proxy)
    assert direct[-1]["type"] == "response"
    app = proxy.app
    assert app.middleware_stack is not None
    counting = Counting(app.middleware_stack)
    app.middleware_stack = counting  # a layer that is not known to hand bodies on: no direct send
    through = await _stream(proxy)
    assert [r["type"] for r in through] == [r["type"] for r in direct]
    bodies = counting.seen.count("http.response.body")
    # The first chunk goes out alone, then the rest and the end: through this layer, not around it
    # (with the server's send taken, only the end of the body would reach it).
    assert counting.seen[0] == "http.response.start" and bodies >= 2


async def test_the_scope_no_longer_holds_the_servers_send_once_the_app_returns() -> None:
    # A server's stream holds the scope and its ``send`` is bound to the stream: left in the scope,
    # every finished request was a reference cycle only the cyclic garbage collector freed.
    app = create_app(Settings.from_env({"COMPLETIONS_PROXY_TOKENS": "t" * 16}), registry(KeyedAdapter()))
    seen: list[Any] = []

    class Stream:  # as hypercorn's HTTPStream: it holds the scope, and ``send`` is its method
        def __init__(self) -> None:
            self.scope: dict[str, Any] = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                                          "method": "GET", "scheme": "http", "path": "/nowhere", "raw_path": b"/nowhere",
                                          "query_string": b"", "root_path": "", "headers": [], "client": None,
                                          "server": None}

        async def send(self, message: Any) -> None:
            seen.append((message["type"], self.scope.get(BODY_SEND) == self.send))

        async def receive(self) -> Any:
            return {"type": "http.request", "body": b"", "more_body": False}

    stream = Stream()
    await app(stream.scope, stream.receive, stream.send)
    assert seen[0] == ("http.response.start", True)  # in the scope while the app runs
    assert BODY_SEND not in stream.scope
