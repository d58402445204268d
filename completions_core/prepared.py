"""A streaming POST on a generated (Stainless-style) SDK client's own connection pool, with what
every request of that client shares prepared once.

Such an SDK builds each request from scratch: its options model, the URL merged and parsed more
than once, the headers merged and validated, the body encoded. On a stream of a few hundred
milliseconds that was the largest cost the proxy paid beyond re-encoding (bench/README.md).
:class:`PreparedPost` is made once per client an adapter builds, from the client's public surface
only (``base_url``, ``default_headers``, ``auth_headers``, ``timeout``) and the HTTP client the
adapter itself handed to the SDK; it sends through that HTTP client, so the pool stays the
client's, and raises the SDK's own public error types (the adapter says which, in
:class:`SDKErrors`), so that failures map exactly as through the SDK. A client the adapter did
not build, or one whose configuration this does not repeat (a query on its base URL, default
query parameters, custom auth, middleware, a tracer provider of its own), has no prepared post,
nor has a client whose SDK traces while a trace is active (OpenTelemetry): the SDK sends.

No SDK is imported here: each adapter passes what differs (the path, its error types, the
headers that carry the request's timeout).

On the SDKs' vendored aiohttp transport, a client whose httpx2 ``send`` would do nothing of its own
(no auth, no event hooks, no override; the transport its mounts give) is sent to by calling the
transport's aiohttp session as the transport does (:class:`_Route`), with what httpx2's send does
repeated; an httpx2 request and response are built only where one is needed (bench/README.md,
"Upstream exchange").

The body of a stream is read by :class:`UpstreamBody`. On the SDKs' aiohttp transport, when the
body is not content-encoded (the common case), it reads aiohttp's response straight (one
``readany`` per upstream read, instead of through httpx2's and the vendored transport's stream
wrappers; bench/README.md, "Per-chunk upstream read"); a compressed body is read through httpx2's
response, which decodes it as the SDK's own reading does (that transport leaves decoding to it). A provider
that goes silent is cut after the request's read timeout by one sweeper per event loop instead of
aiohttp's read timer, which aiohttp cancels and sets again for every chunk (:class:`AiohttpBody`). Errors are
mapped by the transport's own mapping, so that they are the ones its stream raised before.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NoReturn, Optional

from .jsonutil import dumps

if TYPE_CHECKING:
    import aiohttp
    import httpx2
    from multidict import CIMultiDict

__all__ = [
    "AiohttpBody",
    "PreparedPost",
    "SDKErrors",
    "UpstreamBody",
    "prepared_post",
    "remember",
    "upstream_body",
]

_PREPARED: weakref.WeakKeyDictionary[Any, PreparedPost] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class SDKErrors:
    """How one SDK reports a failed request: the exceptions its own sending raises."""

    #: The request timed out before the response started (the SDK's timeout error).
    timeout: Callable[[httpx2.Request], Exception]
    #: The connection failed (the SDK's connection error).
    connection: Callable[[httpx2.Request], Exception]
    #: A failed status, the body already read (the SDK's status error, with the body it keeps).
    status: Callable[[httpx2.Response], Exception]


class PreparedPost:
    """``POST {base_url}/{path}`` of one client, its URL and headers built once."""

    def __init__(
        self,
        client: Any,
        http: httpx2.AsyncClient,
        path: str,
        errors: SDKErrors,
        timeout_headers: tuple[str, ...] = ("x-stainless-read-timeout",),
    ) -> None:
        import httpx2

        self.client = weakref.ref(client)
        self.http = http
        self.errors = errors
        self.url = httpx2.URL(str(client.base_url).rstrip("/") + "/" + path.lstrip("/"))
        self.url_text = str(self.url)
        self.timeout = httpx2.Timeout(client.timeout) if client.timeout is not None else httpx2.Timeout(None)
        self.timeout_headers = tuple(name.encode() for name in timeout_headers)
        #: Their names as the aiohttp transport hands them to aiohttp (httpx2's ``items()``: lower case).
        self.aiohttp_timeout_headers = tuple(name.lower() for name in timeout_headers)
        # A host with "_" needs an explicit SNI name, as the SDK sets it.
        host = self.url.host
        self.extensions: dict[str, Any] = {"sni_hostname": host.replace("_", "-")} if "_" in host else {}
        self._headers: Optional[list[tuple[bytes, bytes]]] = None
        #: :attr:`head` once made (False: the client's headers need httpx2's building per request).
        self._head: Optional[httpx2.Headers | Literal[False]] = None
        #: Whether the client's SDK traces its requests (then it sends while a trace is active).
        self.traced = False
        #: How it sends, found at its first request (False: through httpx2's ``send``).
        self._route: Optional[_Route | Literal[False]] = None
        self._aiohttp_head: Optional[CIMultiDict[str] | Literal[False]] = None
        #: The timeout the request's own is not: the client's.
        self.timeouts = self.timeout.as_dict()

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """The headers every request of the client sends, made at its first request: in the event
        loop that sends, as the SDK makes them (one of them names the async library)."""
        if self._headers is None:
            import httpx2

            client = self.client()
            if client is None:
                raise RuntimeError("the client of this prepared post is gone")
            # What the SDK's request building merges for every request: the key, then its default
            # headers (an omitted one removed), on top of the HTTP client's own headers.
            merged = {**client.auth_headers, **client.default_headers}
            headers = httpx2.Headers(self.http.headers)
            headers.update({name: value for name, value in merged.items() if isinstance(value, str)})
            headers["x-stainless-retry-count"] = "0"
            self._headers = headers.raw
        return self._headers

    @property
    def head(self) -> Optional[httpx2.Headers]:
        """:attr:`headers` as httpx2 sends them, the ``Host`` it puts first included, normalised once
        (a request copies the list instead of normalising every header twice); None when the
        client's headers already name one that a request adds (then httpx2 builds each request)."""
        if self._head is None:
            import httpx2

            head = httpx2.Headers(self.headers)
            added = ("content-length", "transfer-encoding", *(name.decode() for name in self.timeout_headers))
            if any(name in head for name in added):
                self._head = False
            else:
                if "host" not in head:
                    head = httpx2.Headers([(b"Host", self.url.netloc), *self.headers])
                self._head = head
        return self._head or None

    def request(self, body: Mapping[str, Any], seconds: Optional[float]) -> httpx2.Request:
        """The HTTP request for ``body`` (plain JSON), with the request's own timeout if it has one.

        The same request as ``httpx2.Request(..., content=...)`` builds (the same headers in the
        same order, body and extensions), from headers normalised once per client."""
        import httpx2

        limit = self.timeout if seconds is None else httpx2.Timeout(seconds)
        read = seconds if seconds is not None else limit.read
        content = dumps(body)
        extensions = {**self.extensions, "timeout": limit.as_dict()}
        # Cookies a provider set on this client (a CDN's, say) go back as the SDK's requests send them.
        cookies = self.http.cookies
        head = self.head
        if cookies or head is None:  # rare: httpx2 builds it (a cookie header goes before the length)
            headers = self.headers
            if read is not None:
                value = str(read).encode()
                headers = [*headers, *((name, value) for name in self.timeout_headers)]
            return httpx2.Request(
                "POST", self.url, headers=headers, cookies=cookies or None, content=content, extensions=extensions
            )
        copied = httpx2.Headers(head)  # a copy of the list: nothing normalised again
        if read is not None:
            seconds_text = str(read)
            for name in self.timeout_headers:
                copied[name.decode()] = seconds_text  # none of them in ``head``: appended, as httpx2 does
        copied["Content-Length"] = str(len(content))  # what httpx2 appends for a body (never empty)
        request = httpx2.Request(
            "POST", self.url, headers=copied, stream=httpx2.ByteStream(content), extensions=extensions
        )
        request.read()  # the body kept in memory (``request.content``), as httpx2's own building does
        return request

    async def send(self, body: Mapping[str, Any], seconds: Optional[float]) -> UpstreamBody:
        """Send and return the unread streaming body (``seconds``: the request's own timeout);
        a failed status raises the SDK's status error, a failed connection its connection errors.

        On the SDKs' aiohttp transport, when httpx2's own send layers would do nothing for this
        client (no auth, no event hooks), the request goes to the transport's aiohttp session
        directly (:class:`_Route`): what the transport and httpx2's send do, repeated."""
        route = self._route
        if route is None:
            route = self._route = _Route.find(self) or False
        http = self.http
        if route and http._auth is None and not (http._event_hooks["request"] or http._event_hooks["response"]):
            return await route.send(self, body, seconds)
        return await self._send_through_httpx2(body, seconds)

    async def _send_through_httpx2(self, body: Mapping[str, Any], seconds: Optional[float]) -> UpstreamBody:
        import httpx2

        request = self.request(body, seconds)
        try:
            response = await self.http.send(request, stream=True)
        except httpx2.TimeoutException as exc:
            raise self.errors.timeout(request) from exc
        except Exception as exc:
            raise self.errors.connection(request) from exc
        return await self._answered(response)

    async def _answered(self, response: httpx2.Response) -> UpstreamBody:
        """The body of a successful ``response``, else the SDK's status error (the body read)."""
        if response.is_success:
            return upstream_body(response)
        try:
            await response.aread()
        finally:
            await response.aclose()
        raise self.errors.status(response)

    def aiohttp_head(self) -> Optional[CIMultiDict[str]]:
        """:attr:`head` in the form the aiohttp transport hands aiohttp (``CIMultiDict(request.headers)``:
        lower-case names, repeated ones joined), made once; None where :attr:`head` is."""
        if self._aiohttp_head is None:
            from multidict import CIMultiDict

            head = self.head
            self._aiohttp_head = False if head is None else CIMultiDict(head)
        return self._aiohttp_head or None


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
        "__weakref__", "_close", "_content", "_map_errors", "_reads", "_response", "_seconds", "_seen",
        "_since", "_sweeper",
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


