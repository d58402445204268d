"""The body of an upstream streaming response, read as it arrives (split out of
:mod:`completions_core.prepared`, which re-exports the public names).

:class:`UpstreamBody` reads through the HTTP client's response (which decodes a content-encoded
body). On the SDKs' vendored aiohttp transport a body with no content-encoding is read straight
from aiohttp's response (:class:`AiohttpBody`, one ``readany`` per upstream read; bench/README.md,
"Per-chunk upstream read"). A provider that goes silent is cut after the request's read timeout
by one :class:`_ReadSweeper` per event loop instead of aiohttp's read timer, which aiohttp
cancels and sets again for every chunk ("One sweeper per event loop").
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, NoReturn, Optional

if TYPE_CHECKING:
    import aiohttp
    import httpx2


class UpstreamBody:
    """The body of an upstream streaming response, unread: :meth:`aiter_bytes` yields it as it
    arrives, :meth:`aclose` closes the response (which drops the connection when the body was not
    read to its end). This one reads through the HTTP client's response (any transport)."""

    #: Whether the body is read straight from aiohttp's response.
    direct = False

    def __init__(self, response: httpx2.Response) -> None:
        #: The HTTP client's response (status, headers).
        self.response = response

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body's bytes, in the chunks they arrive in."""
        return self.response.aiter_bytes()

    async def aread(self) -> bytes:
        """The whole body."""
        return b"".join([chunk async for chunk in self.aiter_bytes()])

    async def aclose(self) -> None:
        """Close the response."""
        await self.response.aclose()


#: The longest a sweep of the open bodies waits for the next one (seconds).
_SWEEP_PERIOD = 0.5
#: The share of a body's read timeout a sweep waits at most for the next one: a silent upstream is
#: cut at most two periods late (10% of its timeout or 1 s, whichever is smaller; 10 ms for a timeout
#: under 100 ms, see _SWEEP_FLOOR).
_SWEEP_SHARE = 0.05
#: The shortest period, whatever the timeouts: a sweep walks every open body, and a caller's
#: shortest timeout (10 ms, the request's lower bound) must not make it run a thousand times a
#: second (a 10 ms timeout is then cut up to two periods, 10 ms, late).
_SWEEP_FLOOR = 0.005


def _sweep_period(seconds: float) -> float:
    """How long a sweep waits for the next while the shortest open timeout is ``seconds``."""
    return max(_SWEEP_FLOOR, min(_SWEEP_PERIOD, seconds * _SWEEP_SHARE))


class _ReadSweeper:
    """One per event loop: a single timer, set while any guarded :class:`AiohttpBody` is open, that
    checks each open body's waiting read every period and fails the one that has waited the body's
    read timeout. A body counts its reads (two increments per read); it holds no timer of its own,
    so a chunk arms and cancels nothing. The timer runs in an empty context (it keeps no request's
    context variables alive) and is not set again once no body is open; the bodies are held weakly
    and leave at their close."""

    __slots__ = ("__weakref__", "_bodies", "_context", "_handle", "_period")

    def __init__(self) -> None:
        self._bodies: weakref.WeakSet[AiohttpBody] = weakref.WeakSet()
        self._context = contextvars.Context()
        self._handle: Optional[asyncio.TimerHandle] = None
        self._period = _SWEEP_PERIOD

    @property
    def armed(self) -> bool:
        """Whether its timer is set (it is while a guarded body is open)."""
        return self._handle is not None

    def add(self, body: AiohttpBody, seconds: float) -> None:
        """Guard ``body``, whose reads may wait ``seconds`` at most."""
        self._bodies.add(body)
        period = _sweep_period(seconds)
        if self._handle is not None and period >= self._period:
            return
        if self._handle is not None:  # a body with a shorter timeout: sweep more often from now on
            self._handle.cancel()
        self._period = period
        loop = asyncio.get_running_loop()
        self._handle = loop.call_at(loop.time() + period, self._sweep, context=self._context)

    def discard(self, body: AiohttpBody) -> None:
        """``body`` is closed; with no body left, the timer is cancelled."""
        self._bodies.discard(body)
        if not self._bodies and self._handle is not None:
            self._handle.cancel()
            self._handle = None
            self._period = _SWEEP_PERIOD

    def _sweep(self) -> None:
        self._handle = None
        bodies = self._bodies
        if not bodies:
            self._period = _SWEEP_PERIOD
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        shortest = _SWEEP_PERIOD / _SWEEP_SHARE
        try:
            for body in list(bodies):
                body._check(now)
                if body._seconds < shortest:
                    shortest = body._seconds
        finally:  # set again even if a check failed: the other bodies stay guarded
            # As often as the shortest timeout of the bodies still open needs.
            self._period = _sweep_period(shortest)
            if bodies:
                self._handle = loop.call_at(now + self._period, self._sweep, context=self._context)


