"""A micro-benchmark of the prepared post's upstream exchange, one request at a time (bench/README.md,
"Upstream exchange (2026-12-07)").

A loopback server in this process answers every request on a kept-alive connection with a short
SSE body (two events). One OpenAI client the adapter built (the SDK's aiohttp transport) sends a
streaming request and reads its body to the end, in three ways, in alternating rounds:

- ``httpx2``: the prepared post through httpx2's ``AsyncClient.send`` and the vendored transport
  (the way before the direct route);
- ``route``: the prepared post's direct route to the transport's aiohttp session;
- ``aiohttp``: bare aiohttp on the same session, the same headers prepared beforehand (what the
  minimal re-encoder pays), the floor.

Each round's figure is this process's CPU time per request (the server's part is the same in
every way), best of ``--repeats``.

    python bench/upstream_exchange_bench.py --requests 2000 --rounds 6
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from ab_report import report

ANSWER = b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\ndata: [DONE]\n\n'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n\r\n" % len(ANSWER) + ANSWER
)
BODY = {"model": "gpt-mock", "stream": True, "messages": [{"role": "user", "content": "Tell me something."}]}


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line[15:]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            writer.write(RESPONSE)
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def _exchange(post: Any, how: str, requests: int) -> float:
    import aiohttp

    from completions_core.jsonutil import dumps

    post._route = False if how == "httpx2" else None
    session = post._route_session if how == "aiohttp" else None
    start = time.process_time()
    for _ in range(requests):
        if session is None:
            upstream = await post.send(BODY, None)
            data = await upstream.aread()
            await upstream.aclose()
        else:
            content = dumps(BODY)
            headers = post.aiohttp_head().copy()
            headers.add("x-stainless-read-timeout", "600.0")
            headers.add("content-length", str(len(content)))
            async with session.post(
                post.url_text, data=content, headers=headers, timeout=aiohttp.ClientTimeout(sock_read=600.0)
            ) as response:
                data = b"".join([chunk async for chunk in response.content.iter_any()])
        assert data == ANSWER, data
    return (time.process_time() - start) / requests


async def run(requests: int, rounds: int, repeats: int) -> dict[str, list[float]]:
    from upstream_read_bench import openai_post

    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    close_client, post = openai_post(server.sockets[0].getsockname()[1])
    await _exchange(post, "route", 50)  # the route found, the transport's session made
    post._route_session = post._route.transport.client
    results: dict[str, list[float]] = {"httpx2": [], "route": [], "aiohttp": []}
    for how in results:  # warm-up
        await _exchange(post, how, 200)
    for round_ in range(rounds):
        ways = list(results) if round_ % 2 == 0 else list(results)[::-1]
        for how in ways:
            results[how].append(min([await _exchange(post, how, requests) for _ in range(repeats)]))
    await close_client()
    server.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = asyncio.run(run(args.requests, args.rounds, args.repeats))
    report(results, "route", "httpx2", "request")
    report({"route": results["route"], "aiohttp": results["aiohttp"]}, "route", "aiohttp", "request")


if __name__ == "__main__":
    main()