def _tracing(client: Any) -> Optional[bool]:
    """Whether ``client``'s SDK traces its requests (its ``open_telemetry`` option): None when it
    sends to a tracer provider of its own (only the SDK's sending honours that)."""
    telemetry = getattr(client, "open_telemetry", None)
    traces = telemetry.get("traces") if isinstance(telemetry, Mapping) else None
    if not (isinstance(traces, Mapping) and traces.get("enabled")):
        return False
    return None if telemetry.get("tracer_provider") is not None else True  # type: ignore[union-attr]


def _sends_itself(client: Any) -> bool:
    """Whether ``client`` is configured in a way only the SDK's own sending honours."""
    if client.base_url.query or getattr(client, "default_query", None):
        return True
    if getattr(client, "custom_auth", None) is not None or getattr(client, "middleware", None):
        return True
    return _tracing(client) is None


def trace_active() -> bool:
    """Whether an SDK that traces would make a span or send trace headers for a request now: a
    trace is current (its context goes on the wire), or a tracer provider that records is set."""
    try:
        from opentelemetry import trace
    except ImportError:
        return False
    try:
        if trace.get_current_span().get_span_context().is_valid:
            return True
        return not isinstance(trace.get_tracer_provider(), (trace.ProxyTracerProvider, trace.NoOpTracerProvider))
    except Exception:  # noqa: BLE001 - a provider that fails to load: the SDK decides, as it does
        return True


