"""Sending ``streamGenerateContent?alt=sse`` ourselves, and reading its body raw.

Per stream chunk, google-genai parses the SSE lines with its own reader, converts the JSON to its
snake_case form, validates a ``GenerateContentResponse`` with pydantic and runs its retry wrapper:
most of the proxy's CPU per Gemini stream (bench/README.md). Here the request of plain text turns
is built straight from the request (:func:`stream_call`, held to the general path byte for byte by
``tests/test_stream_call.py``); any other from the same ``types`` objects
:func:`~completions_google.request.build_request` makes, dumped as the SDK
sends them (camelCase, bytes as URL-safe base64, ``thinkingConfig`` and ``responseSchema`` with
the SDK's field names; JSON encoded compact), sent through the ``httpx2`` client the adapter
handed to the SDK (its pool, its TLS), and the body split by core's
:class:`~completions_core.sse.SSEPayloads` into JSON chunks that
:class:`~completions_google.response.StreamTranslator` turns into events. Failures raise
google-genai's public error types (``APIError.raise_for_async_response``, ``APIError.raise_error``
for an error chunk), so that they map exactly as through the SDK. ``tests/test_sending.py``
compares this request with the SDK's own, on the wire.
"""

from __future__ import annotations

import copy
import functools
import math
import platform
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, Optional
from urllib.parse import quote

from completions_core.jsonutil import dumps, loads
from completions_core.prepared import AiohttpBody
from completions_core.request import ProviderRequest
from completions_core.types import AssistantMessage, SystemMessage, UserMessage

from .client import API_VERSION, DEFAULT_TIMEOUT
from .request import build_request, check_model

if TYPE_CHECKING:
    import httpx2

    from .client import GoogleClient
    from .request import GeminiCall

__all__ = ["StreamBody", "StreamCall", "error_chunk", "open_stream", "request_body", "stream_call", "stream_request"]


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def request_body(call: GeminiCall) -> dict[str, Any]:
    """The JSON body google-genai sends for ``call`` (the fields build_request sets)."""
    config = call.config
    body: dict[str, Any] = {"contents": [_dump(content) for content in call.contents]}
    if config.system_instruction is not None:
        body["systemInstruction"] = _dump(config.system_instruction)
    generation: dict[str, Any] = {}
    if config.temperature is not None:
        generation["temperature"] = config.temperature
    if config.max_output_tokens is not None:
        generation["maxOutputTokens"] = config.max_output_tokens
    if config.response_mime_type is not None:
        generation["responseMimeType"] = config.response_mime_type
    if config.response_schema is not None:
        generation["responseSchema"] = _response_schema(config.response_schema)
    if config.thinking_config is not None:
        # As the SDK sends it: the field names as given (snake_case), which Gemini accepts too.
        generation["thinkingConfig"] = config.thinking_config.model_dump(mode="json", exclude_none=True)
    body["generationConfig"] = generation
    if config.tools:
        body["tools"] = [_dump(tool) for tool in config.tools]
    if config.tool_config is not None:
        body["toolConfig"] = _dump(config.tool_config)
    return body


@dataclass
class StreamCall:
    """One stream request as it is sent: the model's URL segment, the JSON body, the timeout (s)."""

    model: str
    body: dict[str, Any]
    seconds: float


def stream_call(request: ProviderRequest) -> StreamCall:
    """``request``'s stream call: the body :func:`request_body` gives for :func:`build_request`'s
    call, built straight from the request when it is plain text (no SDK object per request, see
    bench/README.md "Gemini's stream path against OpenAI's"; a differential test holds the two
    to the same bytes), else through them."""
    plain = _plain_call(request)
    if plain is not None:
        return plain
    call = build_request(request)
    return StreamCall(call.model, request_body(call), _seconds(call))


_NUMBER = (int, float)
# Integers a float holds exactly (a larger temperature goes the general way, pydantic's).
_EXACT = 2**53


