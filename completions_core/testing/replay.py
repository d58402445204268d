"""A loopback HTTP server that plays the upstream provider for tests.

The real provider SDK is pointed at :attr:`ReplayServer.url` through its base URL; nothing inside
the SDK is mocked. The server answers each request with the next queued reply: a recorded
interaction from a cassette, a synthesized JSON or SSE response, or a fault (a status with
Retry-After, a reset connection, a hang, a malformed stream...)::

    async with ReplayServer() as server:
        server.enqueue_cassette(load_cassette(path))
        server.enqueue(Fault.status(429, retry_after=2))
        client = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
        ...
        server.assert_all_used()

A request is matched on method + path (plus ``?alt=``, see
:func:`~completions_core.testing.cassettes.match_path`), never on headers or host. A request that
does not fit the next queued reply is answered with status 599 and recorded in
:attr:`ReplayServer.mismatches`, so a test fails loudly instead of replaying the wrong thing.

Streams go out with chunked transfer encoding in small pieces (13 bytes by default), so SSE events
are split mid-line the way a real network splits them. Bodies are sent exactly as recorded: no
content-encoding is added unless a reply asks for one (``encoding=`` of :class:`Body` and
:class:`Stream`: the server then compresses what it sends and says so in ``Content-Encoding``).
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from completions_core.testing.cassettes import Cassette, Interaction, match_path
from completions_core.testing.replies import (
    DEFAULT_CHUNK_SIZE,
    ENCODINGS,
    MISMATCH_STATUS,
    Body,
    Encoder,
    Fault,
    Hang,
    HeaderInput,
    PathOverride,
    Releasable,
    Reply,
    Reset,
    Stream,
    with_prefix,
)

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "ENCODINGS",
    "MISMATCH_STATUS",
    "Body",
    "Fault",
    "Hang",
    "HeaderInput",
    "Mismatch",
    "PathOverride",
    "ReceivedRequest",
    "Releasable",
    "ReplayServer",
    "Reply",
    "Reset",
    "Stream",
    "with_prefix",
]

@dataclass(eq=False)
class ReceivedRequest:
    """A request the server received, and what became of it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    #: False when the request did not fit the next queued reply (it got a 599).
    matched: bool = True
    #: True when the client went away before the reply was complete (a hang or stream it cut).
    closed_early: bool = False
    _done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _closed_by_server: bool = field(default=False, repr=False)

    @property
    def match_path(self) -> str:
        """Path plus endpoint-selecting query, as used for matching."""
        return match_path(self.path, self.query)

    def json(self) -> Any:
        """The body parsed as JSON, or ``None`` for an empty body."""
        return json.loads(self.body) if self.body.strip() else None

    @property
    def done(self) -> bool:
        """Whether the server has finished with this request (answered, reset or abandoned)."""
        return self._done.is_set()

    async def wait_done(self) -> None:
        """Wait until the server has finished with this request."""
        await self._done.wait()


@dataclass(frozen=True)
class Mismatch:
    """A request that did not fit the next queued reply, or arrived when none was queued."""

    request: ReceivedRequest
    #: ``"POST /v1/messages"`` for the reply that was next, or None when the queue was empty.
    expected: str | None

    def __str__(self) -> str:
        got = f"{self.request.method} {self.request.match_path}"
        if self.expected is None:
            return f"unexpected request {got}: nothing queued"
        return f"request {got} does not match the next queued reply {self.expected}"


@dataclass(frozen=True)
class _Planned:
    reply: Reply
    method: str | None
    path: str | None
    label: str

    def expectation(self) -> str:
        return f"{self.method or '*'} {self.path or '*'} ({self.label})"

    def fits(self, request: ReceivedRequest) -> bool:
        if self.method is not None and self.method != request.method:
            return False
        return self.path is None or self.path == request.match_path