def remember(
    client: Any,
    http: httpx2.AsyncClient,
    path: str,
    errors: SDKErrors,
    timeout_headers: tuple[str, ...] = ("x-stainless-read-timeout",),
) -> None:
    """Prepare ``client``'s streaming post to ``path`` (the adapter built it, with ``http`` as its
    HTTP client); a client configured in ways this does not repeat keeps the SDK's own sending."""
    if not _sends_itself(client):
        post = PreparedPost(client, http, path, errors, timeout_headers)
        post.traced = bool(_tracing(client))
        _PREPARED[client] = post


def prepared_post(client: Any) -> Optional[PreparedPost]:
    """The prepared post of a client an adapter built, else None (the SDK sends). A client whose
    SDK traces has none while a trace is active: the SDK makes the span and sends its headers."""
    try:
        post = _PREPARED.get(client)
    except TypeError:  # an object no weak reference can name was never remembered
        return None
    if post is not None and post.traced and trace_active():
        return None
    return post


#: httpx2's own logger: its send writes one line per response there.
_HTTPX2_LOG = logging.getLogger("httpx2")
#: What httpx2's send steps through, each of which the direct route repeats (or finds it would do nothing).
_SEND_LAYERS = (
    "send", "_set_timeout", "_build_request_auth", "_send_handling_auth", "_send_handling_redirects",
    "_send_single_request", "_transport_for_url",
)


