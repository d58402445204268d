"""The prepared post's direct route to the SDKs' vendored aiohttp transport (split out of
:mod:`completions_core.prepared`): when httpx2's ``send`` would do nothing of its own for a client
(no auth, no event hooks, no override; the transport its mounts give), the request goes to that
transport's aiohttp session as the transport sends it, with what httpx2's send does repeated, and
httpx2's request and response are built only where one is needed (bench/README.md, "Upstream
exchange").
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractContextManager, suppress
from typing import TYPE_CHECKING, Any, Optional, Protocol

from .jsonutil import dumps
from .upstream import AiohttpBody, UpstreamBody

if TYPE_CHECKING:
    import aiohttp
    import httpx2
    from multidict import CIMultiDict


class _Post(Protocol):
    """What the route uses of :class:`completions_core.prepared.PreparedPost` (named here, not
    imported: the prepared post imports the route)."""

    http: httpx2.AsyncClient
    url: httpx2.URL
    url_text: str
    extensions: dict[str, Any]
    timeouts: dict[str, Optional[float]]
    aiohttp_timeout_headers: tuple[str, ...]

    @property
    def errors(self) -> Any: ...

    def aiohttp_head(self) -> Optional[CIMultiDict[str]]: ...

    def request(self, body: Mapping[str, Any], seconds: Optional[float]) -> httpx2.Request: ...

    async def _answered(self, response: httpx2.Response) -> UpstreamBody: ...


#: httpx2's own logger: its send writes one line per response there.
_HTTPX2_LOG = logging.getLogger("httpx2")
#: What httpx2's send steps through, each of which the direct route repeats (or finds it would do nothing).
_SEND_LAYERS = (
    "send",
    "_set_timeout",
    "_build_request_auth",
    "_send_handling_auth",
    "_send_handling_redirects",
    "_send_single_request",
    "_transport_for_url",
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

    def timeout(self, post: _Post, seconds: Optional[float]) -> tuple[dict[str, Optional[float]], Any]:
        """The request's ``timeout`` extension and the transport's ``ClientTimeout`` for it."""
        last = self._timeouts
        if last is None or last[0] != seconds:
            import httpx2

            limits = post.timeouts if seconds is None else httpx2.Timeout(seconds).as_dict()
            timeout = self._timeout(
                sock_connect=limits.get("connect"), sock_read=limits.get("read"), connect=limits.get("pool")
            )
            last = self._timeouts = (seconds, limits, timeout)
        return last[1], last[2]

    @classmethod
    def find(cls, post: _Post) -> Optional[_Route]:
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

    async def send(self, post: _Post, body: Mapping[str, Any], seconds: Optional[float]) -> UpstreamBody:
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
        post: _Post,
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
        post: _Post,
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
