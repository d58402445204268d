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

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Optional

from .direct_route import _Route
from .jsonutil import dumps
from .upstream import AiohttpBody, UpstreamBody, upstream_body

if TYPE_CHECKING:
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
