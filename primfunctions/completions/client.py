"""The HTTP client: one module-level aiohttp session talking to the completions proxy."""

from __future__ import annotations

import asyncio
import dataclasses
import warnings
from collections.abc import AsyncGenerator, Mapping
from typing import Any, Optional

import aiohttp

from completions_core.codec import (
    chunk_from_wire,
    decode_request,
    request_to_wire,
    response_from_wire,
    stream_options_from_wire,
)
from completions_core.jsonutil import dumps, loads
from completions_core.types import (
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    CompletionsProvider,
    ErrorChunk,
    FinalResponseChunk,
    StreamOptions,
)
from primfunctions.completions.errors import (
    CompletionsNotConfiguredError,
    CompletionsProviderNotConfiguredError,
    CompletionsProxyError,
)
from primfunctions.logger import logger

__all__ = [
    "ChatCompletionStream",
    "close",
    "configure",
    "configure_provider",
    "generate_chat_completion",
    "generate_chat_completion_stream",
]

_CONNECT_TIMEOUT = 10.0


@dataclasses.dataclass(frozen=True)
class _Registration:
    """A provider registered for this session: the client's one shape of a credential."""

    managed: bool
    api_key: Optional[str]

    def __repr__(self) -> str:
        return f"_Registration(managed={self.managed}, api_key={'****' if self.api_key else None})"

    def to_wire(self) -> dict[str, Any]:
        """The documented wire object (docs/protocol.md): ``{"voicerun_managed": true}`` or ``{"api_key": "..."}``."""
        return {"voicerun_managed": True} if self.managed else {"api_key": self.api_key}


class _State:
    def __init__(self) -> None:
        self.proxy_url: Optional[str] = None
        self.proxy_token: Optional[str] = None
        self.providers: dict[str, _Registration] = {}
        self.session: Optional[aiohttp.ClientSession] = None
        self.session_loop: Optional[asyncio.AbstractEventLoop] = None
        self.background: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"<client state proxy_url={self.proxy_url!r} providers={sorted(self.providers)}>"


_state = _State()


def _provider_key(name: str) -> str:
    """How a provider name keys a registration: trimmed, lower case (the proxy resolves aliases)."""
    return str(name).strip().lower()

def configure(proxy_url: str, proxy_token: str) -> None:
    """Set the proxy URL and auth token (the runtime does this before handler code runs)."""
    if not isinstance(proxy_url, str) or not proxy_url.startswith(("http://", "https://")):
        raise ValueError(f"proxy_url must be an http:// or https:// URL, got {proxy_url!r}")
    if not isinstance(proxy_token, str) or not proxy_token:
        raise ValueError("proxy_token must be a non-empty string")
    _state.proxy_url = proxy_url.rstrip("/")
    _state.proxy_token = proxy_token


def configure_provider(
    provider: str | CompletionsProvider, *, voicerun_managed: bool = False, api_key: Optional[str] = None
) -> None:
    """Register a provider for this session: the platform's managed key, or your own ``api_key``.

    Exactly one of ``voicerun_managed`` and ``api_key`` must be truthy. The first registration
    of a provider starts a background warm request to the proxy (when an event loop is running).
    """
    if bool(voicerun_managed) == bool(api_key):
        raise ValueError("configure_provider needs exactly one of voicerun_managed=True or api_key=<key>")
    if api_key is not None and not isinstance(api_key, str):
        raise ValueError("api_key must be a string")
    name = _provider_key(str(provider))
    if not name:
        raise ValueError("provider must be a non-empty name such as 'openai'")
    first = name not in _state.providers
    _state.providers[name] = _Registration(managed=bool(voicerun_managed), api_key=api_key or None)
    if first:
        _start_warm(name)


async def close() -> None:
    """Close the module-level aiohttp session (runtimes do this at shutdown)."""
    for task in list(_state.background):
        task.cancel()
    if _state.background:
        await asyncio.gather(*_state.background, return_exceptions=True)
    session, _state.session, _state.session_loop = _state.session, None, None
    if session is not None and not session.closed:
        await session.close()


# --- helpers ---------------------------------------------------------------------------------


def _session() -> aiohttp.ClientSession:
    loop = asyncio.get_running_loop()
    session = _state.session
    if session is None or session.closed or _state.session_loop is not loop:
        # A session belongs to the loop that made it; a new loop (tests, a restarted runtime) gets its own.
        session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=_CONNECT_TIMEOUT),
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
        )
        _state.session, _state.session_loop = session, loop
    return session