#: The sweeper of each event loop.
_SWEEPERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _ReadSweeper] = weakref.WeakKeyDictionary()


def _sweeper() -> _ReadSweeper:
    loop = asyncio.get_running_loop()
    sweeper = _SWEEPERS.get(loop)
    if sweeper is None:
        sweeper = _SWEEPERS[loop] = _ReadSweeper()
    return sweeper


async def _closed() -> None:
    """What closing a closed :class:`AiohttpBody` does: nothing."""


class AiohttpBody:
    """An aiohttp response's body read straight from it. ``map_errors`` reports an exception of a
    read as the caller's transport did (a context manager that re-raises it mapped); ``close``
    closes the response.

    A provider that goes silent is cut after the response's read timeout (aiohttp's ``sock_read``),
    with aiohttp's own ``SocketTimeoutError`` failing the waiting read, as aiohttp's read timer
    does. From the first read on, the body is guarded by its event loop's :class:`_ReadSweeper`
    instead of that timer, which aiohttp cancels and sets again for every chunk it receives
    (bench/README.md, "Per-chunk upstream read" and "One sweeper per event loop")."""

    __slots__ = (
        "__weakref__",
        "_close",
        "_content",
        "_map_errors",
        "_reads",
        "_response",
        "_seconds",
        "_seen",
        "_since",
        "_sweeper",
    )

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        close: Callable[[], Awaitable[None]],
        map_errors: Optional[Callable[[], AbstractContextManager[Any]]] = None,
    ) -> None:
        self._response: Optional[aiohttp.ClientResponse] = response
        self._content = response.content
        self._close = close
        self._map_errors = map_errors
        #: Reads started plus reads done: odd while a read waits.
        self._reads = 0
        #: What the sweeper last saw of ``_reads`` and when (loop time).
        self._seen = -1
        self._since = 0.0
        self._seconds = 0.0
        self._sweeper: Optional[_ReadSweeper] = None

    def _guard(self) -> None:
        """At the first read: the sweeper takes over from aiohttp's read timer."""
        response, self._response = self._response, None
        connection = response.connection if response is not None else None
        protocol = connection.protocol if connection is not None else None
        seconds = protocol.read_timeout if protocol is not None else None
        if protocol is None or not seconds:
            return
        # Its timer, set by the last data received, is dropped at the next.
        protocol.read_timeout = None
        self._seconds = seconds
        self._sweeper = _sweeper()
        self._sweeper.add(self, seconds)
        self._response = response

    def _check(self, now: float) -> None:
        """The sweeper's look (at loop time ``now``): a read that has waited the timeout fails."""
        reads = self._reads
        if not reads & 1:
            return
        if reads != self._seen:
            self._seen = reads
            self._since = now
        elif now - self._since >= self._seconds:
            self._silent()

    def _silent(self) -> None:
        import aiohttp

        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.discard(self)
        # What aiohttp's own read timer does: the waiting read fails, the connection is not reused.
        exc = aiohttp.SocketTimeoutError("Timeout on reading data from socket")
        response = self._response
        connection = response.connection if response is not None else None
        protocol = connection.protocol if connection is not None else None
        if protocol is not None:
            protocol.set_exception(exc)
        self._content.set_exception(exc)

    def _raise(self, exc: Exception) -> NoReturn:
        if self._map_errors is not None:
            with self._map_errors():
                raise exc
        raise exc

    async def read(self) -> bytes:
        """The body's next bytes, ``b""`` at its end."""
        if self._reads == 0:
            self._guard()
        self._reads += 1
        try:
            data = await self._content.readany()
        except Exception as exc:  # noqa: BLE001 - re-raised as the transport reports it
            self._reads += 1
            self._raise(exc)
        self._reads += 1
        return data

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body's bytes, in the chunks they arrive in."""
        if self._reads == 0:
            self._guard()
        content = self._content
        while True:
            self._reads += 1
            try:
                data = await content.readany()
            except Exception as exc:  # noqa: BLE001 - re-raised as the transport reports it
                self._reads += 1
                self._raise(exc)
            self._reads += 1
            if not data:
                return
            yield data

    def release(self) -> None:
        """The response is being closed: the sweeper lets the body go, and the body holds neither
        the response nor ``close`` any more. (``close`` is often its owner's bound method, the
        owner holding the body: a reference cycle, whose objects only a full garbage collection
        frees, which held megabytes at 256 open streams: bench/README.md, "One sweeper per event
        loop".)"""
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.discard(self)
        self._close = _closed
        self._response = None

    async def aclose(self) -> None:
        """Close the response (:meth:`release` first)."""
        close = self._close
        self.release()
        await close()


