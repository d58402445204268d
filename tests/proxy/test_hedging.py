"""Hedging: a stalled first attempt is raced against the next fallback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import pytest

from completions_core.adapter import Finish, ProviderAdapter, StreamEvent, TextDelta
from completions_core.errors import ProviderError
from completions_core.plugins import ProviderRegistry
from completions_core.request import ProviderRequest
from completions_proxy.testing import RunningProxy, running_proxy

pytestmark = pytest.mark.anyio


class Scripted(ProviderAdapter):
    """Waits ``delay`` seconds (or until ``after`` has ended), then streams ``text`` (or fails);
    records whether it was closed. Waiting on another adapter orders the two without a clock."""

    requires_key = False

    def __init__(
        self, name: str, delay: float, text: str = "", fail: bool = False, after: Scripted | None = None
    ) -> None:
        self.name = name  # type: ignore[misc]
        self.delay, self.text, self.fail, self.after = delay, text, fail, after
        self.closed = anyio.Event()
        self.calls = 0

    def create_client(self, config: Any) -> Any:
        return object()

    async def close_client(self, client: Any) -> None:
        return None

    async def stream(self, client: Any, request: ProviderRequest) -> AsyncIterator[StreamEvent]:
        self.calls += 1
        try:
            if self.after is not None:
                await self.after.closed.wait()
            else:
                await anyio.sleep(self.delay)
            if self.fail:
                raise ProviderError(f"{self.name} failed", "provider_error", provider=self.name)
            for word in self.text.split(" "):
                yield TextDelta(word + " ")
            yield Finish("stop")
        finally:
            self.closed.set()


def _registry(*adapters: ProviderAdapter) -> ProviderRegistry:
    registry = ProviderRegistry()
    for adapter in adapters:
        registry.register(adapter)
    return registry


async def _stream(
    proxy: RunningProxy, hedge: str = "0.1", retry: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    body: dict[str, Any] = {"provider": "slow", "model": "a", "stream": True,
                            "messages": [{"role": "user", "content": "x"}], "fallbacks": [{"provider": "fast", "model": "b"}]}
    if retry is not None:
        body["retry"] = retry
    async with aiohttp.ClientSession() as session, session.post(
        proxy.url + "/v1/completions", json=body,
        headers={"Authorization": f"Bearer {proxy.token}", "X-Completions-Hedge-After": hedge},
    ) as resp:
        lines = [json.loads(line) for line in (await resp.text()).splitlines() if line.strip()]
        if resp.status != 200:
            return lines, json.loads(resp.headers["X-Completions-Attempts"])
        return lines, json.loads(resp.headers["X-Completions-Attempts"])


async def test_a_stalled_first_attempt_loses_to_the_hedge_and_is_cancelled() -> None:
    slow, fast = Scripted("slow", 30, "too late"), Scripted("fast", 0, "quick answer")
    async with running_proxy(_registry(slow, fast)) as proxy:
        lines, attempts = await _stream(proxy)
        with anyio.fail_after(5):
            await slow.closed.wait()
    assert lines[-1]["response"]["provider"] == "fast"
    assert lines[-1]["response"]["message"]["content"] == "quick answer "
    assert "too late" not in json.dumps(lines)
    assert [(a["provider"], a["outcome"]) for a in attempts] == [("slow", "hedge_lost"), ("fast", "ok")]


async def test_a_quick_first_attempt_starts_no_hedge() -> None:
    first, fallback = Scripted("slow", 0, "first wins"), Scripted("fast", 0, "never")
    async with running_proxy(_registry(first, fallback)) as proxy:
        lines, attempts = await _stream(proxy, hedge="5")
    assert lines[-1]["response"]["provider"] == "slow"
    assert fallback.calls == 0 and len(attempts) == 1


async def test_when_the_hedge_fails_the_first_attempt_still_answers() -> None:
    hedge = Scripted("fast", 0, fail=True)
    first = Scripted("slow", 0, "patience pays", after=hedge)  # answers once the hedge has failed
    async with running_proxy(_registry(first, hedge)) as proxy:
        lines, attempts = await _stream(proxy)
    assert lines[-1]["response"]["provider"] == "slow"
    assert [(a["provider"], a["outcome"]) for a in attempts] == [("slow", "ok"), ("fast", "error")]


async def test_a_first_attempt_failing_before_the_hedge_starts_the_fallback_at_once() -> None:
    first, fallback = Scripted("slow", 0, fail=True), Scripted("fast", 0, "fallback")
    async with running_proxy(_registry(first, fallback)) as proxy:
        lines, attempts = await _stream(proxy, hedge="5")
    assert lines[-1]["response"]["provider"] == "fast"
    assert [(a["provider"], a["outcome"]) for a in attempts] == [("slow", "error"), ("fast", "ok")]
    assert fallback.calls == 1


async def test_both_failing_is_an_http_error() -> None:
    fast = Scripted("fast", 0, fail=True)
    async with running_proxy(_registry(Scripted("slow", 0, fail=True, after=fast), fast)) as proxy:
        lines, attempts = await _stream(proxy, retry={"enabled": False})
    assert lines[0]["error"]["type"] == "provider_error"
    assert sorted(a["provider"] for a in attempts) == ["fast", "slow"]


async def test_a_client_gone_during_the_first_write_of_a_hedged_stream_ends_it_cleanly() -> None:
    """The winner's first chunk goes out alone while the race waits at its ``yield``; the client
    goes away during that write. The race is closed from a cancelled stream: it held a task group
    open across that ``yield``, and leaving it then raised anyio's "cancel scope that isn't the
    current task's" out of the app. Now it ends quietly and both attempts are closed."""
    from completions_proxy.app import create_app
    from completions_proxy.settings import Settings

    slow, fast = Scripted("slow", 30, "too late"), Scripted("fast", 0, "quick answer")
    token = "t" * 24
    app = create_app(Settings.from_env({"COMPLETIONS_PROXY_TOKENS": token}), _registry(slow, fast))
    body = json.dumps({"provider": "slow", "model": "a", "stream": True,
                       "messages": [{"role": "user", "content": "x"}],
                       "fallbacks": [{"provider": "fast", "model": "b"}]}).encode()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/v1/completions", "raw_path": b"/v1/completions", "query_string": b"",
             "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
             "headers": [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode()), (b"x-completions-hedge-after", b"0.05")]}
    written, gone = anyio.Event(), anyio.Event()
    bodies: list[bytes] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            bodies.append(message["body"])
            written.set()
            await anyio.sleep_forever()  # a client that reads nothing: the write never completes

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(app, scope, receive, send)
            await written.wait()
            gone.set()
        await slow.closed.wait()
        await fast.closed.wait()
    assert b"quick" in bodies[0]
