"""Responses: JSON errors, JSON bodies, and the NDJSON chunk stream."""

from __future__ import annotations

import asyncio
import contextlib
import types
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, Optional

import anyio
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from completions_core.codec import chunk_to_wire
from completions_core.errors import ERROR_STATUS, ProviderError
from completions_core.jsonutil import dumps
from completions_core.limits import DEFAULT_LIMITS
from completions_core.types import ChatCompletionChunk, ContentDeltaChunk, ErrorChunk

__all__ = ["BODY_SEND", "ChunkStreamResponse", "bound_header", "bounded_headers", "error_response", "json_response"]

try:  # what ``dumps`` calls when orjson is there (the same bytes, one call less per token)
    from orjson import dumps as _orjson_dumps

    _dumps: Callable[[Any], bytes] = _orjson_dumps
except ImportError:  # pragma: no cover - exercised only without orjson
    _dumps = dumps

NDJSON = "application/x-ndjson"
#: The most chunks one write carries when they arrive together (tokens back to back).
MAX_BATCH = 64

#: What every token delta record starts with: ``{"type":"content_delta","delta":`` (compact JSON).
_DELTA_HEAD = dumps({"type": "content_delta", "delta": ""})[: -len(b'""}')]

#: The scope key under which the proxy's app leaves the server's own ``send`` when everything between
#: it and a route passes a response's body messages on unchanged (Starlette's error and exception
#: wrappers only look at ``http.response.start``): a stream's chunks then go to it directly, three
#: wrapper calls fewer per chunk (bench/README.md, "Per-request and paced-256 cost").
BODY_SEND = "completions.body_send"

#: Appended to a header value cut at ``max_header_bytes``.
TRUNCATED = "...[truncated]"
_UNSAFE = str.maketrans({"\r": " ", "\n": " ", "\0": " "})


def bound_header(value: str, limit: int = DEFAULT_LIMITS.max_header_bytes) -> str:
    """A header value that is safe to send: Latin-1, no CR/LF/NUL, at most ``limit`` bytes (cut with a marker)."""
    if len(value) <= limit and value.isascii() and value.isprintable():
        return value  # the common case (ids, JSON the proxy wrote): nothing to replace or cut
    value = value.translate(_UNSAFE).encode("latin-1", "replace").decode("latin-1")
    if len(value) <= limit:
        return value
    return value[: limit - len(TRUNCATED)] + TRUNCATED


#: Header names as they go on the wire (lowercase, Latin-1), each made once: the names are the
#: proxy's own few (request id, attempts, overhead), and the table stops growing at ``_MAX_NAMES``.
_NAMES: dict[str, bytes] = {}
_MAX_NAMES = 64


def wire_name(name: str) -> bytes:
    """``name.lower().encode("latin-1")``, looked up in a bounded table of the names already seen."""
    wire = _NAMES.get(name)
    if wire is None:
        wire = name.lower().encode("latin-1")
        if len(_NAMES) < _MAX_NAMES:
            _NAMES[name] = wire
    return wire


def bounded_headers(headers: Optional[dict[str, str]]) -> Optional[dict[str, str]]:
    """Every value passed through :func:`bound_header` (the proxy's names are fixed, short strings)."""
    if headers is None:
        return None
    return {name: bound_header(value) for name, value in headers.items()}


def json_response(data: Any, status: int = 200, headers: Optional[dict[str, str]] = None) -> Response:
    """A JSON response encoded with the fast codec."""
    return Response(dumps(data), status_code=status, headers=bounded_headers(headers), media_type="application/json")


def error_response(
    message: str,
    error_type: str,
    status: Optional[int] = None,
    *,
    headers: Optional[dict[str, str]] = None,
    provider: Optional[str] = None,
    provider_status: Optional[int] = None,
) -> Response:
    """``{"error": {"message", "type", ...}}`` with the status the error type implies."""
    error: dict[str, Any] = {"message": message, "type": error_type}
    if provider:
        error["provider"] = provider
    if provider_status is not None:
        error["provider_status"] = provider_status
    return json_response({"error": error}, status or ERROR_STATUS.get(error_type, 500), headers)