def _headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {_state.proxy_token}", "Content-Type": "application/json"}


def _require_configured() -> str:
    if not _state.proxy_url or not _state.proxy_token:
        raise CompletionsNotConfiguredError(
            "the completions client is not configured: configure(proxy_url, proxy_token) was never called "
            "in this process (the VoiceRun runtime normally does this)"
        )
    return _state.proxy_url


def _start_warm(provider: str) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    if not _state.proxy_url or not _state.proxy_token:
        return
    task = loop.create_task(_warm(provider))
    _state.background.add(task)
    task.add_done_callback(_state.background.discard)


async def _warm(provider: str) -> None:
    registration = _state.providers.get(provider)
    if registration is None or _state.proxy_url is None:
        return
    body = {"provider": provider, "credentials": {provider: registration.to_wire()}}
    try:
        async with _session().post(f"{_state.proxy_url}/v1/warm", data=dumps(body), headers=_headers()) as resp:
            await resp.read()
            if resp.status >= 400:
                logger.debug("completions warm request for %s answered %s", provider, resp.status)
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        logger.debug("completions warm request for %s failed: %s", provider, type(exc).__name__)


def _has_api_key(value: Any) -> bool:
    if isinstance(value, Mapping):
        return "api_key" in value
    return "api_key" in getattr(value, "__dict__", {})


def _prepare(request: ChatCompletionRequest | dict[str, Any]) -> dict[str, Any]:
    if _has_api_key(request):
        raise ValueError("api_key is not a request field: register keys with configure_provider(provider, api_key=...)")
    fallbacks = request.get("fallbacks") if isinstance(request, Mapping) else request.fallbacks
    for fallback in fallbacks or []:
        if _has_api_key(fallback):
            raise ValueError(
                "api_key is not a fallback field: register keys with configure_provider(provider, api_key=...)"
            )
    base = _require_configured()
    decoded = decode_request(request)  # the primary, then each fallback with its inherited fields
    providers = [_provider_key(part.provider) for part in decoded]
    credentials: dict[str, Any] = {}
    for name in providers:
        registration = _state.providers.get(name)
        if registration is None:
            raise CompletionsProviderNotConfiguredError(
                f"provider {name!r} is used by this request but was not registered; call "
                f"configure_provider({name!r}, voicerun_managed=True) or configure_provider({name!r}, api_key=...) "
                "first (fallback providers too)"
            )
        credentials[name] = registration.to_wire()
    body = request_to_wire(decoded)
    body["credentials"] = credentials
    return {"url": f"{base}/v1/completions", "body": body}


async def _error_from(resp: aiohttp.ClientResponse) -> CompletionsProxyError:
    raw = await resp.read()
    try:
        data = loads(raw)
        error = data["error"]
        return CompletionsProxyError(str(error["message"]), str(error["type"]), resp.status)
    except (ValueError, KeyError, TypeError):
        text = raw.decode("utf-8", "replace").strip()[:500] or resp.reason or "no body"
        return CompletionsProxyError(f"the proxy answered HTTP {resp.status}: {text}", "proxy_error", resp.status)


async def _post(url: str, payload: bytes) -> tuple[aiohttp.ClientResponse, Optional[aiohttp.ClientSession]]:
    """POST, retrying once on a fresh connection if the transport fails before a response arrives."""
    try:
        return await _session().post(url, data=payload, headers=_headers()), None
    except aiohttp.ClientConnectionError as exc:
        logger.debug("completions request failed at the transport (%s); retrying on a fresh connection", exc)
    # A separate one-shot session: a fresh connection without disturbing other requests' pooled ones.
    fresh = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=_CONNECT_TIMEOUT),
        connector=aiohttp.TCPConnector(force_close=True),
    )
    try:
        return await fresh.post(url, data=payload, headers=_headers()), fresh
    except aiohttp.ClientConnectionError as exc:
        await fresh.close()
        raise CompletionsProxyError(
            f"cannot reach the completions proxy at {url}: {type(exc).__name__}: {exc}", "connection_error"
        ) from exc
    except BaseException:
        await fresh.close()
        raise


# --- the calls ---------------------------------------------------------------------------------


