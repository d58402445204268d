"""ChunkStreamResponse: chunks that are already there go out in one write; none waits for another."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from completions_core.types import ChatCompletionChunk, ContentDeltaChunk
from completions_proxy.responses import MAX_BATCH, ChunkStreamResponse

pytestmark = pytest.mark.anyio


class Wire:
    """An ASGI peer that records every body write and can go away on request."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.written = anyio.Event()
        self.gone = anyio.Event()

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message["body"]:
            self.bodies.append(message["body"])
            self.written.set()

    async def receive(self) -> dict[str, Any]:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    def lines(self, body: bytes) -> list[str]:
        return [json.loads(line)["delta"] for line in body.splitlines()]


def _delta(text: str) -> ContentDeltaChunk:
    return ContentDeltaChunk(delta=text)


async def _run(chunks: AsyncGenerator[ChatCompletionChunk, None], wire: Wire) -> ChunkStreamResponse:
    response = ChunkStreamResponse(chunks, {}, keepalive=0)
    with anyio.fail_after(10):
        await response({"type": "http"}, wire.receive, wire.send)  # type: ignore[arg-type]
    return response


async def test_chunks_of_one_upstream_read_go_out_in_one_write_after_the_first() -> None:
    async def chunks() -> AsyncGenerator[ChatCompletionChunk, None]:
        for i in range(5):  # all there at once: no await between them
            yield _delta(f"t{i}")

    wire = Wire()
    await _run(chunks(), wire)
    assert [wire.lines(b) for b in wire.bodies] == [["t0"], ["t1", "t2", "t3", "t4"]]


async def test_a_chunk_goes_out_before_the_wait_for_the_next_one() -> None:
    """The next token is only produced once the previous one has reached the wire: if the
    response held a chunk back until the next one came, this would never finish."""
    wire = Wire()

    async def chunks() -> AsyncGenerator[ChatCompletionChunk, None]:
        for i in range(4):
            wire.written = anyio.Event()
            yield _delta(f"t{i}")
            yield _delta(f"u{i}")  # there at once: joins t{i} (after the first write)
            await wire.written.wait()

    await _run(chunks(), wire)
    assert [wire.lines(b) for b in wire.bodies] == [["t0"], ["u0"], ["t1", "u1"], ["t2", "u2"], ["t3", "u3"]]


async def test_a_batch_never_grows_past_its_bound() -> None:
    async def chunks() -> AsyncGenerator[ChatCompletionChunk, None]:
        for i in range(3 * MAX_BATCH):
            yield _delta(str(i))

    wire = Wire()
    await _run(chunks(), wire)
    sent = [wire.lines(b) for b in wire.bodies]
    assert max(len(batch) for batch in sent) == MAX_BATCH
    assert [d for batch in sent for d in batch] == [str(i) for i in range(3 * MAX_BATCH)]


async def test_a_client_gone_during_a_write_ends_the_waiting_generator_cleanly() -> None:
    """The send fails while the generator waits for its next chunk: the generator unwinds
    (its clean-up runs) instead of being closed while it runs."""
    wire = Wire()
    cleaned = anyio.Event()
    never = anyio.Event()

    async def failing_send(message: dict[str, Any]) -> None:
        await Wire.send(wire, message)
        if len(wire.bodies) == 2:  # the write made while the generator waits on ``never``
            wire.gone.set()
            await anyio.sleep_forever()  # cancelled by the disconnect

    async def chunks() -> AsyncGenerator[ChatCompletionChunk, None]:
        try:
            yield _delta("a")
            yield _delta("b")
            await never.wait()
            yield _delta("never sent")
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.lowlevel.checkpoint()  # a clean-up that awaits
            cleaned.set()

    response = ChunkStreamResponse(chunks(), {}, keepalive=0)
    with anyio.fail_after(10):
        await response({"type": "http"}, wire.receive, failing_send)  # type: ignore[arg-type]
    assert cleaned.is_set()
    assert response.outcome == "client_disconnected"
    assert [wire.lines(b) for b in wire.bodies] == [["a"], ["b"]]


@pytest.mark.parametrize(
    "text",
    ["Hello", " world.", "", 'quote " and backslash \\', "line\nbreak\ttab\x00nul", "é ß 日本 🎉", "\u2028\u2029", "}\n{"],
)
def test_a_token_delta_is_encoded_as_the_codec_encodes_it(text: str) -> None:
    # The delta fast path writes the record's fixed part once; its bytes must stay the codec's.
    from completions_core.codec import chunk_to_wire
    from completions_core.jsonutil import dumps

    response = ChunkStreamResponse(_never(), {}, keepalive=0)
    body = response.encode(_delta(text))
    assert body == dumps(chunk_to_wire(_delta(text))) + b"\n"
    assert json.loads(body) == {"type": "content_delta", "delta": text}
    assert body.count(b"\n") == 1  # one NDJSON line, whatever the text holds


