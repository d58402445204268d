"""The Gemini adapter: "how to talk" (request.py, response.py) wired to "who to talk to" (client.py)."""


from __future__ import annotations

import os
from collections.abc import AsyncIterator, Hashable, Mapping
from typing import Any, Optional

import anyio

from completions_core.adapter import Completion, Credential, ProviderAdapter, StreamEvent
from completions_core.errors import ProviderError
from completions_core.jsonutil import loads
from completions_core.redaction import Secret
from completions_core.request import ProviderRequest
from completions_core.sse import SSEPayloads
from completions_core.types import UserMessage
from completions_core.usage import NormalizedUsage

from .client import DEFAULT_BASE_URL, ClientConfig, GoogleClient, build_client
from .errors import PROVIDER, map_error, unreadable
from .request import MODEL_PATTERN, MODEL_RULE, OPTION_KEYS, build_request, check_model
from .response import StreamTranslator, completion_from, normalize_usage
from .sending import error_chunk, open_stream, stream_call

__all__ = ["BASE_URL_ENV", "PREPARED_MODULES", "GoogleAdapter", "GoogleClient"]

#: Environment variable an operator sets to send Gemini traffic elsewhere (a gateway, a test server).
BASE_URL_ENV = "COMPLETIONS_GOOGLE_BASE_URL"
#: What :meth:`GoogleAdapter.prepare` imports: everything a first request would import otherwise.
PREPARED_MODULES: tuple[str, ...] = (
    "httpx2",
    "google.genai",
    "google.genai.types",
    "google.genai.errors",
    "google.genai.models",
)
# Seconds a stream's cleanup may take before it is abandoned.
_CLOSE_TIMEOUT = 5.0


class GoogleAdapter(ProviderAdapter):
    """Gemini through ``google.genai``'s async client (``client.aio.models``)."""

    name = "google"
    aliases = ("gemini",)
    keeps_thought_signatures = True
    sdk_loggers = ("google", "google_genai")
    managed_key_env = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    #: google-genai puts the model into the URL path (``models/{model}:generateContent``) and
    #: passes ``models/...`` and ``tunedModels/...`` through as they are: only a bare model id.
    model_pattern = MODEL_PATTERN
    model_rule = MODEL_RULE
    option_keys = OPTION_KEYS

    def __init__(self, base_url: Optional[str] = None) -> None:
        self.base_url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")

    def normalize_usage(self, usage: Optional[Mapping[str, Any]]) -> NormalizedUsage:
        """Thinking counted as output, tool-use prompts as input."""
        return normalize_usage(usage)

    def client_config(self, request: ProviderRequest, credential: Credential) -> Hashable:
        """One client per key (the endpoint is operator configuration, fixed per adapter)."""
        check_model(request.model)
        if credential.api_key is None or not credential.api_key:
            raise ProviderError("no Gemini API key", "authentication_error", provider=PROVIDER, retryable=False)
        raw = credential.api_key.reveal()
        if not raw.isascii() or not raw.isprintable():
            # It could not travel in the x-goog-api-key header: the transport would fail with the
            # raw key in its error (CR/LF, NUL) or not encode it at all (non-ASCII). Never echoed.
            raise ProviderError(
                "the Gemini API key holds a control or non-ASCII character (CR, LF, NUL, é...), which no HTTP "
                "header can carry; register the key again as Google shows it",
                "authentication_error",
                provider=PROVIDER,
                retryable=False,
            )
        return ClientConfig(base_url=self.base_url, api_key=credential.api_key)

    def create_client(self, config: Any) -> GoogleClient:
        """A google-genai client on its own httpx2 pool, SDK retries off."""
        if not isinstance(config, ClientConfig):
            raise TypeError(f"expected a ClientConfig from client_config(), got {type(config).__name__}")
        return build_client(config)

    def prepare(self) -> None:
        """Import google-genai and httpx2, build (and close) one client with a placeholder key, and
        rehearse one request and one stream on a mock transport; off the loop.

        Run at start-up in a worker thread, so the proxy's event loop never waits on these imports.
        """
        import asyncio
        import importlib

        for name in PREPARED_MODULES:
            importlib.import_module(name)

        import json

        import httpx2

        candidate = {"content": {"parts": [{"text": "ok"}], "role": "model"}, "finishReason": "STOP"}
        body = {"candidates": [candidate], "usageMetadata": {"promptTokenCount": 1, "totalTokenCount": 2}}

        def answer(request: Any) -> Any:
            # One request and one stream through the real SDK on a mock transport: nothing is sent.
            if request.url.path.endswith(":streamGenerateContent"):
                text = f"data: {json.dumps(body)}\r\n\r\n"
                return httpx2.Response(200, text=text, headers={"content-type": "text/event-stream"})
            return httpx2.Response(200, json=body)

        async def rehearse() -> None:
            config = ClientConfig(base_url=self.base_url, api_key=Secret("prepare-only-placeholder"))
            await self.close_client(self.create_client(config))
            client = build_client(config, httpx2.MockTransport(answer))
            request = ProviderRequest(provider=self.name, model="gemini-2.5-flash", messages=(UserMessage("hi"),))
            try:
                await self.complete(client, request)
                async for _ in self.stream(client, request):
                    pass
            finally:
                await self.close_client(client)

        asyncio.run(rehearse())

    async def close_client(self, client: Any) -> None:
        """Close the SDK client (async and sync sides) and its connection pool."""
        await client.aclose()

    async def complete(self, client: GoogleClient, request: ProviderRequest) -> Completion:
        """``generate_content``: the whole answer at once."""
        call = build_request(request)
        try:
            response = await client.genai.aio.models.generate_content(
                model=call.model, contents=call.contents, config=call.config
            )
        except Exception as exc:  # noqa: BLE001 - mapped, or re-raised as is when unknown
            raise _mapped(exc, client) from None
        try:
            return completion_from(response)
        except ProviderError as exc:
            raise _mapped(exc, client) from None
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            # JSON that is not a GenerateContentResponse (google-genai does not validate it).
            raise unreadable(exc) from None

    async def stream(self, client: GoogleClient, request: ProviderRequest) -> AsyncIterator[StreamEvent]:
        """``streamGenerateContent?alt=sse`` sent on the client's pool and read raw (sending.py):
        events as Gemini's chunks arrive, the HTTP response closed on exit."""
        call = stream_call(request)
        reader = StreamTranslator()
        lines = GeminiPayloads()
        try:
            response = await open_stream(client, call)
        except Exception as exc:  # noqa: BLE001 - mapped, or re-raised as is when unknown
            raise _mapped(exc, client) from None
        try:
            read = response.read
            while True:
                try:
                    data = await read()
                except Exception as exc:  # noqa: BLE001 - mapped, or re-raised as is when unknown
                    raise _mapped(exc, client) from None
                if data:
                    payloads = lines.feed(data)
                else:
                    payloads = lines.end()
                    if not payloads:
                        break
                for payload in payloads:
                    try:
                        chunk = loads(payload)
                    except ValueError:
                        raise ProviderError(
                            "Gemini sent a stream chunk that is not valid JSON",
                            "invalid_response_error",
                            provider=PROVIDER,
                        ) from None
                    if not isinstance(chunk, dict):
                        raise unreadable(TypeError(type(chunk).__name__))
                    try:
                        if "error" in chunk:
                            error_chunk(chunk, response.response)
                        events = reader.feed(chunk)
                    except Exception as exc:  # noqa: BLE001 - mapped, or re-raised as is when unknown
                        raise _mapped(exc, client) from None
                    for event in events:
                        yield event
        finally:
            if response.quick_close():
                # Nothing to wait for (the body read to its end on aiohttp): no cancel scope.
                await _close(response)
            else:
                # Shielded (and bounded): a cancelled caller must still release the connection.
                # Closing an httpx2 response whose body was not read to the end drops the
                # connection, so the upstream sees the client go away now.
                with anyio.move_on_after(_CLOSE_TIMEOUT, shield=True):
                    await _close(response)
        for event in reader.finish():
            yield event


