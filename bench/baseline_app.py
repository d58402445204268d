"""The baseline: a minimal Starlette app that only re-encodes the upstream stream as NDJSON.

No SDK, no engine, no chunking, no telemetry: the least any Python proxy on hypercorn can cost,
measured in the same run as the real proxy. Upstream URL from ``BASELINE_UPSTREAM``.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

UPSTREAM = os.environ.get("BASELINE_UPSTREAM", "http://127.0.0.1:9100") + "/v1/chat/completions"
_session: list[aiohttp.ClientSession] = []


def _client() -> aiohttp.ClientSession:
    if not _session:
        _session.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))
    return _session[0]


async def completions(request: Request) -> StreamingResponse:
    body = await request.json()
    upstream = {"model": body["model"], "messages": body["messages"], "stream": True}

    async def lines() -> AsyncIterator[bytes]:
        async with _client().post(UPSTREAM, json=upstream) as resp:
            async for raw in resp.content:
                if not raw.startswith(b"data: ") or raw.startswith(b"data: [DONE]"):
                    continue
                chunk = json.loads(raw[6:])
                for choice in chunk.get("choices", []):
                    text = choice.get("delta", {}).get("content")
                    if text:
                        yield json.dumps({"type": "content_delta", "delta": text}).encode() + b"\n"
        yield b'{"type": "response"}\n'

    return StreamingResponse(lines(), media_type="application/x-ndjson")


app = Starlette(routes=[Route("/v1/completions", completions, methods=["POST"])])
