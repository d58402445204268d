"""The per-chunk shortcuts of the NDJSON writer (bench/README.md, "The per-chunk path, end to end"):
a token delta encoded and a batch sent inline give, message for message, what ``encode`` and
``_flush`` give (a subclass that encodes its own way takes the general path), on random streams of
text, tool calls, usage and errors, with chunks that come together and chunks that are waited for."""

from __future__ import annotations

import random
from collections.abc import AsyncGenerator
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from completions_core.types import (
    AssistantMessage,
    ChatCompletionChunk,
    ChatCompletionResponse,
    ContentDeltaChunk,
    ErrorChunk,
    FinalResponseChunk,
    FinishReasonChunk,
    FunctionCall,
    ToolCall,
    ToolCallChunk,
    UsageChunk,
)
from completions_proxy.responses import ChunkStreamResponse

pytestmark = pytest.mark.anyio


class General(ChunkStreamResponse):
    """The writer with its own ``encode`` (the same one): every chunk takes the general path."""

    def encode(self, chunk: ChatCompletionChunk) -> bytes:
        return super().encode(chunk)


def _text(rng: random.Random) -> str:
    alphabet = 'ab Z9."\\\n\t\x00\x1f\x7f\u2028é€😀'
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(6)))


def _stream(rng: random.Random) -> list[tuple[bool, ChatCompletionChunk]]:
    """Chunks, each with whether the writer has to wait for it (a new event-loop step) first."""
    out: list[tuple[bool, ChatCompletionChunk]] = []
    for _ in range(rng.randrange(1, 40)):
        out.append((rng.random() < 0.5, ContentDeltaChunk(delta=_text(rng))))
    calls = [
        ToolCall(id=f"call_{i}", type="function", function=FunctionCall(name="f", arguments={"x": _text(rng)}), index=i)
        for i in range(rng.randrange(3))
    ]
    out.extend((rng.random() < 0.5, ToolCallChunk(tool_call=call)) for call in calls)
    if rng.random() < 0.2:
        out.append((rng.random() < 0.5, ErrorChunk(error=_text(rng), error_type="provider_error")))
        return out
    out.append((rng.random() < 0.5, FinishReasonChunk(finish_reason="stop")))
    if rng.random() < 0.5:
        out.append((False, UsageChunk(usage={"prompt_tokens": rng.randrange(9), "completion_tokens": 3})))
    response = ChatCompletionResponse(
        message=AssistantMessage(content=_text(rng) or None, tool_calls=calls or None),
        finish_reason="stop",
        usage=None,
        provider="openai",
        model="m",
        request_id="r",
    )
    out.append((rng.random() < 0.5, FinalResponseChunk(response=response)))
    return out


async def _written(kind: type[ChunkStreamResponse], stream: list[tuple[bool, ChatCompletionChunk]]) -> Any:
    messages: list[dict[str, Any]] = []

    async def chunks() -> AsyncGenerator[ChatCompletionChunk, None]:
        for wait, chunk in stream:
            if wait:
                await anyio.lowlevel.checkpoint()
            yield chunk

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        return {"type": "http.disconnect"}  # pragma: no cover - never reached

    response = kind(chunks(), {"x-request-id": "r"}, keepalive=0)
    with anyio.fail_after(10):
        await response({"type": "http"}, receive, send)  # type: ignore[arg-type]
    return messages, response.outcome, response.error_type


async def test_the_inline_path_writes_what_the_general_path_writes() -> None:
    rng = random.Random(20261207)
    inline_used = 0
    for _ in range(400):
        stream = _stream(rng)
        inline, general = await _written(ChunkStreamResponse, stream), await _written(General, stream)
        assert inline == general
        inline_used += sum(type(chunk) is ContentDeltaChunk for _, chunk in stream)
    assert inline_used > 1000


async def test_a_subclass_encoding_its_own_way_is_asked_for_every_chunk() -> None:
    seen: list[str] = []

    class Upper(ChunkStreamResponse):
        def encode(self, chunk: ChatCompletionChunk) -> bytes:
            seen.append(type(chunk).__name__)
            return super().encode(chunk).upper()

    stream: list[tuple[bool, ChatCompletionChunk]] = [
        (True, ContentDeltaChunk(delta="a")),
        (True, ContentDeltaChunk(delta="b")),
    ]
    messages, outcome, _ = await _written(Upper, stream)
    assert seen == ["ContentDeltaChunk", "ContentDeltaChunk"]
    assert [m["body"] for m in messages if m["type"] == "http.response.body" and m["body"]] == [
        b'{"TYPE":"CONTENT_DELTA","DELTA":"A"}\n',
        b'{"TYPE":"CONTENT_DELTA","DELTA":"B"}\n',
    ]
    assert outcome == "ok"