def _plain_call(request: ProviderRequest) -> Optional[StreamCall]:
    """The call of a request of text turns only (system, user, assistant text), no tools, schema
    or Google options, as build_request and request_body make it; None for any other request."""
    choice = request.tool_choice
    if (
        request.tools
        or request.response_schema is not None
        or request.provider_kwargs.get("google")
        or not (choice is None or (type(choice) is str and choice in ("none", "auto")))
    ):
        return None
    temperature = request.temperature
    if temperature is not None and not (
        type(temperature) is float or (type(temperature) is int and -_EXACT <= temperature <= _EXACT)
    ):
        return None
    max_tokens = request.max_tokens
    if max_tokens is not None and type(max_tokens) is not int:
        return None
    timeout = request.timeout
    if timeout is not None and type(timeout) not in _NUMBER:
        return None
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    for message in request.messages:
        kind = type(message)
        if kind is UserMessage:
            role = "user"
        elif kind is AssistantMessage:
            if message.tool_calls or message.thought_signature is not None:  # type: ignore[union-attr]
                return None
            role = "model"
        elif kind is SystemMessage:
            if type(message.content) is not str:
                return None
            system.append(message.content)
            continue
        else:
            return None
        text = message.content
        if type(text) is not str:
            if kind is AssistantMessage and text is None:
                continue
            return None
        if not text and kind is AssistantMessage:
            continue
        last = contents[-1] if contents else None
        if last is not None and last["role"] == role:
            last["parts"].append({"text": text})
        else:
            contents.append({"parts": [{"text": text}], "role": role})
    if not contents:
        return None
    check_model(request.model)
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}], "role": "user"}
    generation: dict[str, Any] = {}
    if temperature is not None:
        generation["temperature"] = float(temperature)
    if max_tokens is not None:
        generation["maxOutputTokens"] = max_tokens
    body["generationConfig"] = generation
    millis = max(1, math.ceil(timeout * 1000)) if timeout is not None else DEFAULT_TIMEOUT * 1000
    return StreamCall(quote(request.model, safe=""), body, float(millis) / 1000.0)


def _response_schema(schema: Any) -> Any:
    """The schema as the SDK sends it: through its own schema transformer (null branches made
    ``nullable``, ``property_ordering`` added, types upper case), dumped with its field names
    (snake_case, as the recorded ``structured_output_response_schema`` request shows).

    ``t_schema`` is google-genai's internal transformer: no public call gives this JSON, and
    writing it again would copy it. Without a client it skips one check, the refusal of
    ``additionalProperties`` on the Gemini API, which core's "openapi" sanitizer has already
    taken out of every schema build_request makes."""
    from google.genai import _transformers

    converted = _transformers.t_schema(None, copy.deepcopy(schema))
    return converted.model_dump(mode="json", exclude_none=True) if converted is not None else None


def _seconds(call: GeminiCall) -> float:
    options = call.config.http_options
    millis = options.timeout if options is not None and options.timeout is not None else DEFAULT_TIMEOUT * 1000
    return float(millis) / 1000.0


@functools.cache
def _user_agent() -> str:
    from google.genai.version import __version__

    return f"google-genai-sdk/{__version__} gl-python/{platform.python_version()}"


def _headers(client: GoogleClient, seconds: float) -> dict[str, str]:
    """The headers google-genai sends (the transport adds its own: host, accept, length...); all
    but the timeout made once per client."""
    head = client.stream_head
    if head is None:
        agent = _user_agent()
        head = client.stream_head = {
            "Content-Type": "application/json",
            "x-goog-api-key": client.api_key.reveal(),
            "user-agent": agent,
            "x-goog-api-client": agent,
        }
    headers = head.copy()
    headers["X-Server-Timeout"] = str(math.ceil(seconds))
    return headers


def _url(client: GoogleClient, model: str) -> str:
    return f"{client.base_url}/{API_VERSION}/models/{model}:streamGenerateContent?alt=sse"


def stream_request(client: GoogleClient, call: GeminiCall | StreamCall) -> httpx2.Request:
    """The HTTP request google-genai would send for ``call``'s stream, on ``client``'s httpx2 pool."""
    if not isinstance(call, StreamCall):
        call = StreamCall(call.model, request_body(call), _seconds(call))
    seconds = call.seconds
    return client.http.build_request(
        "POST", _url(client, call.model), content=dumps(call.body), headers=_headers(client, seconds), timeout=seconds
    )


