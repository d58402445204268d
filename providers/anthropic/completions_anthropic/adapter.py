"""The Anthropic adapter: the Messages API through ``anthropic.AsyncAnthropic``."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn, Optional

from completions_core.adapter import Completion, Credential, ProviderAdapter, StreamEvent, http_transport
from completions_core.errors import InvalidRequestError, ProviderError
from completions_core.jsonutil import loads
from completions_core.redaction import Secret, fingerprint, scrub_error
from completions_core.request import ProviderRequest
from completions_core.sse import SSEPayloads
from completions_core.tls import shared_ssl_context
from completions_core.types import UserMessage
from completions_core.usage import NormalizedUsage

from .errors import map_error
from .request import DEFAULT_MAX_TOKENS, Plan, build_request, model_family
from .response import StreamTranslator, completion_from_message, normalize_usage
from .sending import prepared_post, remember

__all__ = [
    "PREPARED_MODULES",
    "ANTHROPIC_BASE_URL",
    "AnthropicAdapter",
    "AnthropicClientConfig",
    "CLIENT_TIMEOUT",
    "NATIVE_STRUCTURED_OUTPUT_MODELS",
]

#: The official endpoint, used unless the operator sets ``COMPLETIONS_ANTHROPIC_BASE_URL``.
ANTHROPIC_BASE_URL = "https://api.anthropic.com"
#: (total, connect) seconds for calls without ``request.timeout``. It must differ from the SDK's
#: default ``Timeout(600, connect=5)``: with the default, the SDK refuses non-streaming calls
#: whose ``max_tokens`` might take longer than ten minutes, before sending anything.
CLIENT_TIMEOUT = (600.0, 10.0)
#: Model families with Anthropic's native structured output (``output_config.format``), generally
#: available on the Claude API; every other model gets the forced-tool fallback.
NATIVE_STRUCTURED_OUTPUT_MODELS: tuple[str, ...] = (
    "claude-haiku-4-5",
    "claude-sonnet-4-5",
    "claude-sonnet-4-6",
    "claude-opus-4-5",
    "claude-opus-4-6",
    "claude-opus-4-7",
)


@dataclass(frozen=True)
class AnthropicClientConfig:
    """Who to talk to: the endpoint and the key (masked in every repr)."""

    base_url: str
    api_key: Secret

    def __repr__(self) -> str:
        return f"AnthropicClientConfig(base_url={self.base_url!r}, key={fingerprint(self.api_key)})"


def _timeout(seconds: Optional[float]) -> Any:
    import httpx2

    if seconds is None:
        return httpx2.Timeout(CLIENT_TIMEOUT[0], connect=CLIENT_TIMEOUT[1])
    return httpx2.Timeout(seconds)


#: What :meth:`AnthropicAdapter.prepare` imports: everything a first request would import otherwise.
PREPARED_MODULES: tuple[str, ...] = (
    "httpx2",
    "anthropic",
    "anthropic.types",
    "anthropic.resources.messages",
    "anthropic.resources.models",
)
# Imported by the SDK on its first request when OpenTelemetry is installed (trace propagation).
_OPTIONAL_MODULES = ("opentelemetry.propagate",)


def prepare(adapter: ProviderAdapter, modules: tuple[str, ...], config: Any) -> None:
    """Import ``modules``, then build one client for ``config`` and close it in a loop of this thread.

    An adapter's :meth:`~ProviderAdapter.prepare`, run at start-up in a worker thread: what the SDK
    imports or computes on first use happens here instead of on the proxy's event loop. Nothing is sent.
    """
    import asyncio
    import importlib

    for name in modules:
        importlib.import_module(name)
    for name in _OPTIONAL_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass

    async def build_and_close() -> None:
        await adapter.close_client(adapter.create_client(config))

    asyncio.run(build_and_close())


# prepare()'s rehearsal: one answer and one stream, served by a mock transport (nothing is sent).
_REHEARSAL_MESSAGE = {
    "id": "msg_prepare", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
    "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn", "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 1},
}  # fmt: skip
_REHEARSAL_EVENTS = (
    ("message_start", {"type": "message_start", "message": {**_REHEARSAL_MESSAGE, "content": [], "stop_reason": None}}),
    ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                       "usage": {"output_tokens": 1}}),
    ("message_stop", {"type": "message_stop"}),
)  # fmt: skip


def rehearse(adapter: Any, make_client: Any) -> None:
    """Run one non-streaming and one streaming request through ``adapter`` and the real SDK, on a
    client ``make_client(http)`` whose transport is a mock: the SDK's first-use work (request
    building, response models, type checks) happens at start-up. Nothing is sent."""
    import asyncio
    import json

    import httpx2

    def answer(request: Any) -> Any:
        if json.loads(request.content).get("stream"):
            text = "".join(f"event: {kind}\ndata: {json.dumps(data)}\n\n" for kind, data in _REHEARSAL_EVENTS)
            return httpx2.Response(200, text=text, headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json=_REHEARSAL_MESSAGE)

    async def run() -> None:
        client = make_client(httpx2.AsyncClient(transport=httpx2.MockTransport(answer)))
        request = ProviderRequest(provider=adapter.name, model="claude-haiku-4-5", messages=(UserMessage("hi"),))
        try:
            await adapter.complete(client, request)
            async for _ in adapter.stream(client, request):
                pass
        finally:
            await adapter.close_client(client)

    asyncio.run(run())


def http_client() -> Any:
    """The SDK's aiohttp transport (COMPLETIONS_ANTHROPIC_TRANSPORT=httpx2 for httpx2), redirects never followed.

    aiohttp's pool does not probe every idle connection on each request as httpx2's does
    (measured for the OpenAI plugin in bench/README.md).
    """
    import anthropic

    # One shared TLS context: building one per client loads the CA bundle on the event loop.
    if http_transport("COMPLETIONS_ANTHROPIC_TRANSPORT") == "httpx2":
        return anthropic.DefaultAsyncHttpxClient(
            follow_redirects=False, timeout=_timeout(None), verify=shared_ssl_context()
        )
    return anthropic.DefaultAioHttpClient(follow_redirects=False, timeout=_timeout(None), verify=shared_ssl_context())


class AnthropicAdapter(ProviderAdapter):
    """Claude through Anthropic's Messages API (see the plugin README for the mapping)."""

    name: ClassVar[str] = "anthropic"
    aliases: ClassVar[tuple[str, ...]] = ("claude",)
    sdk_loggers: ClassVar[tuple[str, ...]] = ("anthropic",)
    managed_key_env: ClassVar[tuple[str, ...]] = ("ANTHROPIC_API_KEY",)
    #: Keys accepted under ``provider_kwargs[<name>]``.
    option_keys: ClassVar[frozenset[str]] = frozenset({"thinking"})
    #: Model families that use native structured output instead of the forced tool.
    native_structured_output_models: tuple[str, ...] = NATIVE_STRUCTURED_OUTPUT_MODELS
    #: The model names this provider accepts, and the rule a refused name is told.
    model_pattern: ClassVar[re.Pattern[str]] = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
    model_rule: ClassVar[str] = "1-128 letters, digits and . _ - : @ starting with a letter or digit"

    def __init__(self, base_url: Optional[str] = None, *, default_max_tokens: int = DEFAULT_MAX_TOKENS) -> None:
        """Operator settings: the endpoint (else ``COMPLETIONS_ANTHROPIC_BASE_URL``, else Anthropic's)
        and the ``max_tokens`` sent when a request sets none."""
        self.base_url = (base_url or os.environ.get("COMPLETIONS_ANTHROPIC_BASE_URL") or ANTHROPIC_BASE_URL).rstrip("/")
        self.default_max_tokens = default_max_tokens

    # -- who to talk to ----------------------------------------------------------------------

    def check_model(self, model: str) -> None:
        """Refuse a model name outside :attr:`model_pattern` (a 400 naming the rule, the name not echoed)."""
        if not isinstance(model, str) or not self.model_pattern.fullmatch(model):
            raise InvalidRequestError(f"is not a {self.name} model name: use {self.model_rule}", "model")

    def normalize_usage(self, usage: Optional[Mapping[str, Any]]) -> NormalizedUsage:
        """Cache writes and reads added back into the input."""
        return normalize_usage(usage)

    def client_config(self, request: ProviderRequest, credential: Credential) -> Hashable:
        """The endpoint plus the key: equal keys share one warm client (the model name checked first)."""
        self.check_model(request.model)
        if credential.api_key is None:
            raise ProviderError("no Anthropic API key was resolved", "authentication_error", provider=self.name)
        return AnthropicClientConfig(self.base_url, credential.api_key)

    def create_client(self, config: Any) -> Any:
        """An ``AsyncAnthropic`` with SDK retries off and an explicit timeout."""
        import anthropic

        assert isinstance(config, AnthropicClientConfig)
        http = http_client()
        client = anthropic.AsyncAnthropic(
            api_key=config.api_key.reveal(),
            base_url=config.base_url,
            max_retries=0,
            timeout=_timeout(None),
            http_client=http,
        )
        # What every stream of this client sends the same, prepared once (see .sending).
        remember(client, http)
        return client

    def prepare(self) -> None:
        """Import the SDK, build (and close) one client with a placeholder key, and rehearse one
        request and one stream on a mock transport; at start-up, off the event loop."""
        prepare(self, PREPARED_MODULES, AnthropicClientConfig(self.base_url, Secret("prepare-only-placeholder")))
        rehearse(self, self.rehearsal_client)

    def rehearsal_client(self, http: Any) -> Any:
        """A client on ``http`` (a mock transport) for :meth:`prepare`'s rehearsal."""
        import anthropic

        return anthropic.AsyncAnthropic(
            api_key="prepare-only-placeholder", base_url="http://prepare.invalid", max_retries=0, http_client=http
        )

    async def warm(self, client: Any) -> None:
        """Open the connection (TCP and TLS) ahead of the first request: a one-model listing."""
        try:
            await client.with_options(timeout=5.0).models.list(limit=1)
        except Exception:  # noqa: BLE001 - warming is best effort; the real call reports
            pass

    # -- hooks a variant (Vertex) overrides -----------------------------------------------------

    def supports_native_structured_output(self, model: str) -> bool:
        """Whether ``model`` takes ``output_config.format`` (else the forced tool is used)."""
        family = model_family(model)
        return any(family == name or family.startswith(name + "-") for name in self.native_structured_output_models)

    def extra_body(self, plan: Plan) -> dict[str, Any]:
        """Fields sent through ``extra_body`` (temperature; Vertex adds its API version)."""
        return dict(plan.extra_body)

    async def messages_api(self, client: Any) -> Any:
        """The SDK's ``messages`` resource for ``client`` (Vertex refreshes its token first)."""
        return client.messages

    def map_error(self, exc: BaseException) -> Optional[ProviderError]:
        """The ProviderError for an SDK failure, or None when ``exc`` is not one."""
        return map_error(exc, self.name)

    def client_secrets(self, client: Any) -> list[Optional[str]]:
        """The credentials ``client`` sends: masked in every error text (Vertex adds its token)."""
        key = getattr(client, "api_key", None)
        return [key if isinstance(key, str) else None]

    # -- how to talk ------------------------------------------------------------------------------

    def build_request(self, request: ProviderRequest) -> Plan:
        """Map ``request`` onto Messages API parameters (raises before anything is sent)."""
        # Native structured output only matters to tools (strict) and a response schema: most
        # requests of a voice agent's turn skip the model lookup.
        native = bool(request.tools or request.response_schema is not None) and self.supports_native_structured_output(
            request.model
        )
        return build_request(
            request,
            provider=self.name,
            allowed_options=self.option_keys,
            native_structured_output=native,
            default_max_tokens=self.default_max_tokens,
        )

    def _call_options(self, plan: Plan, request: ProviderRequest) -> dict[str, Any]:
        options: dict[str, Any] = {"timeout": _timeout(request.timeout)}
        extra = self.extra_body(plan)
        if extra:
            options["extra_body"] = extra
        return options

    def _raise(self, exc: Exception, client: Any) -> NoReturn:
        error = exc if isinstance(exc, ProviderError) else self.map_error(exc)
        if error is None:
            raise exc
        # Upstream text may repeat the request's headers: no credential leaves the adapter.
        scrub_error(error, self.client_secrets(client))
        if error is exc:
            raise error
        # Not chained: the SDK error holds the request, and its headers hold the key.
        raise error from None

    def _read(self, message: Any, plan: Plan) -> Completion:
        """The Completion for a non-streaming answer; anything unreadable is ``invalid_response_error``."""
        import anthropic

        if not isinstance(message, anthropic.types.Message):
            # The SDK hands back raw text for a 200 that is not JSON (an HTML error page).
            kind = "text" if isinstance(message, str) else type(message).__name__
            raise ProviderError(
                f"{self.name} answered with {kind} instead of a message", "invalid_response_error", provider=self.name
            )
        try:
            return completion_from_message(message, plan, self.name)
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            # JSON of the wrong shape: the SDK builds its models without validating them.
            raise ProviderError(
                f"{self.name} sent a message that could not be read ({type(exc).__name__})",
                "invalid_response_error",
                provider=self.name,
            ) from None

    async def complete(self, client: Any, request: ProviderRequest) -> Completion:
        """One ``messages.create`` call, mapped back to a Completion."""
        plan = self.build_request(request)
        try:
            messages = await self.messages_api(client)
            message = await messages.create(**plan.params, **self._call_options(plan, request))
            return self._read(message, plan)
        except Exception as exc:  # noqa: BLE001 - map_error re-raises what it does not know
            self._raise(exc, client)

    async def _sdk_stream(
        self, client: Any, plan: Plan, request: ProviderRequest
    ) -> tuple[AsyncIterator[bytes], Callable[[], Awaitable[None]]]:
        """The raw bytes of a streaming call the SDK sends (a client without a prepared post), and
        the close of its response. The SDK's ``with_streaming_response`` context is entered by
        hand: its exit does nothing but close the response, which the caller does."""
        messages = await self.messages_api(client)
        options = self._call_options(plan, request)
        call = messages.with_streaming_response.create(**plan.params, stream=True, **options)
        raw = await call.__aenter__()
        return raw.iter_bytes(), raw.close

    async def stream(self, client: Any, request: ProviderRequest) -> AsyncIterator[StreamEvent]:
        """A streaming ``messages.create``; the raw SSE events are parsed with orjson and translated one by one.

        A client this adapter built sends through its prepared post (.sending): the request the
        SDK would build, on the SDK client's own pool, with the URL and headers made once per
        client. Any other client (Vertex's) goes through ``messages.with_streaming_response``.
        Either way a failed status raises the SDK's error type, mapped below; reading the events
        raw skips the SDK's per-event pydantic models (bench/README.md).
        """
        plan = self.build_request(request)
        translator = StreamTranslator(plan, self.name)
        try:
            post = prepared_post(client)
            chunks: AsyncIterator[bytes]
            close: Callable[[], Awaitable[None]]
            if post is not None:
                body = {**plan.params, "stream": True, **self.extra_body(plan)}
                response = await post.send(body, request.timeout)
                chunks, close = response.aiter_bytes(), response.aclose
            else:
                chunks, close = await self._sdk_stream(client, plan, request)
            # Leaving this block for any reason (end, error, our caller stopping) closes the response.
            try:
                payloads = SSEPayloads(self.name)
                async for data in chunks:
                    for payload in payloads.feed(data):
                        for item in translator.feed(loads(payload)):
                            yield item
                for payload in payloads.end():
                    for item in translator.feed(loads(payload)):
                        yield item
            finally:
                await close()
        except Exception as exc:  # noqa: BLE001 - map_error re-raises what it does not know
            self._raise(exc, client)
        for item in translator.finish():
            yield item
