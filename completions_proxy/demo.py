"""``completions-demo``: start the proxy on hypercorn and stream a conversation through the client.

It uses a real provider when its key is in the environment (OPENAI_API_KEY, ANTHROPIC_API_KEY,
GEMINI_API_KEY, DASHSCOPE_API_KEY) and the keyless embedded provider otherwise.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any, Optional

__all__ = ["TOOLS", "TURNS", "main"]

#: The tool the demo offers the model, and what the caller says, turn by turn.
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]
TURNS = ["Hello, what can you do for a caller on the phone?", "Please check get_weather for Paris."]

_REAL = [
    ("OPENAI_API_KEY", "openai", "gpt-4o-mini"),
    ("ANTHROPIC_API_KEY", "anthropic", "claude-haiku-4-5"),
    ("GEMINI_API_KEY", "google", "gemini-2.5-flash"),
    ("DASHSCOPE_API_KEY", "alibaba", "qwen-plus"),
]


def _installed(provider: str) -> bool:
    from completions_core.plugins import get_providers

    return provider in get_providers().names()


def _pick_provider() -> tuple[str, str]:
    from completions_core.plugins import get_providers

    installed = set(get_providers().names())
    for env, provider, model in _REAL:
        if os.environ.get(env) and provider in installed:
            return provider, model
    return "embedded", "embedded-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_proxy(port: int, token: str, log: Any) -> subprocess.Popen[bytes]:
    env = dict(os.environ, COMPLETIONS_PROXY_TOKENS=token, COMPLETIONS_LOG_FORMAT="json")
    command = [sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}", "completions_proxy.app:app"]
    process = subprocess.Popen(command, env=env, stderr=log, stdout=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the proxy exited with status {process.returncode}; see its log: {log.name}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as resp:
                if resp.status == 200:
                    return process
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("the proxy did not become ready within 30 s")


async def _conversation(url: str, token: str, provider: str, model: str) -> None:
    from primfunctions.completions import (
        ContentSentenceChunk,
        FinalResponseChunk,
        FinishReasonChunk,
        SystemMessage,
        ToolCallChunk,
        ToolResultMessage,
        UsageChunk,
        UserMessage,
        close,
        configure,
        configure_provider,
        generate_chat_completion_stream,
    )

    configure(url, token)
    configure_provider(provider, voicerun_managed=True)
    history: list[Any] = [SystemMessage("You are a friendly voice assistant. Answer in two or three sentences.")]
    print(f"provider: {provider} ({model}) via the proxy at {url}\n")
    try:
        pending = list(TURNS)
        while pending:
            text = pending.pop(0)
            if text:
                history.append(UserMessage(text))
                print(f"user> {text}")
            stream = await generate_chat_completion_stream(
                {"provider": provider, "model": model, "messages": history, "tools": TOOLS},
                stream_options={"chunk_by_sentence": True, "punctuation_language": "en"},
            )
            start = time.perf_counter()
            async for chunk in stream:
                elapsed = (time.perf_counter() - start) * 1000
                if isinstance(chunk, ContentSentenceChunk):
                    print(f"  [{elapsed:6.0f} ms] sentence: {chunk.sentence}")
                elif isinstance(chunk, ToolCallChunk):
                    call = chunk.tool_call
                    print(f"  [{elapsed:6.0f} ms] tool call: {call.function.name}({call.function.arguments})")
                elif isinstance(chunk, FinishReasonChunk):
                    print(f"  [{elapsed:6.0f} ms] finish: {chunk.finish_reason}")
                elif isinstance(chunk, UsageChunk):
                    print(f"  [{elapsed:6.0f} ms] usage: {chunk.usage}")
                elif isinstance(chunk, FinalResponseChunk):
                    history.append(chunk.response.message)
                    print(f"  [{elapsed:6.0f} ms] answered by {chunk.response.provider}/{chunk.response.model}\n")
                    for call in chunk.response.message.tool_calls or []:
                        # Run the "tool" here and send its result back: the model answers next turn.
                        result = {"city": call.function.arguments.get("city"), "forecast": "sunny", "temp_c": 21}
                        history.append(ToolResultMessage(tool_call_id=call.id, name=call.function.name, content=result))
                        print(f"tool> {call.function.name} -> {result}")
                        pending.insert(0, "")
    finally:
        await close()


def main(argv: Optional[list[str]] = None) -> int:
    """Run the demo; returns the process exit status."""
    from completions_proxy.cli import missing_proxy_extra

    problem = missing_proxy_extra("completions-demo")
    if problem:
        print(problem, file=sys.stderr)
        return 2
    provider, model = _pick_provider()
    if provider == "embedded" and not _installed("embedded"):
        print(
            "completions-demo: no provider key is set and the keyless embedded provider is not installed; "
            "install it: pip install ./plugins/embedded (or set a provider key such as OPENAI_API_KEY)",
            file=sys.stderr,
        )
        return 2
    token = secrets.token_urlsafe(24)
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="completions-proxy-", suffix=".log", delete=False)
    process = _start_proxy(port, token, log)
    try:
        asyncio.run(_conversation(f"http://127.0.0.1:{port}", token, provider, model))
        print(f"(the proxy's log, one JSON event per request: {log.name})")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
