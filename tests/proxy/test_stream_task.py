"""ChunkStreamResponse runs the stream in a task of its own (bench/README.md, "The stream in a task
of its own"): whatever way a stream ends, its generator is stepped and closed in that one task,
the task ends with the response, and cancelling the response cancels it. (The engine's generators
hold no cancel scope across a ``yield``; the hedged race's case is in test_hedging.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any, Optional

import anyio
import pytest

from completions_core.types import ChatCompletionChunk, ContentDeltaChunk
from completions_proxy.responses import ChunkStreamResponse

pytestmark = pytest.mark.anyio


class Peer:
    """An ASGI peer: records body writes; ``leave`` makes ``receive`` report a disconnect."""

    def __init__(self, fail_on_write: Optional[int] = None, stall: bool = False) -> None:
        self.bodies: list[bytes] = []
        self.written = anyio.Event()
        self.left = anyio.Event()
        self.fail_on_write = fail_on_write
        self.stall = stall  # every write hangs (a client that reads nothing), once recorded

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message["body"]:
            if self.fail_on_write is not None and len(self.bodies) >= self.fail_on_write:
                raise OSError("the client reset the connection")
            self.bodies.append(message["body"])
            self.written.set()
            if self.stall:
                await anyio.sleep_forever()

    async def receive(self) -> dict[str, Any]:
        await self.left.wait()
        return {"type": "http.disconnect"}


class Held:
    """A generator that records the task that stepped it first and the one that closed it."""

    def __init__(self) -> None:
        self.entered: Optional[asyncio.Task[Any]] = None
        self.left: Optional[asyncio.Task[Any]] = None
        self.release = anyio.Event()

    async def chunks(self) -> AsyncGenerator[ChatCompletionChunk, None]:
        self.entered = asyncio.current_task()
        try:
            yield ContentDeltaChunk(delta="a")
            await self.release.wait()
            yield ContentDeltaChunk(delta="b")
        finally:
            self.left = asyncio.current_task()


def _response(held: Held, outcomes: list[tuple[str, int, Optional[str]]]) -> ChunkStreamResponse:
    return ChunkStreamResponse(held.chunks(), {}, keepalive=0, on_finish=lambda *a: outcomes.append(a))


async def test_a_stream_to_its_end_runs_in_a_task_of_its_own() -> None:
    held, peer, outcomes = Held(), Peer(), []
    response = _response(held, outcomes)
    held.release.set()
    with anyio.fail_after(10):
        await response({"type": "http"}, peer.receive, peer.send)  # type: ignore[arg-type]
    assert held.entered is not None and held.entered is not asyncio.current_task()
    assert held.left is held.entered and held.entered.done()
    assert outcomes == [("ok", 200, None)]
    assert b"".join(peer.bodies) == b'{"type":"content_delta","delta":"a"}\n{"type":"content_delta","delta":"b"}\n'


@pytest.mark.parametrize(
    "stall",
    [
        False,  # the generator waits for its next chunk (mid-``await``) when the client leaves
        True,  # the first chunk's write hangs while the generator waits at its ``yield``: it is closed (``aclose``)
    ],
)
async def test_a_client_that_leaves_mid_stream_ends_the_generator_in_its_task(stall: bool) -> None:
    held, peer, outcomes = Held(), Peer(stall=stall), []
    response = _response(held, outcomes)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(response, {"type": "http"}, peer.receive, peer.send)
            await peer.written.wait()
            peer.left.set()
    assert held.left is held.entered
    assert [outcome for outcome, _, _ in outcomes] == ["client_disconnected"]


async def test_a_write_that_fails_while_the_generator_waits_leaves_it_in_its_task() -> None:
    held, peer, outcomes = Held(), Peer(fail_on_write=1), []
    response = _response(held, outcomes)

    async def release_after_first_write() -> None:
        await peer.written.wait()
        held.release.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(release_after_first_write)
            with pytest.raises(OSError, match="reset"):  # the server's send failing goes on up, as before
                await response({"type": "http"}, peer.receive, peer.send)  # type: ignore[arg-type]
    assert held.left is held.entered
    assert len(outcomes) == 1


async def test_stop_ends_the_stream_with_an_error_record_from_its_task() -> None:
    held, peer, outcomes = Held(), Peer(), []
    response = _response(held, outcomes)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(response, {"type": "http"}, peer.receive, peer.send)
            await peer.written.wait()
            response.stop("the proxy is shutting down")
    assert held.left is held.entered
    assert b'"error_type":"unavailable_error"' in peer.bodies[-1].replace(b" ", b"")
    assert outcomes and outcomes[0][0] != "ok"


async def test_cancelling_the_response_cancels_the_stream_task_and_waits_for_its_end() -> None:
    """As the server does when it drops the connection or stops: the request's task is cancelled."""
    held, peer, outcomes = Held(), Peer(), []
    response = _response(held, outcomes)
    request = asyncio.get_running_loop().create_task(
        response({"type": "http"}, peer.receive, peer.send)  # type: ignore[arg-type]
    )
    with anyio.fail_after(10):
        await peer.written.wait()
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
    # By the time the response's task has ended, the stream's task has ended too (its generator
    # left in it), and the end was reported once.
    assert held.entered is not None and held.entered.done()
    assert held.left is held.entered
    assert len(outcomes) == 1
