"""Sending ``streamGenerateContent?alt=sse`` ourselves, and reading its body raw.

Per stream chunk, google-genai parses the SSE lines with its own reader, converts the JSON to its
snake_case form, validates a ``GenerateContentResponse`` with pydantic and runs its retry wrapper:
most of the proxy's CPU per Gemini stream (bench/README.md). Here the request is built from the
same ``types`` objects :func:`~completions_google.request.build_request` makes, dumped as the SDK
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
import math
import platform
from typing import TYPE_CHECKING, Any, NoReturn, Optional

from completions_core.jsonutil import dumps

from .client import API_VERSION, DEFAULT_TIMEOUT

if TYPE_CHECKING:
    import httpx2

    from .client import GoogleClient
    from .request import GeminiCall

__all__ = ["open_stream", "request_body", "stream_request"]


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


def _user_agent() -> str:
    from google.genai.version import __version__

    return f"google-genai-sdk/{__version__} gl-python/{platform.python_version()}"


def stream_request(client: GoogleClient, call: GeminiCall) -> httpx2.Request:
    """The HTTP request google-genai would send for ``call``'s stream, on ``client``'s pool."""
    seconds = _seconds(call)
    agent = _user_agent()
    headers = {
        "Content-Type": "application/json",
        "x-goog-api-key": client.api_key.reveal(),
        "user-agent": agent,
        "x-goog-api-client": agent,
        "X-Server-Timeout": str(math.ceil(seconds)),
    }
    url = f"{client.base_url}/{API_VERSION}/models/{call.model}:streamGenerateContent?alt=sse"
    return client.http.build_request("POST", url, content=dumps(request_body(call)), headers=headers, timeout=seconds)


async def open_stream(client: GoogleClient, call: GeminiCall) -> httpx2.Response:
    """Send ``call``'s stream request; the response, its body unread. A failed status raises
    google-genai's ``APIError`` (the body read and the response closed)."""
    from google.genai import errors

    response = await client.http.send(stream_request(client, call), stream=True)
    if response.status_code == 200:
        return response
    try:
        await errors.APIError.raise_for_async_response(response)
    finally:
        await response.aclose()
    # Not reached: the SDK raises for every status but 200.
    _unexpected(response)


def _unexpected(response: Any) -> NoReturn:
    from google.genai import errors

    raise errors.APIError(response.status_code, {"message": f"unexpected HTTP status {response.status_code}"}, response)


def error_chunk(chunk: dict[str, Any], response: Optional[Any]) -> None:
    """Raise google-genai's error for an ``{"error": {...}}`` chunk in the stream."""
    from google.genai import errors

    error = chunk.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    errors.APIError.raise_error(code if isinstance(code, int) else 0, chunk, response)
