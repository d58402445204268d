"""A micro-benchmark of the upstream read of one stream chunk on the prepared post (bench/README.md,
"Per-chunk upstream read (2026-12-07)").

One stream from a loopback server in this process, in lock-step: the server writes one chunk (an
OpenAI SSE event), the reader reads it, then the server writes the next, so that every chunk is
its own read and wake-up, as on a paced stream. The stream is sent through the prepared post of an
OpenAI client the adapter built (the SDK's aiohttp transport, the SDK's 600 s read timeout), and
its body read in two ways, in alternating rounds:

- ``httpx2``: as before, through httpx2's response (``aiter_bytes``, ``aiter_raw``,
  ``BoundAsyncStream``, the vendored ``AiohttpResponseStream``), aiohttp's read timer armed again
  on every read;
- ``direct``: ``UpstreamBody.aiter_bytes``, read straight from aiohttp (its read timer guarding a silent upstream).

Each round's figure is this process's CPU time per chunk of the whole loop (server write, wake-up, read),
best of ``--repeats``; the server's part is the same in both ways.

    python bench/upstream_read_bench.py --chunks 20000 --rounds 6
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from ab_report import report

CHUNK = b'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" tok"}}]}\n\n'


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, go: asyncio.Queue[int]) -> None:
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n")
    while await go.get() > 0:
        writer.write(CHUNK)
    writer.close()


async def _stream(post: Any, go: asyncio.Queue[int], chunks: int, how: str) -> float:
    body = {"model": "gpt-mock", "stream": True, "messages": []}
    if how == "direct":
        upstream = await post.send(body, None)
        reads, close = upstream.aiter_bytes(), upstream.aclose
    else:
        response = await post.http.send(post.request(body, None), stream=True)
        reads, close = response.aiter_bytes(), response.aclose
    start = time.process_time()
    for _ in range(chunks):
        go.put_nowait(1)
        data = await anext(reads)
        assert data == CHUNK, data
    spent = time.process_time() - start
    go.put_nowait(0)
    await close()
    return spent / chunks


async def run(chunks: int, rounds: int, repeats: int) -> dict[str, list[float]]:
    from completions_openai import OpenAIAdapter
    from completions_openai.sending import prepared_post

    from completions_core.adapter import Credential
    from completions_core.redaction import Secret
    from completions_core.testing.requests import provider_request

    go: asyncio.Queue[int] = asyncio.Queue()
    server = await asyncio.start_server(lambda r, w: _serve(r, w, go), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    adapter = OpenAIAdapter(base_url=f"http://127.0.0.1:{port}/v1")
    request = provider_request("openai", "gpt-mock")
    client = adapter.create_client(adapter.client_config(request, Credential("customer", Secret("bench-key"))))
    post = prepared_post(client)
    if post is None:
        raise RuntimeError("the client has no prepared post")
    results: dict[str, list[float]] = {"httpx2": [], "direct": []}
    for how in results:  # warm-up
        await _stream(post, go, 200, how)
    for round_ in range(rounds):
        for how in (("httpx2", "direct") if round_ % 2 == 0 else ("direct", "httpx2")):
            results[how].append(min([await _stream(post, go, chunks, how) for _ in range(repeats)]))
    await adapter.close_client(client)
    server.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = asyncio.run(run(args.chunks, args.rounds, args.repeats))
    report(results, "direct", "httpx2", "chunk")


if __name__ == "__main__":
    main()