#: httpx2's internals the direct route reads or calls (its send's own steps and state).
_HTTPX2_CLIENT_NAMES = ("_auth", "_event_hooks", "_state", "_default_encoding", "cookies", "follow_redirects")
_HTTPX2_CLIENT_METHODS = ("_build_redirect_request", "_send_handling_redirects", "_transport_for_url")
_HTTPX2_MODULE_NAMES = ("ClientState", "BoundAsyncStream", "logger")


def _httpx2_as_known(http: Any) -> bool:
    """Whether the installed httpx2 has every internal the direct route repeats its send with: an
    httpx2 release that renamed one keeps its own send (the route is never half taken)."""
    try:
        from httpx2 import _client
    except ImportError:
        return False
    if not all(hasattr(_client, name) for name in _HTTPX2_MODULE_NAMES):
        return False
    if not all(hasattr(_client.ClientState, state) for state in ("OPENED", "CLOSED")):
        return False
    if not all(hasattr(http, name) for name in _HTTPX2_CLIENT_NAMES):
        return False
    hooks = http._event_hooks
    if not (isinstance(hooks, Mapping) and "request" in hooks and "response" in hooks):
        return False
    return all(callable(getattr(http, name, None)) for name in _HTTPX2_CLIENT_METHODS + _SEND_LAYERS)


