"""A micro-benchmark of one stream chunk's way from the NDJSON writer to the server's ``send``
(bench/README.md, "Per-request and paced-256 cost (2026-12-07)").

One app with the proxy's middleware stack (Starlette's error wrapper, admission, Starlette's
exception wrapper, the router) and one route answering a :class:`ChunkStreamResponse` whose
chunks come one per event-loop step, so that each is its own write, as on a paced stream. The
server's ``send`` only counts. Two ways, in alternating rounds:

- ``wrapped``: a plain ``Starlette`` app: every chunk goes through Starlette's three send wrappers;
- ``direct``: the proxy's ``ProxyApp``: the chunks go to the server's ``send`` (``BODY_SEND``).

The figure is this process's CPU time per chunk of the whole loop (the chunk generator, the
encoder, the writer, the event-loop step), best of ``--repeats``.

    python bench/body_send_bench.py --chunks 20000 --rounds 6
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Any

from ab_report import report


async def _one(app: Any, chunks: int) -> float:
    from completions_core.types import ContentDeltaChunk

    sent = 0

    async def send(message: Any) -> None:
        nonlocal sent
        sent += 1

    async def receive() -> Any:
        await asyncio.Event().wait()

    scope = {"type": "http", "method": "POST", "path": "/s", "raw_path": b"/s", "root_path": "", "query_string": b"",
             "headers": [], "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1),
             "http_version": "1.1", "asgi": {"version": "3.0"}}
    app.state.chunks = chunks
    app.state.delta = ContentDeltaChunk(delta=" tok")
    start = time.process_time()
    await app(scope, receive, send)
    spent = time.process_time() - start
    assert sent == chunks + 2, sent  # the status line, every chunk, the end
    return spent / chunks


def _app(kind: type[Any]) -> Any:
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.routing import Route

    from completions_proxy.admission import Admission, AdmissionMiddleware
    from completions_proxy.responses import ChunkStreamResponse

    async def endpoint(request: Request) -> ChunkStreamResponse:
        state = request.app.state

        async def chunks() -> AsyncGenerator[Any, None]:
            for _ in range(state.chunks):
                await asyncio.sleep(0)  # one chunk per event-loop step: one write each
                yield state.delta

        return ChunkStreamResponse(chunks(), {}, keepalive=0)

    return kind(routes=[Route("/s", endpoint, methods=["POST"])],
                middleware=[Middleware(AdmissionMiddleware, admission=Admission(0))])


async def run(chunks: int, rounds: int, repeats: int) -> dict[str, list[float]]:
    from starlette.applications import Starlette

    from completions_proxy.app import ProxyApp

    apps = {"wrapped": _app(Starlette), "direct": _app(ProxyApp)}
    results: dict[str, list[float]] = {name: [] for name in apps}
    for app in apps.values():  # warm-up
        await _one(app, 200)
    for round_ in range(rounds):
        for name in list(apps) if round_ % 2 == 0 else list(apps)[::-1]:
            results[name].append(min([await _one(apps[name], chunks) for _ in range(repeats)]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = asyncio.run(run(args.chunks, args.rounds, args.repeats))
    report(results, "direct", "wrapped", "chunk")


if __name__ == "__main__":
    main()
