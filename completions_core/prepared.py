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

The body of a stream is read by :class:`UpstreamBody`. On the SDKs' aiohttp transport, when the
body is not content-encoded (the common case), it reads aiohttp's response straight (one
``readany`` per upstream read, instead of through httpx2's and the vendored transport's stream
wrappers; bench/README.md, "Per-chunk upstream read"); a compressed body is read through httpx2's
response, which decodes it as the SDK's own reading does (that transport leaves decoding to it). A provider
that goes silent is still cut by aiohttp's own read timer (the request's read timeout). Errors are
mapped by the transport's own mapping, so that they are the ones its stream raised before.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NoReturn, Optional

from .jsonutil import dumps

if TYPE_CHECKING:
    import aiohttp
    import httpx2

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
        self.timeout = httpx2.Timeout(client.timeout) if client.timeout is not None else httpx2.Timeout(None)
        self.timeout_headers = tuple(name.encode() for name in timeout_headers)
        # A host with "_" needs an explicit SNI name, as the SDK sets it.
        host = self.url.host
        self.extensions: dict[str, Any] = {"sni_hostname": host.replace("_", "-")} if "_" in host else {}
        self._headers: Optional[list[tuple[bytes, bytes]]] = None
        #: :attr:`head` once made (False: the client's headers need httpx2's building per request).
        self._head: Optional[httpx2.Headers | Literal[False]] = None
        #: Whether the client's SDK traces its requests (then it sends while a trace is active).
        self.traced = False

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
        a failed status raises the SDK's status error, a failed connection its connection errors."""
        import httpx2

        request = self.request(body, seconds)
        try:
            response = await self.http.send(request, stream=True)
        except httpx2.TimeoutException as exc:
            raise self.errors.timeout(request) from exc
        except Exception as exc:
            raise self.errors.connection(request) from exc
        if response.is_success:
            return upstream_body(response)
        try:
            await response.aread()
        finally:
            await response.aclose()
        raise self.errors.status(response)


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


class AiohttpBody:
    """An aiohttp response's body read straight from it. ``map_errors`` reports an exception of a
    read as the caller's transport did (a context manager that re-raises it mapped); ``close``
    closes the response. A provider that goes silent is cut by aiohttp's own read timer
    (``sock_read``), which fails the waiting read with ``SocketTimeoutError``.

    (One watchdog timer per stream instead of aiohttp's timer, re-armed on every read, was tried:
    it saved about 1% of the CPU of a paced stream but held 2-5 MB more at 256 open streams,
    bench/README.md, "Per-chunk upstream read".)"""

    __slots__ = ("_close", "_content", "_map_errors")

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        close: Callable[[], Awaitable[None]],
        map_errors: Optional[Callable[[], AbstractContextManager[Any]]] = None,
    ) -> None:
        self._content = response.content
        self._close = close
        self._map_errors = map_errors

    def _raise(self, exc: Exception) -> NoReturn:
        if self._map_errors is not None:
            with self._map_errors():
                raise exc
        raise exc

    async def read(self) -> bytes:
        """The body's next bytes, ``b""`` at its end."""
        try:
            return await self._content.readany()
        except Exception as exc:  # noqa: BLE001 - re-raised as the transport reports it
            self._raise(exc)

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body's bytes, in the chunks they arrive in."""
        content = self._content
        while True:
            try:
                data = await content.readany()
            except Exception as exc:  # noqa: BLE001 - re-raised as the transport reports it
                self._raise(exc)
            if not data:
                return
            yield data

    async def aclose(self) -> None:
        """Close the response."""
        await self._close()


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
