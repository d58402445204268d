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
- ``direct``: ``UpstreamBody.aiter_bytes``, read straight from aiohttp (a silent upstream cut by
  the event loop's read sweeper; no timer armed per chunk).

Each round's figure is this process's CPU time per chunk of the whole loop (server write, wake-up, read),
best of ``--repeats``; the server's part is the same in both ways.

``--ref-tree DIR`` compares the direct read with another commit's instead (a source tree, e.g.
``git archive 6233102 | tar -x -C DIR``): each round runs one process per tree, alternating which
goes first, and reports each one's CPU per chunk (``ref``: the other tree's). ``--timers N`` keeps
N other timers pending on the loop, as a proxy with many open streams has (hypercorn's keep-alive
timer and aiohttp's read timer per stream: about 512 at 256 streams); a timer set per chunk is
pushed onto that heap.

    python bench/upstream_read_bench.py --chunks 20000 --rounds 6
    python bench/upstream_read_bench.py --ref-tree /tmp/main-tree --timers 512 --rounds 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
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


def openai_post(port: int) -> tuple[Callable[[], Awaitable[None]], Any]:
    """The prepared post of an OpenAI plugin client for a loopback server on ``port``, and the
    client's close."""
    from completions_openai import OpenAIAdapter
    from completions_openai.sending import prepared_post

    from completions_core.adapter import Credential
    from completions_core.redaction import Secret
    from completions_core.testing.requests import provider_request

    adapter = OpenAIAdapter(base_url=f"http://127.0.0.1:{port}/v1")
    request = provider_request("openai", "gpt-mock")
    client = adapter.create_client(adapter.client_config(request, Credential("customer", Secret("bench-key"))))
    post = prepared_post(client)
    if post is None:
        raise RuntimeError("the client has no prepared post")
    return lambda: adapter.close_client(client), post


async def run(
    chunks: int, rounds: int, repeats: int, timers: int = 0, ways: tuple[str, ...] = ("httpx2", "direct")
) -> dict[str, list[float]]:
    go: asyncio.Queue[int] = asyncio.Queue()
    server = await asyncio.start_server(lambda r, w: _serve(r, w, go), "127.0.0.1", 0)
    close_client, post = openai_post(server.sockets[0].getsockname()[1])
    loop = asyncio.get_running_loop()
    pending = [loop.call_later(3600 + index, lambda: None) for index in range(timers)]
    results: dict[str, list[float]] = {how: [] for how in ways}
    for how in results:  # warm-up
        await _stream(post, go, 200, how)
    for round_ in range(rounds):
        for how in (ways if round_ % 2 == 0 else ways[::-1]):
            results[how].append(min([await _stream(post, go, chunks, how) for _ in range(repeats)]))
    for handle in pending:
        handle.cancel()
    await close_client()
    server.close()
    return results


def _tree_env(tree: Path) -> dict[str, str]:
    """The environment that makes Python import the source tree ``tree`` (its root and every
    distribution folder ahead of the editable installs), as bench/run.py's ``--ab-ref``."""
    paths = [tree] + [setup.parent for setup in sorted(tree.glob("*/*/setup.cfg"))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(str(path) for path in paths)}


def _one(tree: Path, args: argparse.Namespace) -> float:
    """The direct read's CPU per chunk in a process of its own on ``tree``'s code (one round)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--one", "--chunks", str(args.chunks),
               "--repeats", str(args.repeats), "--timers", str(args.timers)]
    out = subprocess.run(command, env=_tree_env(tree), cwd=tree, capture_output=True, text=True, check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    if not found["module"].startswith(str(tree)):
        raise RuntimeError(f"{tree}: imported {found['module']}")
    return float(found["direct"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timers", type=int, default=0, help="other timers kept pending on the loop")
    parser.add_argument("--ref-tree", type=Path, help="another commit's source tree: its direct read against this one")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        import completions_core.prepared

        found = asyncio.run(run(args.chunks, 1, args.repeats, args.timers, ("direct",)))
        print(json.dumps({"direct": found["direct"][0], "module": completions_core.prepared.__file__}))
        return
    if args.ref_tree is not None:
        here, ref = Path(__file__).resolve().parent.parent, args.ref_tree.resolve()
        results: dict[str, list[float]] = {"ref": [], "direct": []}
        for round_ in range(args.rounds):
            order = (("ref", ref), ("direct", here))
            for name, tree in order if round_ % 2 == 0 else order[::-1]:
                results[name].append(_one(tree, args))
        report(results, "direct", "ref", "chunk")
        return
    results = asyncio.run(run(args.chunks, args.rounds, args.repeats, args.timers))
    report(results, "direct", "httpx2", "chunk")


if __name__ == "__main__":
    main()