def provider_error_response(exc: ProviderError, headers: Optional[dict[str, str]] = None) -> Response:
    """The HTTP answer when every attempt failed with ``exc`` before anything was sent."""
    out = dict(headers or {})
    if exc.retry_after is not None and exc.error_type == "rate_limit_error":
        # Bounded: a provider's absurd Retry-After must not become an absurd header.
        out["Retry-After"] = str(max(1, round(min(exc.retry_after, 3600.0))))
    return error_response(
        exc.message,
        exc.error_type,
        exc.http_status,
        headers=out,
        provider=exc.provider or None,
        provider_status=exc.status_code,
    )


class ChunkStreamResponse:
    """Streams chunks as NDJSON, one JSON object per line.

    The status line is held back until the first chunk exists: if every attempt fails before
    that, the caller gets a plain JSON error with a real status code instead of a 200 stream.
    While nothing arrives for ``keepalive`` seconds (a model thinking for a long time), an empty
    line goes out so that load balancers keep the connection; once one has been sent the status
    is 200 and a later failure is an ``error`` record. A client that goes away cancels the work
    at once (the engine closes the provider stream).
    """

    #: The body's media type, and the bytes of a keep-alive, sent while nothing else is.
    media_type = NDJSON
    keepalive_body = b"\n"

    def encode(self, chunk: ChatCompletionChunk) -> bytes:
        """The bytes one chunk is sent as (empty: nothing to send)."""
        if type(chunk) is ContentDeltaChunk:
            # Most of a stream: only the text goes through the encoder (the same bytes as below).
            return _DELTA_HEAD + dumps(chunk.delta) + b"}\n"
        return dumps(chunk_to_wire(chunk)) + b"\n"

    def encode_failure(self, exc: ProviderError) -> bytes:
        """The last bytes of a stream that fails after its first chunk."""
        return dumps({"type": "error", "error": exc.message, "error_type": exc.error_type}) + b"\n"

    def encode_end(self) -> bytes:
        """The last bytes of a stream that succeeded (the final chunk says so: none)."""
        return b""

    def failure_response(self, exc: ProviderError, headers: dict[str, str]) -> Response:
        """The plain HTTP error when every attempt failed before the first chunk."""
        return provider_error_response(exc, headers)

    def __init__(
        self,
        chunks: AsyncGenerator[ChatCompletionChunk, None],
        headers: dict[str, str],
        *,
        keepalive: float = 0.0,
        late_headers: Optional[Callable[[], dict[str, str]]] = None,
        on_finish: Optional[Callable[[str, int, Optional[str]], None]] = None,
        registry: Optional[set[ChunkStreamResponse]] = None,
    ) -> None:
        self.chunks = chunks
        self.headers = headers
        self.keepalive = keepalive
        self.late_headers = late_headers
        self.on_finish = on_finish
        self.outcome = "ok"
        self.status = 200
        self.error_type: Optional[str] = None
        self._started = False
        self._finished = False
        self._stopped: Optional[ProviderError] = None
        self._scope: Optional[anyio.CancelScope] = None
        self._last_send = 0.0
        self._writing = False
        self.registry = registry

    def stop(self, message: str, error_type: str = "unavailable_error") -> None:
        """End this stream now with an ``error`` record (the proxy is shutting down)."""
        self._stopped = ProviderError(message, error_type)
        if self._scope is not None:
            self._scope.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.registry is not None:
            self.registry.add(self)
        try:
            # The stream runs in a task of its own, as Starlette's StreamingResponse runs its body in
            # a task of its task group: every chunk's wake-up then resumes this short chain of
            # frames, not the server's, Starlette's and the proxy's layers above this call (about
            # fifteen coroutines, each passing every resumption and suspension through). Cancelling
            # this task cancels that one (the task it awaits) and waits for its end.
            await asyncio.get_running_loop().create_task(self._stream(scope, receive, send))
        finally:
            if self.registry is not None:
                self.registry.discard(self)
            if self.on_finish is not None:
                self.on_finish(self.outcome, self.status, self.error_type)

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            # A cancel scope and one plain task that watches for the client going away: the same as
            # a task group here, at a fraction of its set-up cost per stream.
            self._scope = cancel_scope = anyio.CancelScope()
            watcher = asyncio.get_running_loop().create_task(self._watch_disconnect(receive, cancel_scope))
            try:
                with cancel_scope:
                    if self._stopped is None:
                        await self._send_all(send, scope.get(BODY_SEND, send))
            finally:
                # Cancelled before anything else runs: it reads no message and changes nothing after this.
                watcher.cancel()
            if watcher.done() and not watcher.cancelled() and (broken := watcher.exception()) is not None:
                raise broken  # receive() itself failed: the stream was cancelled, the error goes on up
            if self._stopped is not None and not self._finished and self.outcome != "client_disconnected":
                await self._send_failure(send, self._stopped)
        finally:
            # The chunks are closed in the task that iterated them (a task group or cancel scope
            # open across a yield, as in a hedged race, must be left in the task that entered it).
            # A generator that ran to its end has nothing left to close (its frame is gone): no
            # shielded scope round trip for it, the end of most streams.
            if getattr(self.chunks, "ag_frame", True) is not None:
                with anyio.CancelScope(shield=True):
                    await self.chunks.aclose()

    async def _watch_disconnect(self, receive: Receive, scope: anyio.CancelScope) -> None:
        while True:
            try:
                message: Message = await receive()
            except Exception:
                scope.cancel()  # no way to tell whether the client is still there: end the stream
                raise
            if message["type"] == "http.disconnect":
                if self._finished:
                    return  # the normal end of the exchange, not a client going away
                self.outcome = "client_disconnected"
                scope.cancel()
                return

    async def _send_all(self, send: Send, body_send: Send) -> None:
        # An ASGI send must not run twice at once: the keep-alive timer writes under a lock and
        # skips while a chunk write is under way (``_writing``); the chunk writer takes the lock
        # only while the timer holds it, so the common path costs no lock at all.
        lock = asyncio.Lock()
        loop = asyncio.get_running_loop()
        self._last_send = loop.time()
        failure: Optional[BaseException] = None
        # A timer, not a task: most streams end long before the first keep-alive is due, and a
        # task in a task group of its own cost ~45 us per stream (the set-up that 256 streams
        # arriving at once wait in line for).
        keepalive = _KeepAlive(self, send, lock, loop) if self.keepalive > 0 else None
        try:
            await self._relay(send, body_send, lock, loop)
        except Exception as exc:  # noqa: BLE001 - reported to the caller below
            failure = exc
        finally:
            # Most streams: the timer is cancelled and no write of its own is under way (nothing to await).
            if keepalive is not None and (write := keepalive.cancel()) is not None:
                await _gone(write)
        if failure is not None:
            await self._send_failure(send, failure)
            return
        if not self._started:  # a stream of no chunks (each write starts the response first)
            await self._start(send)
        self._finished = True
        await send({"type": "http.response.body", "body": self.encode_end(), "more_body": False})

    async def _relay(self, send: Send, body_send: Send, lock: asyncio.Lock, loop: asyncio.AbstractEventLoop) -> None:
        """Send the chunks, every chunk that is already there in one write with the ones before it.

        The next chunk is asked for without waiting (the generator is stepped by hand): when it
        is already there (the rest of one upstream read), it joins the batch; when it is not, the
        batch goes out before the wait, so no chunk is ever held back waiting for another. The
        first chunk goes out alone, at once, and a batch never grows past ``MAX_BATCH`` chunks.
        The chunks go out through ``body_send`` (the status line through ``send``).
        """
        pending: list[bytes] = []
        anext = self.chunks.__anext__
        # Token deltas (most of a stream) are encoded here, as ``encode`` would, unless a subclass
        # encodes its own way; and while the status line is out and the keep-alive timer is not
        # writing, a batch goes to ``body_send`` here, as ``_flush`` would: no method call and no
        # coroutine per chunk (bench/README.md, "The per-chunk path, end to end").
        plain = type(self).encode is ChunkStreamResponse.encode
        first = True
        while True:
            step = anext()
            try:
                suspended = step.send(None)
            except StopIteration as ready:
                chunk: ChatCompletionChunk = ready.value
            except StopAsyncIteration:
                break
            else:
                if pending:
                    try:
                        if self._started and not lock.locked():
                            self._writing = True
                            try:
                                await body_send(
                                    {
                                        "type": "http.response.body",
                                        "body": pending[0] if len(pending) == 1 else b"".join(pending),
                                        "more_body": True,
                                    }
                                )
                            finally:
                                self._writing = False
                            self._last_send = loop.time()
                        else:
                            await self._flush(send, body_send, lock, loop, pending)
                    except BaseException as exc:
                        await _unwind(step, suspended, exc)
                        raise
                    pending = []
                try:
                    chunk = await _resume(step, suspended)
                except StopAsyncIteration:
                    break
            if plain and type(chunk) is ContentDeltaChunk:
                pending.append(_DELTA_HEAD + _dumps(chunk.delta) + b"}\n")
            else:
                if isinstance(chunk, ErrorChunk):
                    self.outcome, self.error_type = "error", chunk.error_type
                body = self.encode(chunk)
                if not body:
                    continue
                pending.append(body)
            if first or len(pending) >= MAX_BATCH:
                first = False
                await self._flush(send, body_send, lock, loop, pending)
                pending = []
        if pending:
            await self._flush(send, body_send, lock, loop, pending)

    async def _flush(
        self, send: Send, body_send: Send, lock: asyncio.Lock, loop: asyncio.AbstractEventLoop, lines: list[bytes]
    ) -> None:
        body = lines[0] if len(lines) == 1 else b"".join(lines)
        message = {"type": "http.response.body", "body": body, "more_body": True}
        if lock.locked():  # the keep-alive timer is writing: wait for it
            async with lock:
                await self._start(send)
                await body_send(message)
        else:  # the common case: no lock round trip; the timer sees ``_writing`` and skips
            self._writing = True
            try:
                if not self._started:
                    await self._start(send)
                await body_send(message)
            finally:
                self._writing = False
        self._last_send = loop.time()

    async def _keepalive(self, send: Send, lock: asyncio.Lock) -> None:
        """One keep-alive write (the timer found nothing sent for ``keepalive`` seconds)."""
        async with lock:
            if not self._writing:  # a chunk write under way keeps the connection busy anyway
                await self._start(send)
                await send({"type": "http.response.body", "body": self.keepalive_body, "more_body": True})
        self._last_send = asyncio.get_running_loop().time()

    async def _send_failure(self, send: Send, caught: BaseException) -> None:
        exc = (
            caught
            if isinstance(caught, ProviderError)
            else ProviderError(f"internal error ({type(caught).__name__})", "internal_error")
        )
        self.outcome, self.error_type = "error", exc.error_type
        self._finished = True
        if not self._started:
            response = self.failure_response(exc, {**self.headers, **self._late()})
            self.status = response.status_code
            await response({"type": "http"}, _no_receive, send)
            return
        await send({"type": "http.response.body", "body": self.encode_failure(exc), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _late(self) -> dict[str, str]:
        return self.late_headers() if self.late_headers is not None else {}

    async def _start(self, send: Send) -> None:
        if self._started:
            return
        self._started = True
        headers = [(b"content-type", self.media_type.encode()), (b"cache-control", b"no-store")]
        merged = {**self.headers, **self._late()}
        for name, value in merged.items():
            headers.append((wire_name(name), bound_header(value).encode("latin-1")))
        await send({"type": "http.response.start", "status": 200, "headers": headers})


class _KeepAlive:
    """The keep-alive timer of one stream: a ``call_later`` that checks when the stream last sent
    and, once nothing went out for ``keepalive`` seconds, writes one keep-alive in a task.

    A write that fails stops the stream with an ``internal_error`` (:meth:`ChunkStreamResponse.stop`);
    :meth:`stop` cancels the timer and any write under way, and waits for that write to be gone
    before the stream's end is sent.
    """

    __slots__ = ("_handle", "_lock", "_loop", "_response", "_send", "_write")

    def __init__(
        self, response: ChunkStreamResponse, send: Send, lock: asyncio.Lock, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._response, self._send, self._lock, self._loop = response, send, lock, loop
        self._write: Optional[asyncio.Task[None]] = None
        self._handle: Optional[asyncio.TimerHandle] = loop.call_at(response._last_send + response.keepalive, self._due)

    def _due(self) -> None:
        response = self._response
        at = response._last_send + response.keepalive
        if at > self._loop.time():
            self._handle = self._loop.call_at(at, self._due)
            return
        self._handle = None
        self._write = self._loop.create_task(self._write_one())

    async def _write_one(self) -> None:
        try:
            await self._response._keepalive(self._send, self._lock)
        except Exception as exc:  # noqa: BLE001 - the stream ends with it
            self._response.stop(f"internal error ({type(exc).__name__})", "internal_error")
            return
        self._write = None
        self._due()

    def cancel(self) -> Optional[asyncio.Task[None]]:
        """Cancel the timer and any write under way; return that write if it is not gone yet
        (:meth:`stop` waits for it)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        write = self._write
        if write is not None and not write.done():
            write.cancel()
            return write
        return None

    async def stop(self) -> None:
        write = self.cancel()
        if write is not None:
            await _gone(write)


async def _gone(write: asyncio.Task[None]) -> None:
    """Wait for a cancelled keep-alive write to be gone, even when the stream itself is being cancelled."""
    with anyio.CancelScope(shield=True):
        await asyncio.wait([write])


async def _unwind(step: Any, suspended: Any, exc: BaseException) -> None:
    """A send failed (the client went away, the stream is stopped) while the chunk generator waits
    for its next chunk: the failure reaches the generator where it waits, as it would have through
    a plain ``await``, so that it unwinds before the caller closes it; the caller then re-raises."""
    try:
        suspended = step.throw(exc)
    except (StopIteration, StopAsyncIteration):
        return  # it produced a chunk or ended instead: closable now
    except BaseException as raised:
        if raised is exc:
            return
        raise
    with contextlib.suppress(StopAsyncIteration):
        await _resume(step, suspended)  # its clean-up awaits: let it finish, then fail


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


@types.coroutine
def _resume(coro: Any, suspended: Any) -> Generator[Any, Any, Any]:
    """Awaits the rest of a coroutine that has already run up to its first suspension.

    ``suspended`` is what the coroutine yielded to the event loop there (a future): it is handed
    on to the task, and everything the task sends or throws in is passed to the coroutine. A
    generator-based coroutine, not an awaitable object: one object and no ``__init__`` call less
    per chunk that had to be waited for.
    """
    value = suspended
    while True:
        try:
            sent = yield value
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # noqa: BLE001 - passed on to the coroutine
            try:
                value = coro.throw(exc)
            except StopIteration as done:
                return done.value
        else:
            try:
                value = coro.send(sent)
            except StopIteration as done:
                return done.value


#: The name the route's first-chunk wait imports.
_Resume = _resume