def _never() -> bool:
    return False


class StreamBody:
    """An open stream's response: :meth:`read` the body's next bytes (``b""`` at its end), then
    :meth:`aclose` (which drops the connection when the body was not read to its end).
    ``quick_close()`` is true when ``aclose`` would not wait now (the body read to its end, on
    aiohttp: the connection only goes back to the pool)."""

    def __init__(
        self,
        response: Any,
        read: Callable[[], Awaitable[bytes]],
        close: Callable[[], Awaitable[None]],
        quick_close: Callable[[], bool] = _never,
    ) -> None:
        #: The transport's response (its headers give a retry delay to an error chunk).
        self.response = response
        self.read = read
        self.aclose = close
        self.quick_close = quick_close


async def open_stream(client: GoogleClient, call: StreamCall) -> StreamBody:
    """Send ``call``'s stream request on the client's transport (aiohttp unless the client was
    built with ``COMPLETIONS_GOOGLE_TRANSPORT=httpx2`` or a mock transport); its body, unread.
    A failed status raises google-genai's ``APIError`` (the body read and the response closed),
    made from the status and body as the SDK makes it."""
    session = client.aiohttp_session()
    if session is None:
        return await _open_httpx2(client, call)
    return await _open_aiohttp(client, session, call)


async def _open_httpx2(client: GoogleClient, call: StreamCall) -> StreamBody:
    response = await client.http.send(stream_request(client, call), stream=True)
    if response.status_code != 200:
        try:
            body = await response.aread()
        finally:
            await response.aclose()
        _raise_status(response.status_code, body, response.reason_phrase, response)
    chunks = response.aiter_bytes()

    async def read() -> bytes:
        try:
            return await anext(chunks)
        except StopAsyncIteration:
            return b""

    return StreamBody(response, read, response.aclose)


async def _open_aiohttp(client: GoogleClient, session: Any, call: StreamCall) -> StreamBody:
    seconds = call.seconds
    response = await session.post(
        _url(client, call.model),
        data=dumps(call.body),
        headers=_headers(client, seconds),
        timeout=_timeout(client, seconds),
        allow_redirects=False,
    )
    if response.status != 200:
        try:
            body = await response.read()
        finally:
            response.release()
        _raise_status(response.status, body, response.reason or "", response)
    content = response.content

    async def close() -> None:
        # Read to its end: the connection goes back to the pool; otherwise it is dropped, so the
        # upstream sees the client go away now.
        if content.at_eof():
            response.release()
        else:
            response.close()

    body = AiohttpBody(response, close)
    return StreamBody(response, body.read, body.aclose, content.at_eof)


def _timeout(client: GoogleClient, seconds: float) -> Any:
    """The SDK's httpx2 timeout (one figure for connecting and for each read), not aiohttp's
    total: a stream that keeps sending is never cut; ``sock_read`` is also the longest a read of
    the body waits (core's AiohttpBody takes it over from aiohttp's timer at its first read). The
    default's is made once per client; a request's own timeout gets its own (never cached: the
    caller chooses it)."""
    import aiohttp

    if seconds == DEFAULT_TIMEOUT:
        timeout = client.stream_timeout
        if timeout is None:
            timeout = client.stream_timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=seconds, sock_read=seconds
            )
        return timeout
    return aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)


def _raise_status(status: int, body: bytes, reason: str, response: Any) -> NoReturn:
    from google.genai import errors

    text = body.decode("utf-8", "replace")
    try:
        payload = loads(body)
    except ValueError:
        # As google-genai's httpx2 path: the text and the reason phrase.
        payload = {"message": text, "status": reason}
    errors.APIError.raise_error(status, payload, response)
    # Not reached: raise_error raises for every status.
    raise errors.APIError(status, payload, response)


def error_chunk(chunk: dict[str, Any], response: Optional[Any]) -> None:
    """Raise google-genai's error for an ``{"error": {...}}`` chunk in the stream."""
    from google.genai import errors

    error = chunk.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    errors.APIError.raise_error(code if isinstance(code, int) else 0, chunk, response)
