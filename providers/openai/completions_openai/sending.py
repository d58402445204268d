"""Sending a streaming Chat Completions request on a client's own connection pool, with what every
request of that client shares prepared once.

The SDK builds each request from scratch: its options model, the URL merged and parsed three
times, the headers merged and validated, the body encoded with the standard library. On a
stream of a few hundred milliseconds that was the largest cost the proxy paid beyond re-encoding
(bench/README.md). :class:`PreparedPost` is made once per client the adapter builds, from the
client's public surface only (``base_url``, ``default_headers``, ``auth_headers``, ``timeout``)
and the HTTP client the adapter itself handed to the SDK; it sends through that HTTP client, so
the pool stays the client's, and raises the SDK's own public error types, so that failures map
exactly as through ``client.post``. A client the adapter did not build (or one whose
configuration this does not cover) has no prepared post: the SDK sends, as before.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional

from completions_core.jsonutil import dumps, loads

if TYPE_CHECKING:
    import httpx2
    from openai import AsyncOpenAI

__all__ = ["PreparedPost", "prepared_post", "remember"]

_PREPARED: weakref.WeakKeyDictionary[Any, PreparedPost] = weakref.WeakKeyDictionary()


class PreparedPost:
    """``POST {base_url}/chat/completions`` of one client, its URL and headers built once."""

    def __init__(self, client: AsyncOpenAI, http: httpx2.AsyncClient, path: str) -> None:
        import httpx2

        self.client = weakref.ref(client)
        self.http = http
        self.url = httpx2.URL(str(client.base_url).rstrip("/") + "/" + path.lstrip("/"))
        self.timeout = httpx2.Timeout(client.timeout) if client.timeout is not None else httpx2.Timeout(None)
        self._headers: Optional[list[tuple[bytes, bytes]]] = None

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

    def request(self, body: Mapping[str, Any], seconds: Optional[float]) -> httpx2.Request:
        """The HTTP request for ``body`` (plain JSON), with the request's own timeout if it has one."""
        import httpx2

        limit = self.timeout if seconds is None else httpx2.Timeout(seconds)
        read = seconds if seconds is not None else limit.read
        headers = self.headers if read is None else [*self.headers, (b"x-stainless-read-timeout", str(read).encode())]
        # Cookies a provider set on this client (a CDN's, say) go back as the SDK's requests send them.
        cookies = self.http.cookies
        return httpx2.Request(
            "POST",
            self.url,
            headers=headers,
            cookies=cookies if cookies else None,
            content=dumps(body),
            extensions={"timeout": limit.as_dict()},
        )

    async def send(self, body: Mapping[str, Any], seconds: Optional[float]) -> httpx2.Response:
        """Send and return the unread streaming response (``seconds``: the request's own timeout);
        a failed status raises the SDK's error, a failed connection its connection errors."""
        import httpx2
        import openai

        request = self.request(body, seconds)
        try:
            response = await self.http.send(request, stream=True)
        except httpx2.TimeoutException as exc:
            raise openai.APITimeoutError(request=request) from exc
        except Exception as exc:
            raise openai.APIConnectionError(request=request) from exc
        if response.is_success:
            return response
        try:
            await response.aread()
        finally:
            await response.aclose()
        raise status_error(response)


def status_error(response: httpx2.Response) -> Exception:
    """The SDK's public error for a failed status, with the body it would have kept."""
    import openai

    message = f"Error code: {response.status_code}"
    text = response.text.strip()
    body: object = text
    try:
        body = loads(text)
    except ValueError:
        pass
    else:
        error = body.get("error", body) if isinstance(body, Mapping) else None
        detail = error.get("message") if isinstance(error, Mapping) else None
        if isinstance(detail, str) and detail:
            message += f" - {detail}"
    data = body.get("error", body) if isinstance(body, Mapping) else body
    return openai.APIStatusError(message, response=response, body=data)


def remember(client: AsyncOpenAI, http: httpx2.AsyncClient, path: str) -> None:
    """Prepare ``client``'s streaming post (the adapter built it, with ``http`` as its HTTP client).

    A base URL with a query, or default query parameters, are merged by the SDK in ways this
    does not repeat: such a client keeps the SDK's own sending."""
    if client.base_url.query or client.default_query:
        return
    _PREPARED[client] = PreparedPost(client, http, path)


def prepared_post(client: AsyncOpenAI) -> Optional[PreparedPost]:
    """The prepared post of a client the adapter built, else None (the SDK sends)."""
    return _PREPARED.get(client)