async def generate_chat_completion(request: ChatCompletionRequest | dict[str, Any]) -> ChatCompletionResponse:
    """Send a non-streaming request and return the whole response."""
    prepared = _prepare(request)
    payload = dumps({**prepared["body"], "stream": False})
    for attempt in range(2):
        resp, owned = await _post(prepared["url"], payload)
        try:
            if resp.status != 200:
                raise await _error_from(resp)
            raw = await resp.read()
        except aiohttp.ClientConnectionError as exc:
            # The connection broke while the answer was being read: one more try, then give up.
            if attempt == 0:
                continue
            raise CompletionsProxyError(f"the connection to the proxy broke: {exc}", "connection_error") from exc
        finally:
            resp.release()
            if owned is not None:
                await owned.close()
        try:
            return response_from_wire(loads(raw))
        except ValueError as exc:
            raise CompletionsProxyError(
                f"the proxy sent an unreadable response: {exc}", "invalid_response_error", 200
            ) from exc
    raise AssertionError("unreachable")


async def generate_chat_completion_stream(
    request: ChatCompletionRequest | dict[str, Any],
    stream_options: StreamOptions | dict[str, Any] | None = None,
) -> ChatCompletionStream:
    """Send a streaming request; iterate the result with ``async for`` to get chunks as they arrive.

    Connection failures are retried before the stream starts only. A mid-stream error is
    raised as :class:`CompletionsProxyError` from the ``async for``.
    """
    options_wire: Optional[dict[str, Any]] = None
    if stream_options is not None:
        if isinstance(stream_options, Mapping) and stream_options.get("stream_sentences") is not None:
            message = "stream_options.stream_sentences is deprecated; use chunk_by_sentence"
            logger.warning(message)
            warnings.warn(message, DeprecationWarning, stacklevel=2)
        options, _ = stream_options_from_wire(stream_options)
        options_wire = dataclasses.asdict(options)
    prepared = _prepare(request)
    payload = dumps({**prepared["body"], "stream": True, "stream_options": options_wire})
    resp, owned = await _post(prepared["url"], payload)
    if resp.status != 200:
        try:
            raise await _error_from(resp)
        finally:
            resp.release()
            if owned is not None:
                await owned.close()
    return ChatCompletionStream(resp, owned)


class ChatCompletionStream:
    """The chunks of one streamed answer. Iterate with ``async for``; ``aclose()`` stops early."""

    def __init__(self, response: aiohttp.ClientResponse, owned: Optional[aiohttp.ClientSession] = None) -> None:
        self._response = response
        self._owned = owned
        self._chunks = self._iterate()
        self.response: Optional[ChatCompletionResponse] = None

    def __aiter__(self) -> ChatCompletionStream:
        return self

    async def __anext__(self) -> ChatCompletionChunk:
        return await self._chunks.__anext__()

    async def __aenter__(self) -> ChatCompletionStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop reading and close the connection (the proxy then stops the provider call)."""
        await self._chunks.aclose()
        await self._release()

    async def _release(self) -> None:
        if not self._response.closed:
            self._response.close()
        if self._owned is not None:
            await self._owned.close()
            self._owned = None

    async def _iterate(self) -> AsyncGenerator[ChatCompletionChunk, None]:
        buffer = bytearray()
        finished = False
        try:
            try:
                async for data in self._response.content.iter_any():
                    buffer.extend(data)
                    start = 0
                    while True:
                        end = buffer.find(b"\n", start)
                        if end < 0:
                            break
                        line = bytes(buffer[start:end]).strip()
                        start = end + 1
                        if not line:
                            continue  # keep-alive
                        chunk = chunk_from_wire(loads(line))
                        if chunk is None:
                            continue  # a type this client does not know yet
                        if isinstance(chunk, ErrorChunk):
                            raise CompletionsProxyError(chunk.error, chunk.error_type)
                        if isinstance(chunk, FinalResponseChunk):
                            self.response = chunk.response
                            finished = True
                        yield chunk
                    del buffer[:start]
            except aiohttp.ClientError as exc:
                raise CompletionsProxyError(
                    f"the stream from the proxy broke: {type(exc).__name__}", "connection_error"
                ) from exc
            except ValueError as exc:
                raise CompletionsProxyError(
                    f"the proxy sent an unreadable line: {exc}", "invalid_response_error"
                ) from exc
            if not finished:
                raise CompletionsProxyError(
                    "the stream ended before the final response (the connection was cut)", "incomplete_stream_error"
                )
        finally:
            await self._release()


async def _reset_for_tests() -> None:
    """Forget configuration and registrations and close the session (test isolation only)."""
    await close()
    _state.proxy_url = None
    _state.proxy_token = None
    _state.providers.clear()