_DONE = b"[DONE]"


class GeminiPayloads:
    """Core's SSE splitter, for Gemini's framing: each event one ``data:`` line ended by CRLF CRLF,
    for which the splitter makes two copies of every read. A read of whole events of that form
    (nothing held from the last read) is split on CRLF CRLF at once; any other goes to the
    splitter, its CRLF CRLF turned into LF LF first (one copy instead of two). The payloads are
    the splitter's (only runs of line breaks change length, and a blank line is a separator: a
    differential test holds it to the splitter fed the bytes as they came)."""

    __slots__ = ("_clean", "_lines")

    def __init__(self) -> None:
        self._lines = SSEPayloads(PROVIDER)
        #: Nothing held in the splitter: the last read it was fed ended with a line break.
        self._clean = True

    def feed(self, data: bytes) -> list[bytes]:
        """The payloads of every line ``data`` completes, in order."""
        if self._clean and data.endswith(b"\r\n\r\n"):
            events = data.count(b"\r\n\r\n")
            if data.count(b"\n") == 2 * events and data.count(b"\r") == 2 * events:
                # Every line break is in a separator: the pieces are the lines, whole.
                payloads = []
                for line in data.split(b"\r\n\r\n"):
                    if line.startswith(b"data:"):
                        payload = line[5:].strip()
                        if payload and payload != _DONE:
                            payloads.append(payload)
                return payloads
        self._clean = data.endswith((b"\n", b"\r"))
        return self._lines.feed(data.replace(b"\r\n\r\n", b"\n\n"))

    def end(self) -> list[bytes]:
        """The payload of an unterminated last line, if it has one."""
        return self._lines.end()


def _mapped(exc: Exception, client: GoogleClient) -> Exception:
    mapped = map_error(exc, client.api_key)
    return mapped if mapped is not None else exc


async def _close(chunks: Any) -> None:
    close = getattr(chunks, "aclose", None)
    if close is None:
        return
    try:
        await close()
    except Exception:  # noqa: BLE001 - the stream is being abandoned; its close must not mask why
        pass