class _Route:
    """The SDKs' vendored aiohttp transport (httpx-aiohttp's ``AiohttpTransport``) that httpx2's
    ``send`` would hand the prepared post's request to, called the way that transport calls its
    aiohttp session, with what httpx2's send does around it repeated:

    - the client closed: the same ``RuntimeError`` (the SDK's connection error); else marked opened;
    - the transport: the one its mounts (proxies from the environment included) give for the
      URL, found once (the URL is fixed); a subclass of ``AsyncClient`` that overrides a step of
      ``send`` keeps httpx2's send, and so does a client with auth, credentials in the URL or
      event hooks (checked on every request);
    - the timeout: the request's ``timeout`` extension, mapped as the transport maps it;
    - errors: the transport's own ``map_aiohttp_exceptions``, the request attached to the
      httpx2 error as httpx2 attaches it, then the SDK's errors as before;
    - the response: an :class:`httpx2.Response` is built as the transport and httpx2 build it
      (cookies it sets put in the client's jar, its log line, redirects followed or not as the
      client says) unless the answer is a success with no cookie, no content coding and
      httpx2's logger quiet: then its body is read straight from aiohttp (:class:`_AiohttpStream`).
    """

    __slots__ = ("_closed", "_opened", "_session", "_timeout", "_timeouts", "mapping", "module", "proxy", "transport")

    def __init__(self, transport: Any, module: Any) -> None:
        import aiohttp
        from httpx2._client import ClientState

        self.transport = transport
        self.module = module
        self.mapping: Callable[[], AbstractContextManager[Any]] = module.map_aiohttp_exceptions
        proxy = transport.proxy
        self.proxy: dict[str, Any] = {
            "proxy": str(proxy.url) if proxy else None,
            "proxy_auth": aiohttp.BasicAuth(proxy.auth[0], proxy.auth[1]) if proxy and proxy.auth else None,
            "proxy_headers": proxy.headers if proxy else None,
        }
        self._closed, self._opened = ClientState.CLOSED, ClientState.OPENED
        self._session = aiohttp.ClientSession
        self._timeout = aiohttp.ClientTimeout
        #: The last request timeout and aiohttp's form of it (most requests of a client share one).
        self._timeouts: tuple[Optional[float], dict[str, Optional[float]], aiohttp.ClientTimeout] | None = None

    def timeout(self, post: PreparedPost, seconds: Optional[float]) -> tuple[dict[str, Optional[float]], Any]:
        """The request's ``timeout`` extension and the transport's ``ClientTimeout`` for it."""
        last = self._timeouts
        if last is None or last[0] != seconds:
            import httpx2

            limits = post.timeouts if seconds is None else httpx2.Timeout(seconds).as_dict()
            timeout = self._timeout(sock_connect=limits.get("connect"), sock_read=limits.get("read"),
                                    connect=limits.get("pool"))
            last = self._timeouts = (seconds, limits, timeout)
        return last[1], last[2]

    @classmethod
    def find(cls, post: PreparedPost) -> Optional[_Route]:
        """The route of ``post``'s requests, when its HTTP client sends them to the SDKs' aiohttp
        transport through httpx2's ``send`` unchanged; else None."""
        import httpx2

        http = post.http
        if not isinstance(http, httpx2.AsyncClient) or post.url.username or post.url.password:
            return None
        if not _httpx2_as_known(http):
            return None
        if any(getattr(type(http), name) is not getattr(httpx2.AsyncClient, name) for name in _SEND_LAYERS):
            return None
        transport = http._transport_for_url(post.url)
        module = sys.modules.get(type(transport).__module__)
        if type(transport) is not getattr(module, "AiohttpTransport", None):
            return None
        if not (callable(getattr(module, "map_aiohttp_exceptions", None)) and hasattr(module, "AiohttpResponseStream")):
            return None
        return cls(transport, module)

    async def send(self, post: PreparedPost, body: Mapping[str, Any], seconds: Optional[float]) -> UpstreamBody:
        http = post.http
        head = post.aiohttp_head()
        request: Optional[httpx2.Request] = None
        if head is None or http.cookies:  # rare: httpx2 builds the request, the transport's copy of its headers
            from multidict import CIMultiDict

            request = post.request(body, seconds)
            content = request.content
            limits = request.extensions["timeout"]
            headers = CIMultiDict(request.headers)
            timeout = self._timeout(
                sock_connect=limits.get("connect"), sock_read=limits.get("read"), connect=limits.get("pool")
            )
        else:
            content = dumps(body)
            limits, timeout = self.timeout(post, seconds)
            read = limits["read"]
            headers = head.copy()
            if read is not None:
                value = str(read)
                for name in post.aiohttp_timeout_headers:
                    headers.add(name, value)
            headers.add("content-length", str(len(content)))
        transport = self.transport
        start = time.perf_counter()
        try:
            if http._state is self._closed:  # raised inside httpx2's send, mapped as it was
                raise RuntimeError("Cannot send a request, as the client has been closed.")
            http._state = self._opened
            if not isinstance(transport.client, self._session):
                transport.client = transport.get_client()
            try:
                raw = await transport.client.request(
                    method="POST",
                    url=post.url_text,
                    headers=headers,
                    data=content,
                    allow_redirects=False,
                    auto_decompress=False,
                    compress=False,
                    timeout=timeout,
                    server_hostname=post.extensions.get("sni_hostname"),
                    **self.proxy,
                ).__aenter__()
            except Exception as exc:
                with self.mapping():
                    raise exc
        except Exception as exc:
            import httpx2

            request = request or post.request(body, seconds)
            if isinstance(exc, httpx2.RequestError):
                exc.request = request  # as httpx2's send attaches it
            if isinstance(exc, httpx2.TimeoutException):
                raise post.errors.timeout(request) from exc
            raise post.errors.connection(request) from exc
        answer = raw.headers
        if (
            200 <= raw.status < 300
            and "Set-Cookie" not in answer
            and ("Content-Encoding" not in answer or _identity(answer.getall("Content-Encoding")))
            and not _HTTPX2_LOG.isEnabledFor(logging.INFO)
        ):
            return _AiohttpStream(raw, self, post, body, seconds, request, start)
        return await self.answer(post, body, seconds, request, raw, start)

    async def answer(
        self,
        post: PreparedPost,
        body: Mapping[str, Any],
        seconds: Optional[float],
        request: Optional[httpx2.Request],
        raw: aiohttp.ClientResponse,
        start: float,
    ) -> UpstreamBody:
        """Any other answer, through httpx2's response as its send makes it."""
        import httpx2

        request = request or post.request(body, seconds)
        try:
            response = await self.answered(post.http, request, raw, start)
        except httpx2.TimeoutException as exc:  # a redirect followed: sent by httpx2
            raise post.errors.timeout(request) from exc
        except Exception as exc:
            raise post.errors.connection(request) from exc
        return await post._answered(response)

    def response(
        self,
        http: httpx2.AsyncClient,
        request: httpx2.Request,
        raw: aiohttp.ClientResponse,
        start: float,
        bind: bool = True,
    ) -> httpx2.Response:
        """The response as the transport builds it and httpx2's ``_send_single_request`` binds it
        (``bind``: its cookies put in the client's jar, its log line written)."""
        import httpx2
        from httpx2._client import BoundAsyncStream
        from httpx2._client import logger as httpx2_logger

        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if raw.reason:
            extensions["reason_phrase"] = raw.reason.encode()
        stream = self.module.AiohttpResponseStream(raw)
        response = httpx2.Response(
            status_code=raw.status, headers=raw.raw_headers, stream=stream, request=request, extensions=extensions
        )
        response.request = request
        response.stream = BoundAsyncStream(stream, start=start)
        response.default_encoding = http._default_encoding
        if not bind:
            return response
        http.cookies.extract_cookies(response)
        httpx2_logger.info(
            'HTTP Request: %s %s "%s %d %s"',
            request.method,
            request.url,
            response.http_version,
            response.status_code,
            response.reason_phrase,
        )
        return response

    async def answered(
        self, http: httpx2.AsyncClient, request: httpx2.Request, raw: aiohttp.ClientResponse, start: float
    ) -> httpx2.Response:
        """What httpx2's send returns for the first answer ``raw``: a redirect followed when the
        client follows them (by httpx2's own next steps), else its next request noted."""
        import httpx2

        response = self.response(http, request, raw, start)
        try:
            response.history = []
            if not response.has_redirect_location:
                return response
            if not http.follow_redirects:
                with suppress(httpx2.RemoteProtocolError):
                    response.next_request = http._build_redirect_request(request, response)
                return response
            next_request = http._build_redirect_request(request, response)
            await response.aread()
        except BaseException:
            await response.aclose()
            raise
        # httpx2's own next steps: the redirect limit, the next request sent and answered.
        return await http._send_handling_redirects(next_request, follow_redirects=True, history=[response])


