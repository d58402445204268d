"""Graceful shutdown of the real server process: no stream is cut without an error record."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys

import aiohttp
import pytest

pytestmark = pytest.mark.anyio


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            assert process.poll() is None, "the proxy exited during start-up"
            try:
                async with session.get(url + "/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("the proxy did not become ready")


async def _stream(url: str, token: str, text: str, delay: float, started: asyncio.Event) -> list[dict]:  # type: ignore[type-arg]
    body = {
        "provider": "embedded", "model": "m", "stream": True,
        "messages": [{"role": "user", "content": "x"}],
        "provider_kwargs": {"embedded": {"text": text, "token_delay": delay, "first_token_delay": 0}},
    }
    lines = []
    async with aiohttp.ClientSession() as session, session.post(
        url + "/v1/completions", json=body, headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert resp.status == 200
        async for raw in resp.content:
            if raw.strip():
                lines.append(json.loads(raw))
                started.set()
    return lines


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_lets_short_streams_finish_and_ends_long_ones_with_an_error_record(workers: int) -> None:
    port, token = _free_port(), secrets.token_urlsafe(24)
    env = dict(os.environ, COMPLETIONS_PROXY_TOKENS=token, COMPLETIONS_PLUGINS="embedded", COMPLETIONS_LOG_FORMAT="json")
    process = subprocess.Popen(
        [sys.executable, "-m", "completions_proxy.cli", "--bind", f"127.0.0.1:{port}",
         "--drain-seconds", "1.5", "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(url, process)
        long_started, short_started = asyncio.Event(), asyncio.Event()
        long_task = asyncio.create_task(_stream(url, token, "word " * 200, 0.1, long_started))
        short_task = asyncio.create_task(_stream(url, token, "Short answer here. " * 2, 0.05, short_started))
        await asyncio.wait_for(asyncio.gather(long_started.wait(), short_started.wait()), 20)
        process.send_signal(signal.SIGTERM)
        long_lines, short_lines = await asyncio.wait_for(asyncio.gather(long_task, short_task), 30)
        assert short_lines[-1]["type"] == "response"
        assert long_lines[-1]["type"] == "error"
        assert long_lines[-1]["error_type"] == "unavailable_error"
        assert "shutting down" in long_lines[-1]["error"]
        assert long_lines[0]["type"] == "content_delta"
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
