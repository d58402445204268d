"""Soak: many streams with random upstream faults and random client disconnects (bounded, loopback).

Afterwards nothing is left behind (tasks, upstream connections, memory), and every stream that
completed carries exactly the text the upstream sent: nothing lost, nothing duplicated.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from completions_openai import OpenAIAdapter

from completions_core.plugins import ProviderRegistry
from completions_proxy.testing import RunningProxy, running_proxy

pytestmark = pytest.mark.anyio

MODES = ["ok"] * 12 + ["status_500", "reset_mid", "hang_mid", "malformed"]
TOTAL, WARMUP, CONCURRENCY = 1200, 200, 24


def _tokens(seed: int) -> list[str]:
    return [f"w{seed}_{i} " for i in range(20)]


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class Upstream:
    """OpenAI-shaped streams whose text and fault come from the request."""

    def __init__(self) -> None:
        self.active = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.active += 1
        try:
            body = await request.json()
            _, seed_text, mode = body["messages"][-1]["content"].split(":")
            seed = int(seed_text)
            if mode == "status_500":
                return web.json_response({"error": {"message": "boom", "type": "server_error"}}, status=500)
            response = web.StreamResponse(headers={"content-type": "text/event-stream"})
            await response.prepare(request)
            await response.write(_chunk({"role": "assistant", "content": ""}))
            for i, token in enumerate(_tokens(seed)):
                if i == 5 and mode == "reset_mid":
                    assert request.transport is not None
                    request.transport.abort()
                    return response
                if i == 5 and mode == "hang_mid":
                    await asyncio.sleep(3600)
                if i == 5 and mode == "malformed":
                    await response.write(b'data: {"broken": \n\n')
                await response.write(_chunk({"content": token}))
            await response.write(_chunk({}, "stop"))
            await response.write(b"data: [DONE]\n\n")
            return response
        finally:
            self.active -= 1


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, str]]:
    handler = Upstream()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler.handle)
    # Handlers are cancelled when the proxy closes the connection: "active" then proves it did.
    runner = web.AppRunner(app, handle_signals=False, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield handler, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _one(session: aiohttp.ClientSession, proxy: RunningProxy, seed: int, rng: random.Random) -> str:
    mode = rng.choice(MODES)
    disconnect_after = rng.choice([None] * 9 + [rng.randint(1, 10)])
    body = {"provider": "openai", "model": "m", "stream": True,
            "messages": [{"role": "user", "content": f"soak:{seed}:{mode}"}],
            "credentials": {"openai": {"api_key": "sk-test-soak-000000000"}},
            # A 500 is retried once (after the proxy's floor delay), then reported: retries leak nothing either.
            "retry": {"max_retries": 1, "retry_delay": 0}}
    headers = {"Authorization": f"Bearer {proxy.token}", "X-Completions-Idle-Timeout": "0.3"}
    async with session.post(proxy.url + "/v1/completions", json=body, headers=headers) as resp:
        if resp.status != 200:
            assert mode == "status_500", (mode, resp.status)
            assert (await resp.json())["error"]["type"] == "provider_error"
            return "http_error"
        records = []
        async for line in resp.content:
            if not line.strip():
                continue
            records.append(json.loads(line))
            if disconnect_after is not None and len(records) >= disconnect_after:
                resp.close()
                return "client_left"
    kinds = [r["type"] for r in records]
    if mode == "ok":
        text = "".join(r["delta"] for r in records if r["type"] == "content_delta")
        assert text == "".join(_tokens(seed)), "lost or duplicated text"
        assert records[-1]["type"] == "response" and records[-1]["response"]["message"]["content"] == text
        return "ok"
    assert kinds[-1] == "error" and "response" not in kinds, (mode, kinds)
    return "error_record"


async def _batch(proxy: RunningProxy, seeds: range, rng: random.Random) -> dict[str, int]:
    outcomes: dict[str, int] = {}
    queue = list(seeds)
    async with aiohttp.ClientSession() as session:
        async def worker() -> None:
            while queue:
                outcome = await _one(session, proxy, queue.pop(), rng)
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return outcomes


async def _settled(predicate: Any, seconds: float = 15.0) -> bool:
    for _ in range(int(seconds / 0.05)):
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


async def test_soak_with_random_faults_and_disconnects_leaves_nothing_behind(upstream: tuple[Upstream, str]) -> None:
    handler, url = upstream
    rng = random.Random(20261122)
    registry = ProviderRegistry()
    registry.register(OpenAIAdapter(base_url=url + "/v1"))
    async with running_proxy(registry) as proxy:
        await _batch(proxy, range(WARMUP), rng)
        assert await _settled(lambda: handler.active == 0 and not proxy.state.streams)
        gc.collect()
        tasks_before = len(asyncio.all_tasks())
        fds_before = len(os.listdir("/proc/self/fd"))
        rss_before = _rss_mb()
        outcomes = await _batch(proxy, range(WARMUP, TOTAL), rng)
        # Every upstream call has ended (client disconnects closed them), every stream is done.
        assert await _settled(lambda: handler.active == 0 and not proxy.state.streams), handler.active
        assert await _settled(lambda: len(asyncio.all_tasks()) <= tasks_before)
        gc.collect()
        fds_after = len(os.listdir("/proc/self/fd"))
        rss_after = _rss_mb()
    assert sum(outcomes.values()) == TOTAL - WARMUP
    assert outcomes.get("ok", 0) > 500 and outcomes.get("client_left", 0) > 50
    assert outcomes.get("error_record", 0) > 30 and outcomes.get("http_error", 0) > 10
    assert fds_after <= fds_before + 8, (fds_before, fds_after)
    assert rss_after - rss_before < 25, (rss_before, rss_after)
