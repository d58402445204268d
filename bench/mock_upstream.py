"""A fast loopback mock of the providers' streaming APIs, for benchmarks.

OpenAI Chat Completions (``POST /v1/chat/completions``), Anthropic Messages (``POST /v1/messages``)
and Gemini (``POST /v1beta/models/{model}:streamGenerateContent``) in their real SSE framing.
Time to first token, inter-token delay and token count come from the command line, or per
request from the ``x-mock-ttft-ms`` / ``x-mock-itl-ms`` / ``x-mock-tokens`` headers. A model name
ending in ``-itl<N>`` (``gpt-mock-itl20``) paces its tokens N ms apart: proxies forward the model
name but not arbitrary headers, so this is how the bench asks for paced streams through a peer.

    python bench/mock_upstream.py --port 9100 --ttft-ms 0 --itl-ms 0 --tokens 50
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import re
import time
from typing import Any

from aiohttp import web

WORDS = ["Hello", "there", "this", "is", "a", "streamed", "answer", "from", "the", "mock"]


def token(i: int) -> str:
    """The i-th token: words, with a sentence end every tenth token."""
    word = WORDS[i % len(WORDS)]
    return f" {word}." if i % 10 == 9 else f" {word}"


_PACED = re.compile(r"-itl(\d+)$")


def _params(request: web.Request, defaults: dict[str, float], model: str = "") -> tuple[float, float, int]:
    h = request.headers
    itl = float(h.get("x-mock-itl-ms", defaults["itl_ms"])) / 1000
    paced = _PACED.search(model)
    if paced:
        itl = int(paced.group(1)) / 1000
    elif model.endswith("-slow"):
        itl = max(itl, 0.02)  # streams that stay open: the memory phase holds many at once
    return (
        float(h.get("x-mock-ttft-ms", defaults["ttft_ms"])) / 1000,
        itl,
        int(h.get("x-mock-tokens", defaults["tokens"])),
    )


class Pacer:
    """Token ``i`` of a stream is due ``ttft + i * itl`` after the request arrived: an absolute
    schedule. Sleeping ``itl`` after each write instead let the mock's own lateness add up over the
    50 tokens, so a busy load-generator core stretched a 1 s stream to 1.4 s and changed, from one
    level to the next, how many chunks a proxy under test received per wake-up."""

    def __init__(self, ttft: float, itl: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.start, self.ttft, self.itl = self.loop.time(), ttft, itl

    async def first(self) -> None:
        await asyncio.sleep(max(0.0, self.start + self.ttft - self.loop.time()))

    async def token(self, i: int) -> None:
        """Wait for token ``i`` (none between tokens of an unpaced stream)."""
        if i and self.itl:
            await asyncio.sleep(max(0.0, self.start + self.ttft + i * self.itl - self.loop.time()))


def _openai_chunk(created: int, delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> bytes:
    choices = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]
    body: dict[str, Any] = {
        "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": created,
        "model": "gpt-mock", "choices": choices,
    }
    if usage:
        body["usage"] = usage
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


@functools.lru_cache(maxsize=4096)
def _openai_token(created: int, i: int) -> bytes:
    return _openai_chunk(created, {"content": token(i)})


async def openai(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    ttft, itl, tokens = _params(request, request.app["defaults"], str(body.get("model", "")))
    created = int(time.time())
    if not body.get("stream"):
        await asyncio.sleep(ttft + itl * tokens)
        text = "".join(token(i) for i in range(tokens))
        return web.json_response({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": created, "model": "gpt-mock",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": tokens, "total_tokens": 10 + tokens},
        })
    pacer = Pacer(ttft, itl)
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    await pacer.first()
    await response.write(_openai_chunk(created, {"role": "assistant", "content": ""}))
    for i in range(tokens):
        await pacer.token(i)
        await response.write(_openai_token(created, i))
    await response.write(_openai_chunk(created, {}, "stop"))
    usage = {"prompt_tokens": 10, "completion_tokens": tokens, "total_tokens": 10 + tokens}
    await response.write(_openai_chunk(created, {}, None, usage))
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def _anthropic_event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@functools.lru_cache(maxsize=1024)
def _anthropic_token(i: int) -> bytes:
    return _anthropic_event("content_block_delta", {
        "type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": token(i)}})


async def anthropic(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    ttft, itl, tokens = _params(request, request.app["defaults"], str(body.get("model", "")))
    pacer = Pacer(ttft, itl)
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    await pacer.first()
    await response.write(_anthropic_event("message_start", {"type": "message_start", "message": {
        "id": "msg_mock", "type": "message", "role": "assistant", "model": "claude-mock", "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1}}}))
    await response.write(_anthropic_event("content_block_start", {
        "type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}))
    # As recorded (data/wire/anthropic/messages_stream_text.yaml): a ping after the first block opens.
    await response.write(_anthropic_event("ping", {"type": "ping"}))
    for i in range(tokens):
        await pacer.token(i)
        await response.write(_anthropic_token(i))
    await response.write(_anthropic_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    await response.write(_anthropic_event("message_delta", {
        "type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": tokens}}))
    await response.write(_anthropic_event("message_stop", {"type": "message_stop"}))
    await response.write_eof()
    return response


@functools.lru_cache(maxsize=4096)
def _gemini_chunk(i: int, last: bool) -> bytes:
    chunk: dict[str, Any] = {"candidates": [{"content": {"parts": [{"text": token(i)}], "role": "model"},
                                             "index": 0}],
                             "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": i + 1,
                                               "totalTokenCount": 11 + i},
                             "modelVersion": "gemini-mock"}
    if last:
        chunk["candidates"][0]["finishReason"] = "STOP"
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\r\n\r\n"


async def gemini(request: web.Request) -> web.StreamResponse:
    await request.json()
    ttft, itl, tokens = _params(request, request.app["defaults"], request.match_info["model"])
    pacer = Pacer(ttft, itl)
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    await pacer.first()
    for i in range(tokens):
        await pacer.token(i)
        await response.write(_gemini_chunk(i, i == tokens - 1))
    await response.write_eof()
    return response


def make_app(ttft_ms: float = 0, itl_ms: float = 0, tokens: int = 50) -> web.Application:
    """The mock as an aiohttp application."""
    app = web.Application()
    app["defaults"] = {"ttft_ms": ttft_ms, "itl_ms": itl_ms, "tokens": tokens}
    app.router.add_post("/v1/chat/completions", openai)
    app.router.add_post("/v1/messages", anthropic)
    app.router.add_post("/v1beta/models/{model}:streamGenerateContent", gemini)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--ttft-ms", type=float, default=0)
    parser.add_argument("--itl-ms", type=float, default=0)
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio",
                        help="the mock's event loop (bench/run.py --harness-loop)")
    args = parser.parse_args()
    loop = None
    if args.loop == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    # A long listen queue: at 256 concurrent streams every proxy opens 256 upstream connections at
    # once, and aiohttp's default of 128 would drop SYNs (a 1 s retry) on the mock's side.
    web.run_app(make_app(args.ttft_ms, args.itl_ms, args.tokens), host="127.0.0.1", port=args.port,
                print=None, access_log=None, backlog=2048, loop=loop)


if __name__ == "__main__":
    main()