async def _never() -> AsyncGenerator[ChatCompletionChunk, None]:
    return
    yield  # pragma: no cover - makes this an (empty) async generator


class KeepAliveWire(Wire):
    """Records keep-alive lines too; ``fail_keepalive`` makes a keep-alive write raise."""

    def __init__(self, fail_keepalive: bool = False) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []
        self.keepalive_sent = anyio.Event()
        self.fail_keepalive = fail_keepalive

    async def send(self, message: dict[str, Any]) -> None:
        if message.get("body") == b"\n":
            if self.fail_keepalive:
                raise OSError("the connection broke")
            self.keepalive_sent.set()
        self.messages.append(message)


async def test_keepalive_timer_writes_while_the_first_chunk_waits_and_stops_with_the_stream() -> None:
    wire = KeepAliveWire()

    async def chunks() -> AsyncGenerator[ChatCompletionChunk, None]:
        await wire.keepalive_sent.wait()  # nothing until the timer has written one keep-alive
        yield _delta("late")

    response = ChunkStreamResponse(chunks(), {"X-Request-ID": "r1"}, keepalive=0.01)
    with anyio.fail_after(10):
        await response({"type": "http"}, wire.receive, wire.send)  # type: ignore[arg-type]
    kinds = [(m["type"], m.get("body"), m.get("more_body")) for m in wire.messages]
    assert kinds[0][0] == "http.response.start" and wire.messages[0]["status"] == 200
    assert (b"x-request-id", b"r1") in wire.messages[0]["headers"]
    assert ("http.response.body", b"\n", True) in kinds
    late = kinds.index(("http.response.body", b'{"type":"content_delta","delta":"late"}\n', True))
    assert kinds[late + 1:] == [("http.response.body", b"", False)]  # nothing after the end
    assert response.outcome == "ok"


async def test_a_keepalive_write_that_fails_ends_the_stream_with_an_internal_error() -> None:
    wire = KeepAliveWire(fail_keepalive=True)
    finished: list[tuple[str, int, Any]] = []

    async def never() -> AsyncGenerator[ChatCompletionChunk, None]:
        await anyio.Event().wait()
        yield _delta("never")

    response = ChunkStreamResponse(
        never(), {}, keepalive=0.01, on_finish=lambda *outcome: finished.append(outcome)
    )
    with anyio.fail_after(10):  # the stream does not hang on a chunk that never comes
        await response({"type": "http"}, wire.receive, wire.send)  # type: ignore[arg-type]
    assert response.outcome == "error" and response.error_type == "internal_error"
    # The status line went out before the keep-alive failed: the end is an error record.
    assert finished == [("error", 200, "internal_error")]
    error = json.loads(wire.messages[-2]["body"])
    assert error == {"type": "error", "error": "internal error (OSError)", "error_type": "internal_error"}
    assert (wire.messages[-1]["body"], wire.messages[-1]["more_body"]) == (b"", False)


async def test_a_receive_that_fails_ends_the_stream_and_its_error_goes_up() -> None:
    wire = Wire()
    closed = anyio.Event()

    async def broken_receive() -> dict[str, Any]:
        await wire.written.wait()  # fails once the first chunk is out
        raise RuntimeError("receive broke")

    async def chunks() -> AsyncGenerator[ChatCompletionChunk, None]:
        try:
            yield _delta("first")
            await anyio.Event().wait()  # never: only the failure ends this stream
            yield _delta("never")
        finally:
            closed.set()

    response = ChunkStreamResponse(chunks(), {}, keepalive=0)
    with anyio.fail_after(10), pytest.raises(RuntimeError, match="receive broke"):
        await response({"type": "http"}, broken_receive, wire.send)  # type: ignore[arg-type]
    assert closed.is_set()  # the chunk generator was closed on the way out
    assert [wire.lines(b) for b in wire.bodies] == [["first"]]


async def test_a_keepalive_write_under_way_when_the_stream_ends_is_gone_before_the_end_goes_out() -> None:
    wire = Wire()
    writing = anyio.Event()
    cancelled: list[bool] = []
    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        if message.get("body") == b"\n":
            writing.set()
            try:
                await anyio.Event().wait()  # a keep-alive write that never completes on its own
            except BaseException:
                cancelled.append(True)
                raise
        messages.append(message)

    async def chunks() -> AsyncGenerator[ChatCompletionChunk, None]:
        await writing.wait()  # the stream ends while the keep-alive write is under way
        return
        yield  # pragma: no cover - makes this an async generator

    response = ChunkStreamResponse(chunks(), {}, keepalive=0.01)
    with anyio.fail_after(10):
        await response({"type": "http"}, wire.receive, send)  # type: ignore[arg-type]
    assert cancelled == [True]  # cancelled, and waited for, before the end was sent
    assert messages[0]["type"] == "http.response.start"
    assert [(m.get("body"), m.get("more_body")) for m in messages[1:]] == [(b"", False)]
    assert response.outcome == "ok"
