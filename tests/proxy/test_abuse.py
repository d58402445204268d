"""Slow and abusive clients: each is bounded, and the proxy keeps serving everyone else."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import pytest
import starlette

from completions_core.adapter import ProviderAdapter, StreamEvent, TextDelta
from completions_core.request import ProviderRequest
from completions_proxy.testing import RunningProxy, running_proxy
from tests.helpers import FAST, registry

pytestmark = pytest.mark.anyio

BODY = {"provider": "embedded", "model": "m", "messages": [{"role": "user", "content": "hi"}], "provider_kwargs": FAST}


class FloodAdapter(ProviderAdapter):
    """Streams 1 KiB deltas for ever, counting how many it produced."""

    name = "flood"
    requires_key = False

    def __init__(self) -> None:
        self.produced = 0
        self.closed = anyio.Event()

    def create_client(self, config: Any) -> Any:
        return object()

    async def close_client(self, client: Any) -> None:
        return None

    async def stream(self, client: Any, request: ProviderRequest) -> AsyncIterator[StreamEvent]:
        try:
            while True:
                self.produced += 1
                yield TextDelta("x" * 1024)
                await anyio.lowlevel.checkpoint()
        finally:
            self.closed.set()


def _raw_request(port: int, token: str, body: bytes, *, host: str = "127.0.0.1") -> bytes:
    return (
        f"POST /v1/completions HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _port(proxy: RunningProxy) -> int:
    return int(proxy.url.rsplit(":", 1)[1])


async def test_starlette_has_the_host_header_fix() -> None:
    major, minor, patch = (int(part) for part in starlette.__version__.split(".")[:3])
    assert (major, minor, patch) >= (1, 0, 1)


async def test_a_forged_host_header_does_not_bypass_auth() -> None:
    async with running_proxy(registry()) as proxy:
        for host in ("localhost/healthz?", "evil.example", "127.0.0.1:1/healthz#", ""):
            reader, writer = await asyncio.open_connection("127.0.0.1", _port(proxy))
            writer.write(_raw_request(_port(proxy), "not-the-token-000000", json.dumps(BODY).encode(), host=host))
            await writer.drain()
            status = await reader.readline()
            writer.close()
            assert status.split()[1] in (b"400", b"401"), (host, status)


async def test_a_never_reading_consumer_stalls_only_its_own_stream_with_bounded_buffering() -> None:
    flood = FloodAdapter()
    async with running_proxy(registry(flood)) as proxy:
        body = json.dumps({**BODY, "provider": "flood", "stream": True}).encode()
        _reader, writer = await asyncio.open_connection("127.0.0.1", _port(proxy))
        writer.write(_raw_request(_port(proxy), proxy.token, body))
        await writer.drain()
        # Backpressure: production stops once the socket buffers are full. Watch it settle.
        last, steady = -1, 0
        with anyio.fail_after(30):
            while steady < 5:
                await anyio.sleep(0.1)
                steady = steady + 1 if flood.produced == last else 0
                last = flood.produced
        assert flood.produced * 1024 < 64 * 1024 * 1024, "the proxy buffered without bound"
        async with aiohttp.ClientSession() as session, session.post(
            proxy.url + "/v1/completions", json=BODY, headers={"Authorization": f"Bearer {proxy.token}"}
        ) as resp:
            assert resp.status == 200  # everyone else is still served
        writer.close()
        with anyio.fail_after(10):
            await flood.closed.wait()


async def test_a_trickled_body_times_out_with_408() -> None:
    async with running_proxy(registry(), body_timeout=0.5) as proxy:
        body = json.dumps(BODY).encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", _port(proxy))
        head = _raw_request(_port(proxy), proxy.token, body)
        writer.write(head[: len(head) - len(body) + 5])  # headers and the first bytes, then nothing
        await writer.drain()
        with anyio.fail_after(10):
            status = await reader.readline()
        writer.close()
        assert status.split()[1] == b"408"


async def test_many_idle_connections_do_not_block_real_requests() -> None:
    async with running_proxy(registry()) as proxy:
        idle = [await asyncio.open_connection("127.0.0.1", _port(proxy)) for _ in range(300)]
        try:
            async with aiohttp.ClientSession() as session, session.post(
                proxy.url + "/v1/completions", json=BODY, headers={"Authorization": f"Bearer {proxy.token}"}
            ) as resp:
                assert resp.status == 200
        finally:
            for _, writer in idle:
                writer.close()
