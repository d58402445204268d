"""The SDK client cache: a client in use is never closed; customer keys never push out managed ones."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Hashable
from typing import Any, Optional

import aiohttp
import anyio
import pytest

from completions_core.adapter import Credential, Finish, ProviderAdapter, StreamEvent, TextDelta
from completions_core.plugins import ProviderRegistry
from completions_core.request import ProviderRequest
from completions_proxy.clients import ClientCache
from completions_proxy.testing import running_proxy

pytestmark = pytest.mark.anyio


class Held(ProviderAdapter):
    """Needs a key; streams one sentence, waits for ``gate``, then another, like an SDK whose
    closed client fails the read in progress."""

    name = "held"
    managed_key_env = ("HELD_API_KEY",)

    def __init__(self) -> None:
        self.gate = anyio.Event()
        self.created = 0
        self.closed: list[dict[str, Any]] = []

    def client_config(self, request: ProviderRequest, credential: Credential) -> Hashable:
        return credential

    def create_client(self, config: Any) -> Any:
        self.created += 1
        return {"credential": config, "closed": False}

    async def close_client(self, client: Any) -> None:
        client["closed"] = True
        self.closed.append(client)

    async def stream(self, client: Any, request: ProviderRequest) -> AsyncIterator[StreamEvent]:
        yield TextDelta("Hello there. ")
        await self.gate.wait()
        if client["closed"]:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        yield TextDelta("Still here.")
        yield Finish("stop")


async def test_an_evicted_client_is_closed_only_when_its_last_user_is_done() -> None:
    adapter = Held()
    cache = ClientCache(max_size=1)
    with cache.lease(adapter, "a") as first, cache.lease(adapter, "a") as again:
        assert first is again
        cache.get(adapter, "b")  # evicts "a", which two attempts are using
        await cache.closed()
        assert adapter.closed == [] and cache.in_use == 1 and len(cache) == 1
    await cache.closed()
    assert adapter.closed == [first] and first["closed"] and cache.in_use == 0


async def test_a_discarded_client_in_use_is_closed_after_its_attempt() -> None:
    adapter = Held()
    cache = ClientCache()
    with cache.lease(adapter, "stale") as client:
        cache.discard(adapter, "stale")
        assert cache.get(adapter, "stale") is not client  # the next attempt gets a new one
        await cache.closed()
        assert adapter.closed == []
    await cache.closed()
    assert adapter.closed == [client]


async def test_customer_key_clients_never_push_out_managed_ones() -> None:
    adapter = Held()
    cache = ClientCache(max_size=4)
    managed = cache.get(adapter, "managed")
    for i in range(20):
        cache.get(adapter, f"customer-{i}", customer=True)
    assert cache.get(adapter, "managed") is managed and adapter.created == 21
    await cache.closed()
    assert len(adapter.closed) == 16 and managed not in adapter.closed


async def test_a_managed_stream_survives_80_customer_key_warms() -> None:
    held = Held()
    registry = ProviderRegistry()
    registry.register(held, "tests")
    async with running_proxy(registry, env={"HELD_API_KEY": "managed-key-000000001"}) as proxy, aiohttp.ClientSession() as session:
        auth = {"Authorization": f"Bearer {proxy.token}"}
        body = {"provider": "held", "model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}],
                "credentials": {"held": {"voicerun_managed": True}}}
        async with session.post(proxy.url + "/v1/completions", json=body, headers=auth) as resp:
            first = json.loads(await resp.content.readline())
            assert first["type"] == "content_delta"
            for i in range(80):
                warm = {"provider": "held", "credentials": {"held": {"api_key": f"customer-key-{i:04d}"}}}
                async with session.post(proxy.url + "/v1/warm", json=warm, headers=auth) as warmed:
                    assert warmed.status == 202
            await proxy.state.clients.closed()
            held.gate.set()
            rest = [json.loads(line) for line in (await resp.text()).splitlines() if line.strip()]
        assert len(held.closed) == 80 - proxy.state.settings.client_cache_size  # only customer clients went
    assert [r["type"] for r in rest][-1] == "response", rest
    assert rest[-1]["response"]["message"]["content"] == "Hello there. Still here."


class SlowWarm(Held):
    """Its first warm-up waits for ``gate`` and then reads from its client, as an SDK would."""

    def __init__(self) -> None:
        super().__init__()
        self.warming = anyio.Event()
        self.done = anyio.Event()
        self.first: Any = None
        self.saw_closed: Optional[bool] = None

    async def warm(self, client: Any) -> None:
        if self.first is not None:
            return
        self.first = client
        self.warming.set()
        await self.gate.wait()
        self.saw_closed = client["closed"]
        self.done.set()


async def test_a_warm_up_in_progress_keeps_its_client_open_through_evictions() -> None:
    slow = SlowWarm()
    registry = ProviderRegistry()
    registry.register(slow, "tests")
    async with running_proxy(registry, env={"HELD_API_KEY": "managed-key-000000001"}) as proxy, aiohttp.ClientSession() as session:
        auth = {"Authorization": f"Bearer {proxy.token}"}
        for i in range(80):  # the first warm-up parks; the next 79 push its client out of the cache
            warm = {"provider": "held", "credentials": {"held": {"api_key": f"customer-key-{i:04d}"}}}
            async with session.post(proxy.url + "/v1/warm", json=warm, headers=auth) as warmed:
                assert warmed.status == 202
            if i == 0:
                await slow.warming.wait()
        await proxy.state.clients.closed()
        assert slow.first not in slow.closed  # evicted, but in use: still open
        slow.gate.set()
        await slow.done.wait()
        await proxy.state.clients.closed()
        assert slow.saw_closed is False and slow.first in slow.closed  # closed after its last user
