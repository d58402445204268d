"""The OpenAI adapter: Chat Completions through ``openai.AsyncOpenAI``.

"How to talk" lives here and in :mod:`.request` / :mod:`.response`; "who to talk to" is
:meth:`OpenAIAdapter.client_config` + :meth:`OpenAIAdapter.create_client`. A variant provider
that speaks the same API (Alibaba's DashScope compatible mode) subclasses this adapter and
changes the endpoint and the few hooks marked as such, nothing else.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, Optional

from completions_core.adapter import Completion, Credential, ProviderAdapter, StreamEvent, http_transport
from completions_core.errors import InvalidRequestError, ProviderError
from completions_core.jsonutil import loads
from completions_core.redaction import Secret
from completions_core.request import ProviderRequest
from completions_core.schemas import Target
from completions_core.sse import SSEPayloads
from completions_core.tls import shared_ssl_context
from completions_core.types import UserMessage

from .errors import map_error
from .request import map_messages, map_response_format, map_tool_choice, map_tools
from .response import StreamTranslator, completion_from_response
from .sending import prepared_post, remember

if TYPE_CHECKING:
    from openai import AsyncOpenAI

__all__ = ["PREPARED_MODULES", "OpenAIAdapter", "OpenAIClientConfig", "import_modules", "prepare_client"]

#: What :meth:`OpenAIAdapter.prepare` imports: everything a first request would import otherwise.
PREPARED_MODULES: tuple[str, ...] = (
    "httpx2",
    "openai",
    "openai.types.chat",
    "openai.types.chat.chat_completion",
    "openai.types.chat.chat_completion_chunk",
    "openai.resources.chat.chat",
    "openai.resources.chat.completions.completions",
    "openai.resources.chat.completions.messages",
    "openai.resources.models",
    "openai.lib.streaming.chat",
    "jiter",
)


def import_modules(names: tuple[str, ...]) -> None:
    """Import each of ``names`` (an adapter's :meth:`~ProviderAdapter.prepare`)."""
    import importlib

    for name in names:
        importlib.import_module(name)


def prepare_client(adapter: ProviderAdapter, config: Any) -> None:
    """Build one client for ``config`` and close it, in an event loop of this (worker) thread.

    What the SDK and its transport import or compute when a client is first built happens here,
    at start-up, instead of on the proxy's event loop at the first request. Nothing is sent.
    """
    import asyncio

    async def build_and_close() -> None:
        await adapter.close_client(adapter.create_client(config))

    asyncio.run(build_and_close())


@functools.cache
def _no_redirect_client_class(transport: str) -> type[Any]:
    import asyncio

    import openai

    # aiohttp (the SDK's own aiohttp transport) by default: its pool does not probe every idle
    # connection with a select() on each request the way httpx2's does, and its HTTP parser is
    # C; measured in bench/README.md. COMPLETIONS_OPENAI_TRANSPORT=httpx2 restores the default.
    base = openai.DefaultAioHttpClient if transport == "aiohttp" else openai.DefaultAsyncHttpxClient

    class NoRedirectClient(base):  # type: ignore[valid-type,misc]
        """The SDK's default HTTP client, except that it never follows a redirect."""

        # Like the SDK's own default client: one dropped without close() still closes its
        # connections once it is garbage collected (the proxy's client cache closes them explicitly).
        def __del__(self) -> None:
            if self.is_closed:
                return
            try:
                asyncio.get_running_loop().create_task(self.aclose())
            except RuntimeError:
                pass

    return NoRedirectClient


def _http_client() -> Any:
    # One shared TLS context: building one per client loads the CA bundle on the event loop.
    return _no_redirect_client_class(http_transport("COMPLETIONS_OPENAI_TRANSPORT"))(
        follow_redirects=False, verify=shared_ssl_context()
    )


@dataclass(frozen=True)
class OpenAIClientConfig:
    """Who to talk to: the endpoint and the key (equal configs share one cached client)."""

    base_url: str
    api_key: Optional[Secret]


class OpenAIAdapter(ProviderAdapter):
    """OpenAI Chat Completions: text, tools, structured output, streaming with usage."""

    name = "openai"
    sdk_loggers = ("openai",)
    managed_key_env = ("OPENAI_API_KEY",)

    #: The official endpoint, used unless the operator overrides it.
    default_base_url: ClassVar[str] = "https://api.openai.com/v1"
    #: Environment variable holding the operator's base URL override.
    base_url_env: ClassVar[str] = "COMPLETIONS_OPENAI_BASE_URL"
    #: The ``provider_kwargs`` entries this provider accepts (anything else is refused).
    option_keys: ClassVar[frozenset[str]] = frozenset({"service_tier", "reasoning_effort"})
    #: The output-limit field. OpenAI's API reference deprecates ``max_tokens`` in favour of
    #: ``max_completion_tokens``, which every current model accepts and reasoning models require.
    max_tokens_field: ClassVar[str] = "max_completion_tokens"
    #: The model names this provider accepts (the model travels in the JSON body, not in a URL,
    #: but a gateway may route on it: no ".."), and the rule a refused name is told.
    model_pattern: ClassVar[re.Pattern[str]] = re.compile(r"(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")
    model_rule: ClassVar[str] = "1-128 letters, digits and . _ - : / starting with a letter or digit, no '..'"

    def __init__(self, base_url: Optional[str] = None) -> None:
        """``base_url`` is operator configuration (tests, gateways), never taken from a request."""
        self.base_url = base_url or os.environ.get(self.base_url_env) or self.default_base_url

    def __repr__(self) -> str:
        return f"<{type(self).__name__} provider={self.name!r} base_url={self.base_url!r}>"

    # -- who to talk to ---------------------------------------------------------------------------

    def endpoint(self, request: ProviderRequest) -> str:
        """The base URL this request goes to (hook: a variant may let the request pick a region)."""
        return self.base_url

    def check_model(self, model: str) -> None:
        """Refuse a model name outside :attr:`model_pattern` (a 400 naming the rule, the name not echoed)."""
        if not isinstance(model, str) or not self.model_pattern.fullmatch(model):
            raise InvalidRequestError(f"is not a {self.name} model name: use {self.model_rule}", "model")

    def client_config(self, request: ProviderRequest, credential: Credential) -> OpenAIClientConfig:
        """The endpoint and key of the client this request needs (the model name checked first)."""
        self.check_model(request.model)
        return OpenAIClientConfig(base_url=self.endpoint(request), api_key=credential.api_key)

    def create_client(self, config: OpenAIClientConfig) -> AsyncOpenAI:
        """An ``AsyncOpenAI`` with SDK retries off, redirects not followed, nothing taken from the environment."""
        import openai

        if config.api_key is None or not config.api_key:
            # Without a key the SDK would fall back to OPENAI_API_KEY from the environment, a key
            # meant for another provider or another tenant.
            raise ProviderError(
                f"no API key for {self.name}", "authentication_error", provider=self.name, retryable=False
            )
        http = _http_client()
        client = openai.AsyncOpenAI(
            api_key=config.api_key.reveal(),
            base_url=config.base_url,
            max_retries=0,
            # A redirect would resend the conversation to a host nobody allowed.
            http_client=http,
        )
        # The SDK reads OPENAI_ORG_ID / OPENAI_PROJECT_ID from the environment and sends them as
        # headers: they belong to the operator's own OpenAI account, not to this client's key.
        client.organization = None
        client.project = None
        # What every stream of this client sends the same, prepared once (see .sending).
        remember(client, http, "/chat/completions")
        return client

    def prepare(self) -> None:
        """Import the SDK, its transport and the models a first answer needs; build and close one
        client (with a placeholder key, no connection) in a throwaway loop. At start-up, off the loop."""
        import_modules(PREPARED_MODULES)
        config = OpenAIClientConfig(base_url=self.base_url, api_key=Secret("prepare-only-placeholder"))
        prepare_client(self, config)
        self._rehearse()

    def _rehearse(self) -> None:
        """One request and one stream through the real SDK on a mock transport (nothing is sent):
        its first-use work (request building, response models, type checks) happens here."""
        import asyncio
        import json

        import httpx2
        import openai

        message = {"role": "assistant", "content": "ok"}
        answer_body = {"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                       "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}  # fmt: skip
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                 "choices": [{"index": 0, "delta": message, "finish_reason": "stop"}]}  # fmt: skip

        def answer(request: Any) -> Any:
            if json.loads(request.content).get("stream"):
                text = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n"
                return httpx2.Response(200, text=text, headers={"content-type": "text/event-stream"})
            return httpx2.Response(200, json=answer_body)

        async def run() -> None:
            http = httpx2.AsyncClient(transport=httpx2.MockTransport(answer))
            client = openai.AsyncOpenAI(
                api_key="prepare-only-placeholder",
                base_url="http://prepare.invalid/v1",
                max_retries=0,
                http_client=http,
            )
            request = ProviderRequest(provider=self.name, model="m", messages=(UserMessage("hi"),))
            try:
                await self.complete(client, request)
                async for _ in self.stream(client, request):
                    pass
            finally:
                await client.close()

        asyncio.run(run())

    async def warm(self, client: AsyncOpenAI) -> None:
        """Open the connection (TCP and TLS) ahead of the first request: one cheap model listing."""
        try:
            await client.with_options(timeout=5.0).models.list()
        except Exception:  # noqa: BLE001 - warming is best effort; the real call reports
            pass

    # -- how to talk ------------------------------------------------------------------------------

    def schema_target(self, strict: bool) -> Target:
        """The schema dialect for tool parameters (``strict``) and ``response_schema`` (hook)."""
        return "strict" if strict else "json_schema"

    def read_options(self, request: ProviderRequest) -> dict[str, Any]:
        """This provider's ``provider_kwargs`` entry, with unknown keys refused."""
        raw = request.provider_kwargs.get(self.name)
        if raw is None:
            return {}
        unknown = sorted(str(key) for key in raw if key not in self.option_keys)
        if unknown:
            self._refuse(
                f"provider_kwargs.{self.name}: unknown option {unknown[0]!r}; "
                f"{self.name} accepts {', '.join(sorted(self.option_keys))}"
            )
        return dict(raw)

    def apply_options(
        self, options: Mapping[str, Any], params: dict[str, Any], request: ProviderRequest, *, stream: bool
    ) -> None:
        """Put the provider options into the request parameters (hook)."""
        for key in ("service_tier", "reasoning_effort"):
            value = options.get(key)
            if value is None:
                continue
            if not isinstance(value, str) or not value:
                self._refuse(f"provider_kwargs.{self.name}.{key} must be a string")
            params[key] = value

    def build_request(self, request: ProviderRequest, *, stream: bool) -> dict[str, Any]:
        """Everything passed to ``chat.completions.create`` for this request."""
        options = self.read_options(request)
        params: dict[str, Any] = {
            "model": request.model,
            "messages": map_messages(request.messages, self.name),
        }
        if request.tools:
            params["tools"] = map_tools(request.tools, self.schema_target, self.name)
            # tool_choice without tools is an error upstream, so it only goes with them.
            if request.tool_choice is not None:
                params["tool_choice"] = map_tool_choice(request.tool_choice)
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.max_tokens is not None:
            params[self.max_tokens_field] = request.max_tokens
        if request.response_schema is not None:
            params["response_format"] = map_response_format(
                dict(request.response_schema), self.schema_target(True), self.name
            )
        if stream:
            params["stream"] = True
            params["stream_options"] = {"include_usage": True}
        if request.timeout is not None:
            params["timeout"] = request.timeout
        self.apply_options(options, params, request, stream=stream)
        return params

    async def complete(self, client: AsyncOpenAI, request: ProviderRequest) -> Completion:
        """One non-streaming Chat Completions call."""
        params = self.build_request(request, stream=False)
        try:
            response = await client.chat.completions.create(**params)
        except Exception as exc:
            mapped = self._mapped(exc, client)
            if mapped is None:
                raise
            # Not chained: the SDK error holds the raw body, which may repeat the key.
            raise mapped from None
        try:
            return completion_from_response(response, self.name)
        except ProviderError as exc:
            raise self._mapped(exc, client) or exc from None
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            # Valid JSON of the wrong shape (the SDK builds its models without validation).
            raise ProviderError(
                f"{self.name} sent a response that could not be read ({type(exc).__name__})",
                "invalid_response_error",
                provider=self.name,
            ) from None

    async def stream(self, client: AsyncOpenAI, request: ProviderRequest) -> AsyncIterator[StreamEvent]:
        """A streaming call; every provider delta becomes an event as soon as it arrives.

        The SSE lines are read raw and parsed with orjson, skipping the SDK's per-chunk pydantic
        models (the measured bottleneck of the streaming path, see bench/README.md).
        """
        params = self.build_request(request, stream=True)
        # A client this adapter built sends through its prepared post (.sending): the request
        # the SDK would build, on the SDK client's own pool, with the URL and headers made once
        # per client. Any other client goes through the SDK's documented low-level call
        # (``client.post(..., cast_to=httpx.Response)``): it authenticates, sends and raises its
        # typed errors for a failed status, but skips the type-driven transform of parameters
        # that are already plain JSON and hands back the unread response. Either way a failed
        # status raises the SDK's error type, mapped below (bench/README.md has the costs).
        timeout = params.pop("timeout", None)
        extra_body = params.pop("extra_body", None)
        # ``params`` is this call's own dict: merged into a copy only when there is something to merge.
        body = {**params, **extra_body} if extra_body else params
        state = StreamTranslator(self.name)
        try:
            # The overloads pair stream=True with an SSE stream class; with cast_to=httpx2.Response the
            # SDK returns the raw response instead, which is what we read.
            post = prepared_post(client)
            if post is not None:
                response = await post.send(body, timeout)
            else:
                import httpx2  # only this path names it (imported with the SDK already)

                options: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
                response = await client.post(  # type: ignore[call-overload]
                    "/chat/completions", cast_to=httpx2.Response, body=body, options=options, stream=True
                )
            # Leaving this block for any reason (end, error, the consumer closing us) closes the response.
            try:
                # Lines are split from the raw bytes (core's SSEPayloads) rather than through the
                # SDK's text and line decoders (two async generators and a UTF-8 decode per read,
                # on every chunk of a paced stream); orjson parses the bytes.
                payloads = SSEPayloads(self.name)
                async for data in response.aiter_bytes():
                    for payload in payloads.feed(data):
                        for event in state.feed(loads(payload)):
                            yield event
                for payload in payloads.end():
                    for event in state.feed(loads(payload)):
                        yield event
            finally:
                await response.aclose()
        except Exception as exc:
            mapped = self._mapped(exc, client)
            if mapped is None:
                raise
            raise mapped from None
        if not state.finished:
            raise ProviderError(
                f"the {self.name} stream ended before the model finished (no finish reason)",
                "invalid_response_error",
                provider=self.name,
            )

    # -- helpers ----------------------------------------------------------------------------------

    def _refuse(self, message: str) -> NoReturn:
        raise ProviderError(message, "invalid_request_error", provider=self.name, retryable=False)

    def _mapped(self, exc: Exception, client: AsyncOpenAI) -> Optional[ProviderError]:
        return map_error(exc, self.name, getattr(client, "api_key", None))
