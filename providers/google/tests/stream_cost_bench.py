"""A benchmark, not a test (pytest does not collect it).

CPU per Gemini stream on the adapter's side alone: ``GoogleAdapter.stream`` against the bench's
loopback mock (``bench/mock_upstream.py``, started in its own process), streams run ``--concurrency``
at a time; the figure is this process's CPU time over the streams run (the mock's is not counted).

    python providers/google/tests/stream_cost_bench.py --streams 2000 --tokens 50 --concurrency 16

Run it with ``PYTHONPATH`` pointing at another checkout's ``providers/google`` to compare two
versions of the adapter on the same machine (bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import completions_google
from completions_google import GoogleAdapter

from completions_core.adapter import Credential, TextDelta
from completions_core.redaction import Secret
from completions_core.request import ProviderRequest
from completions_core.types import UserMessage

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _wait_listening(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    raise RuntimeError("the mock did not start")


async def run(port: int, streams: int, tokens: int, concurrency: int) -> float:
    await _wait_listening(port)
    adapter = GoogleAdapter(base_url=f"http://127.0.0.1:{port}")
    request = ProviderRequest(provider="google", model="gemini-mock", messages=(UserMessage("Hi"),))
    client = adapter.create_client(adapter.client_config(request, Credential("customer", Secret("bench-key"))))
    texts = 0

    async def one() -> None:
        nonlocal texts
        async for event in adapter.stream(client, request):
            if isinstance(event, TextDelta):
                texts += 1

    await asyncio.gather(*(one() for _ in range(concurrency)))  # warm-up: pool, imports
    texts = 0
    left = streams
    start = time.process_time()
    while left > 0:
        batch = min(concurrency, left)
        await asyncio.gather(*(one() for _ in range(batch)))
        left -= batch
    spent = time.process_time() - start
    await adapter.close_client(client)
    if texts != streams * tokens:
        raise RuntimeError(f"expected {streams * tokens} text deltas, got {texts}")
    return spent / streams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    port = _free_port()
    mock = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "mock_upstream.py"), "--port", str(port), "--tokens", str(args.tokens)],
        stdout=subprocess.DEVNULL,
    )
    try:
        per_stream = asyncio.run(run(port, args.streams, args.tokens, args.concurrency))
    finally:
        mock.terminate()
        mock.wait()
    print(f"{completions_google.__file__}: {per_stream * 1e6:.0f} us CPU per stream of {args.tokens} tokens")


if __name__ == "__main__":
    main()
