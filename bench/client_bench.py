"""Client-side cost: how fast ``generate_chat_completion_stream`` parses chunks, against a bare aiohttp read.

A loopback aiohttp server answers ``/v1/completions`` with a pre-encoded NDJSON stream of
content deltas (and the closing records), so the server costs next to nothing; both readers
consume the same bytes in the same process. Reported: chunks per second for each, and the
client's overhead over the bare read (CPU time, best of several rounds).

    python bench/client_bench.py [--chunks 2000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp
from aiohttp import web

from primfunctions.completions import client as client_module
from primfunctions.completions import configure, configure_provider, generate_chat_completion_stream


def _body(chunks: int) -> bytes:
    lines = [json.dumps({"type": "content_delta", "delta": f" word{i}"}) for i in range(chunks)]
    lines.append(json.dumps({"type": "finish_reason", "finish_reason": "stop"}))
    lines.append(json.dumps({"type": "usage", "usage": {"prompt_tokens": 10, "completion_tokens": chunks}}))
    response = {"message": {"role": "assistant", "content": "x", "vr_id": "abcdefgh"}, "finish_reason": "stop",
                "usage": None, "provider": "openai", "model": "m", "request_id": "r"}
    lines.append(json.dumps({"type": "response", "response": response}))
    return ("\n".join(lines) + "\n").encode()


async def _serve(body: bytes) -> tuple[web.AppRunner, str]:
    async def completions(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"content-type": "application/x-ndjson"})
        await response.prepare(request)
        for start in range(0, len(body), 1024):  # arrives in pieces, like a real stream
            await response.write(body[start : start + 1024])
        await response.write_eof()
        return response

    async def warm(request: web.Request) -> web.Response:
        return web.json_response({"warm": True}, status=202)

    app = web.Application()
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/warm", warm)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def _bare(url: str) -> int:
    count = 0
    async with aiohttp.ClientSession() as session, session.post(url + "/v1/completions", data=b"{}") as resp:
        buffer = b""
        async for data in resp.content.iter_any():
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            count += sum(1 for line in lines if line)
    return count


async def _client() -> int:
    request = {"provider": "openai", "model": "m", "messages": [{"role": "user", "content": "x"}]}
    stream = await generate_chat_completion_stream(request)
    return sum([1 async for _ in stream])


async def main(chunks: int, rounds: int) -> None:
    runner, url = await _serve(_body(chunks))
    configure(url, "bench-token-0123456789")
    configure_provider("openai", voicerun_managed=True)
    try:
        results = {}
        for name, run in (("bare aiohttp read", lambda: _bare(url)), ("generate_chat_completion_stream", _client)):
            best = float("inf")
            for _ in range(rounds):
                start = time.process_time()
                count = await run()
                best = min(best, time.process_time() - start)
            results[name] = (count, best)
        for name, (count, cpu) in results.items():
            print(f"{name:>32}: {count / cpu:>10,.0f} chunks/s ({cpu * 1e6 / count:.2f} us CPU per chunk)")
        bare = results["bare aiohttp read"][1]
        ours = results["generate_chat_completion_stream"][1]
        print(f"client overhead over the bare read: {ours / bare:.2f}x CPU "
              f"({(ours - bare) * 1e6 / chunks:.2f} us per chunk for parsing into typed chunks)")
    finally:
        await client_module._reset_for_tests()
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.chunks, args.rounds))