class _DirectBody(UpstreamBody):
    """An SDK's vendored aiohttp transport's response, read straight from aiohttp."""

    direct = True

    def __init__(self, response: httpx2.Response, raw: aiohttp.ClientResponse, mapping: Any) -> None:
        super().__init__(response)
        self._body = AiohttpBody(raw, response.aclose, mapping)

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        return self._body.aiter_bytes()

    async def aclose(self) -> None:
        await self._body.aclose()


def upstream_body(response: httpx2.Response) -> UpstreamBody:
    """The body of ``response`` (a streaming response, unread): read straight from aiohttp when it
    came from an SDK's aiohttp transport and is not content-encoded, else through the HTTP
    client's response (which decodes what it can: gzip, deflate, and br or zstd when their
    decoders are installed). A coding httpx2 does not know, which it would pass on as it came, is
    an ``httpx2.DecodingError`` at the first read (the adapters map it to invalid_response_error)."""
    raw = _aiohttp_response(response)
    if raw is not None:
        return _DirectBody(response, *raw)
    from httpx2 import _decoders

    known = getattr(_decoders, "SUPPORTED_DECODERS", {"identity": None, "gzip": None, "deflate": None})
    codings = [name.strip().lower() for name in response.headers.get_list("content-encoding", split_commas=True)]
    unknown = [name for name in codings if name and name not in known]
    return _Undecodable(response, unknown) if unknown else UpstreamBody(response)


class _Undecodable(UpstreamBody):
    """A body in a content-encoding the HTTP client cannot decode: reading it fails, naming it."""

    def __init__(self, response: httpx2.Response, codings: list[str]) -> None:
        super().__init__(response)
        self.codings = codings

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        import httpx2

        raise httpx2.DecodingError(f"the body's content-encoding {', '.join(self.codings)} cannot be decoded")
        yield b""  # an async generator, as the others


def _aiohttp_response(response: httpx2.Response) -> Optional[tuple[aiohttp.ClientResponse, Any]]:
    """The aiohttp response under ``response`` and its transport's error mapping, when it came
    from the SDKs' vendored aiohttp transport (httpx-aiohttp: ``AiohttpResponseStream`` and
    ``map_aiohttp_exceptions``, in the same module) and its body is not content-encoded, else None.

    That transport leaves decoding to httpx2's response (aiohttp's ``auto_decompress`` is off),
    and the request accepts gzip and deflate: an encoded body read straight would be the
    compressed bytes."""
    stream = getattr(response.stream, "_stream", None)  # inside httpx2's BoundAsyncStream
    if type(stream).__name__ != "AiohttpResponseStream":
        return None
    raw = getattr(stream, "_aiohttp_response", None)
    mapping = getattr(sys.modules.get(type(stream).__module__), "map_aiohttp_exceptions", None)
    import aiohttp

    if not isinstance(raw, aiohttp.ClientResponse) or not callable(mapping):
        return None
    # aiohttp's headers (the same as httpx2's response holds): a lookup there costs less.
    if any(coding.strip().lower() not in ("", "identity") for coding in raw.headers.getall("Content-Encoding", ())):
        return None
    return raw, mapping