def _identity(codings: list[str]) -> bool:
    """Whether the answer's content codings leave its body as sent (``identity`` only)."""
    return all(coding.strip().lower() == "identity" for coding in codings)


class _AiohttpStream(UpstreamBody):
    """A successful answer's body on the direct route, read straight from aiohttp's response; the
    :class:`httpx2.Response` is built only if someone asks for it (:attr:`response`)."""

    direct = True

    def __init__(
        self,
        raw: aiohttp.ClientResponse,
        route: _Route,
        post: PreparedPost,
        body: Mapping[str, Any],
        seconds: Optional[float],
        request: Optional[httpx2.Request],
        start: float,
    ) -> None:
        self._raw = raw
        self._route = route
        self._post = post
        self._sent = (body, seconds, request, start)
        self._response: Optional[httpx2.Response] = None
        self._closed = False
        self._body = AiohttpBody(raw, self.aclose, route.mapping)

    @property
    def response(self) -> httpx2.Response:
        """The answer as httpx2's response (built at the first ask, as the transport builds it)."""
        if self._response is None:
            body, seconds, request, start = self._sent
            self._response = self._route.response(
                self._post.http, request or self._post.request(body, seconds), self._raw, start, bind=False
            )
            self._response.history = []
        return self._response

    @response.setter
    def response(self, value: httpx2.Response) -> None:
        self._response = value

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        return self._body.aiter_bytes()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._body.release()
        if self._response is not None:
            await self._response.aclose()
            return
        try:
            await self._raw.__aexit__(None, None, None)
        except Exception as exc:
            with self._route.mapping():
                raise exc