class ReplayServer:
    """A loopback upstream serving queued replies in order; use as an async context manager."""

    #: Seconds the ``wait_for_*`` helpers wait before failing with a message.
    wait_limit: float = 10.0

    def __init__(self, *, chunk_size: int = DEFAULT_CHUNK_SIZE, host: str = "127.0.0.1") -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.chunk_size = chunk_size
        self.host = host
        #: Every request received, in arrival order.
        self.requests: list[ReceivedRequest] = []
        #: Requests that did not fit the queue (each was answered with a 599).
        self.mismatches: list[Mismatch] = []
        self._queue: deque[_Planned] = deque()
        self._runner: web.ServerRunner | None = None
        self._port: int | None = None
        self._stopping = False
        self._stop = asyncio.Event()
        self._changed = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Bind to an ephemeral port on the loopback interface and start serving."""
        if self._runner is not None:
            raise RuntimeError("ReplayServer is already started")
        self._stopping = False
        self._stop = asyncio.Event()
        # handler_cancellation: a client disconnect cancels the handler, which is how a hang
        # learns that the client went away (and records it) without polling.
        server = web.Server(self._handle, handler_cancellation=True, access_log=None)
        runner = web.ServerRunner(server, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, 0)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def close(self) -> None:
        """Stop serving: release every hang, close every connection, wait for every handler."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._stopping = True
        self._stop.set()
        await runner.cleanup()
        unfinished = [asyncio.ensure_future(r.wait_done()) for r in self.requests if not r.done]
        if unfinished:
            _, still = await asyncio.wait(unfinished, timeout=2.0)
            for task in still:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._port is None:
            raise RuntimeError("ReplayServer is not started")
        return self._port

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    # -- queueing --------------------------------------------------------------------------

    def enqueue(self, reply: Reply, *, method: str | None = None, path: str | None = None) -> None:
        """Queue ``reply`` for the next request; ``method``/``path`` (None: any) must fit it."""
        self._queue.append(_Planned(reply, method.upper() if method else None, path, label=repr(reply)))

    def enqueue_interaction(
        self,
        interaction: Interaction,
        *,
        path: PathOverride = None,
        chunk_size: int | None = None,
        label: str | None = None,
    ) -> None:
        """Queue one recorded interaction, expected on its recorded method and path.

        ``path`` serves it on another path instead: a string (a full match path, so including
        ``?alt=sse`` when the SDK sends it), or a callable given the interaction that returns one
        (see :func:`with_prefix`).
        """
        response = interaction.response
        reply: Reply = (
            Stream.from_response(response, chunk_size=chunk_size)
            if response.is_streaming
            else Body.from_response(response)
        )
        if path is None:
            expected = interaction.request.match_path
        elif isinstance(path, str):
            expected = path
        else:
            expected = path(interaction)
        self._queue.append(
            _Planned(
                reply,
                interaction.request.method,
                expected,
                label=label or f"interaction {interaction.index}",
            )
        )

    def enqueue_cassette(
        self,
        cassette: Cassette,
        *,
        path: PathOverride = None,
        only: Sequence[int] | None = None,
        chunk_size: int | None = None,
    ) -> None:
        """Queue a cassette's interactions (or those at indexes ``only``), in recorded order."""
        name = cassette.path.name if cassette.path is not None else "cassette"
        picked = cassette.interactions if only is None else [cassette[i] for i in only]
        for interaction in picked:
            self.enqueue_interaction(
                interaction,
                path=path,
                chunk_size=chunk_size,
                label=f"{name}[{interaction.index}]",
            )

    def enqueue_json(
        self,
        status: int,
        body: Any,
        headers: HeaderInput | None = None,
        *,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Queue a synthesized JSON response (``body`` is serialized unless str/bytes)."""
        self.enqueue(Body.from_json(body, status=status, headers=headers), method=method, path=path)

    def enqueue_sse(
        self,
        events: str | Sequence[str],
        *,
        status: int = 200,
        headers: HeaderInput | None = None,
        chunk_size: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Queue a synthesized SSE stream (raw text, or a list of events)."""
        stream = Stream(events, status=status, headers=headers, chunk_size=chunk_size)
        self.enqueue(stream, method=method, path=path)

    # -- inspection ------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """How many queued replies have not been served yet."""
        return len(self._queue)

    @property
    def disconnects(self) -> int:
        """How many requests the client abandoned before their reply was complete."""
        return sum(1 for request in self.requests if request.closed_early)

    def assert_all_used(self) -> None:
        """Fail unless every queued reply was served and no request mismatched."""
        problems = [str(mismatch) for mismatch in self.mismatches]
        problems += [f"never requested: {planned.expectation()}" for planned in self._queue]
        if problems:
            raise AssertionError("replay server: " + "; ".join(problems))

    async def wait_for_requests(self, count: int = 1) -> ReceivedRequest:
        """Wait until ``count`` requests have arrived; return the ``count``-th one."""
        await self._wait_until(lambda: len(self.requests) >= count, f"{count} request(s)")
        return self.requests[count - 1]

    async def wait_for_disconnects(self, count: int = 1) -> None:
        """Wait until the client has abandoned ``count`` requests mid-reply."""
        await self._wait_until(lambda: self.disconnects >= count, f"{count} client disconnect(s)")

    async def _wait_until(self, ready: Callable[[], bool], what: str) -> None:
        # wait_limit is a safety net so that a broken test fails with a message instead of
        # hanging until the global test timeout; the wait itself is event-driven.
        try:
            async with asyncio.timeout(self.wait_limit):
                while not ready():
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(
                f"replay server: still waiting for {what} after {self.wait_limit}s "
                f"({len(self.requests)} request(s), {self.disconnects} disconnect(s))"
            ) from None

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # -- serving ---------------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        received = ReceivedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=headers,
            # content.read(), not read(): no 1 MiB cap on what an SDK may upload (inline media).
            body=await request.content.read(),
        )
        self.requests.append(received)
        self._notify()
        try:
            return await self._serve(request, received, self._take(received))
        except asyncio.CancelledError:
            # A client disconnect cancels the handler; so does our own shutdown or reset.
            if not self._stopping and not received._closed_by_server:
                received.closed_early = True
            raise
        finally:
            received._done.set()
            self._notify()

    def _take(self, received: ReceivedRequest) -> Reply:
        planned = self._queue[0] if self._queue else None
        if planned is not None and planned.fits(received):
            self._queue.popleft()
            return planned.reply
        mismatch = Mismatch(received, planned.expectation() if planned else None)
        received.matched = False
        self.mismatches.append(mismatch)
        return Body.from_json(
            {"error": {"type": "replay_mismatch", "message": str(mismatch)}},
            status=MISMATCH_STATUS,
        )

    async def _serve(self, request: web.BaseRequest, received: ReceivedRequest, reply: Reply) -> web.StreamResponse:
        if isinstance(reply, Body):
            return await self._send_body(request, received, reply)
        if isinstance(reply, Stream):
            return await self._send_stream(request, received, reply)
        if isinstance(reply, Hang):
            await self._wait_released(reply.release)
            if reply.then is not None and not self._stopping:
                return await self._serve(request, received, reply.then)
        return self._reset(request, received)

    def _reset(self, request: web.BaseRequest, received: ReceivedRequest) -> web.StreamResponse:
        received._closed_by_server = True
        transport = request.transport
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                # Linger 0 turns close() into a TCP RST instead of an orderly FIN.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.close()
        # aiohttp will try to send this placeholder on the closed transport and give up quietly.
        return web.Response(status=500)

    async def _send_body(self, request: web.BaseRequest, received: ReceivedRequest, body: Body) -> web.StreamResponse:
        encoder = Encoder(None if body.encoded else body.encoding)
        data = encoder.feed(body.body) + encoder.end()
        if body.close_delimited:
            return await self._send_until_close(request, received, body, data)
        response = web.StreamResponse(status=body.status, reason=body.reason, headers=self._head(body))
        response.content_length = len(data)
        try:
            await response.prepare(request)
            if body.cut_after is None:
                await response.write(data)
                await response.write_eof()
            else:
                await response.write(data[: body.cut_after])
                received._closed_by_server = True
                if request.transport is not None:
                    request.transport.close()
        except ConnectionError:
            received.closed_early = not received._closed_by_server
        return response

    async def _send_stream(
        self, request: web.BaseRequest, received: ReceivedRequest, stream: Stream
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=stream.status, reason=stream.reason, headers=self._head(stream))
        response.enable_chunked_encoding()
        size = stream.chunk_size or self.chunk_size
        # Each event encoded on its own (flushed): identical to the event when nothing encodes.
        encoder = Encoder(stream.encoding)
        events = [encoder.feed(event.encode("utf-8")) for event in stream.events]
        try:
            await response.prepare(request)
            if stream.reset_after_bytes is not None:
                await self._write(response, b"".join(events)[: stream.reset_after_bytes], size)
                return self._reset_after_flush(request, received, response)
            if stream.reset_after_events is not None:
                await self._write(response, b"".join(events[: stream.reset_after_events]), size)
                return self._reset_after_flush(request, received, response)
            if stream.pause_after is not None:
                await self._write(response, b"".join(events[: stream.pause_after]), size)
                await self._wait_released(stream.release)
                if self._stopping:
                    return self._reset(request, received)
                events = events[stream.pause_after :]
            await self._write(response, b"".join(events) + encoder.end(), size)
            await response.write_eof()
        except ConnectionError:
            received.closed_early = not received._closed_by_server
        return response

    async def _send_until_close(
        self, request: web.BaseRequest, received: ReceivedRequest, body: Body, data: bytes
    ) -> web.StreamResponse:
        # aiohttp frames every HTTP/1.1 response (a length, or chunks): this one is written on the
        # transport by hand, its end being the connection's orderly close.
        transport = request.transport
        received._closed_by_server = True
        if transport is not None:
            reason = body.reason or HTTPStatus(body.status).phrase
            lines = [f"HTTP/1.1 {body.status} {reason}", *(f"{name}: {value}" for name, value in self._head(body))]
            transport.write(("\r\n".join([*lines, "connection: close"]) + "\r\n\r\n").encode("latin-1"))
            for start in range(0, len(data), self.chunk_size):
                transport.write(data[start : start + self.chunk_size])
                await asyncio.sleep(0)
            transport.close()  # after what is buffered is sent: a FIN, not a reset
        # aiohttp will try to send this placeholder on the closed transport and give up quietly.
        return web.Response(status=500)

    @staticmethod
    def _head(reply: Body | Stream) -> list[tuple[str, str]]:
        headers = list(reply.headers)
        if reply.encoding is not None:
            headers.append(("content-encoding", reply.encoding))
        return headers

    def _reset_after_flush(
        self, request: web.BaseRequest, received: ReceivedRequest, response: web.StreamResponse
    ) -> web.StreamResponse:
        self._reset(request, received)
        return response

    async def _write(self, response: web.StreamResponse, data: bytes, size: int) -> None:
        for start in range(0, len(data), size):
            await response.write(data[start : start + size])
            # Yield so a client in this same event loop reads each piece on its own, the way
            # pieces arrive over a real network, instead of one coalesced buffer.
            await asyncio.sleep(0)

    async def _wait_released(self, release: Releasable | None) -> None:
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._stop.wait())]
        if release is not None:
            waiters.append(asyncio.ensure_future(release.wait()))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
