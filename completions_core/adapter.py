"""The provider-adapter protocol: what a provider plugin implements.

An adapter is "how to talk" to one provider: it maps a
:class:`~completions_core.request.ProviderRequest` (strict, frozen, already decoded by the codec:
message and tool dataclasses, never dicts) onto the provider's SDK and the SDK's
answer back onto either a :class:`Completion` (non-streaming) or one normalized stream of
:data:`StreamEvent`. "Who to talk to" (an authenticated SDK client for an endpoint) is built by
:meth:`ProviderAdapter.create_client` from a hashable :meth:`ProviderAdapter.client_config`, so
the proxy can cache warm clients. Adapters know nothing about NDJSON, sentences, retries or the
proxy's HTTP statuses; they raise :class:`~completions_core.errors.ProviderError`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Optional

from completions_core.assembly import ResponseAssembler
from completions_core.events import (
    Completion,
    Finish,
    MessageExtras,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallDone,
    UsageEvent,
)
from completions_core.redaction import Secret
from completions_core.request import ProviderRequest
from completions_core.usage import NormalizedUsage, chat_completions_usage

__all__ = [
    "Completion",
    "Credential",
    "Finish",
    "MessageExtras",
    "ProviderAdapter",
    "ReasoningDelta",
    "StreamEvent",
    "TextDelta",
    "ToolCallDelta",
    "ToolCallDone",
    "UsageEvent",
    "http_transport",
]


@dataclass(frozen=True)
class Credential:
    """The credential resolved for one provider of one request.

    ``source`` is "managed" (the platform's key, read by the proxy), "customer" (a key the
    client registered for this session) or "none" (a keyless provider).
    """

    source: Literal["managed", "customer", "none"]
    api_key: Optional[Secret] = None


def http_transport(env_var: str) -> Literal["aiohttp", "httpx2"]:
    """The HTTP transport an adapter's SDK should use: ``aiohttp`` unless ``env_var`` says ``httpx2``.

    aiohttp is the default because its pool does not probe every idle connection on each request
    as httpx2's does, and its parser is C (bench/README.md); the switch exists for comparison and
    as a way out if an SDK's aiohttp transport misbehaves.
    """
    return "httpx2" if os.environ.get(env_var, "aiohttp").strip().lower() == "httpx2" else "aiohttp"


class ProviderAdapter:
    """Base class for provider adapters; subclass it and register an instance from a plugin.

    A minimal adapter sets :attr:`name` and implements :meth:`create_client` and :meth:`stream`;
    :meth:`complete` defaults to draining the stream, and the other methods and attributes have
    sensible defaults (override :meth:`complete` when the provider answers faster unstreamed).
    """

    #: The provider name requests use ("openai"); lower case letters, digits and underscores.
    name: ClassVar[str] = ""
    #: Other names requests may use for this provider ("gemini" for "google"), spelt like names.
    #: The registry owns them: a name or alias another plugin already holds is refused.
    aliases: ClassVar[tuple[str, ...]] = ()
    #: True when the provider reads back the ``thought_signature`` of earlier assistant messages and
    #: tool calls; otherwise the engine drops them before calling it (they would be rejected or misread).
    keeps_thought_signatures: ClassVar[bool] = False
    #: Loggers of the provider's SDK that may log credentials at DEBUG: the proxy holds them at WARNING.
    sdk_loggers: ClassVar[tuple[str, ...]] = ()
    #: Environment variables that may hold the managed key, in order of preference.
    managed_key_env: ClassVar[tuple[str, ...]] = ()
    #: False for providers that need no key at all (the embedded one).
    requires_key: ClassVar[bool] = True

    def client_config(self, request: ProviderRequest, credential: Credential) -> Hashable:
        """Return the hashable description of the client this request needs.

        Requests with equal configs share one cached SDK client. Raise
        :class:`~completions_core.errors.InvalidRequestError` for an endpoint the request may not
        use (e.g. a base URL outside the provider's allowlist).
        """
        return credential

    def create_client(self, config: Any) -> Any:
        """Build an SDK client for a config from :meth:`client_config` (SDK retries off)."""
        raise NotImplementedError

    async def close_client(self, client: Any) -> None:
        """Close a client evicted from the cache."""
        close = getattr(client, "close", None)
        if close is not None:
            result = close()
            if hasattr(result, "__await__"):
                await result

    def prepare(self) -> None:
        """Import the provider SDK (and whatever else the first request would import) ahead of time.

        Optional. The proxy calls it once per adapter during start-up, in a worker thread and
        before readiness turns true, so that a new worker's first requests do not stall the event
        loop on imports. It must not need a key, a network or an event loop; an exception is
        logged and the provider still serves (it then imports at first use). Default: nothing.
        """

    async def warm(self, client: Any) -> None:
        """Pre-open the client's connection to the provider (best effort, errors ignored)."""

    def normalize_usage(self, usage: Optional[Mapping[str, Any]]) -> NormalizedUsage:
        """This provider's native usage counts (from :class:`UsageEvent` or :attr:`Completion.usage`)
        with the meaning every provider shares. Default: the Chat Completions layout; a provider that
        counts otherwise builds its own from :mod:`completions_core.usage`'s helpers."""
        return chat_completions_usage(usage)

    async def complete(self, client: Any, request: ProviderRequest) -> Completion:
        """Answer a request without streaming. Default: :meth:`stream` run to its end through the
        core's response assembler (the same reassembly of text and tool calls the proxy does)."""
        assembler = ResponseAssembler(provider=self.name, model=request.model)
        events = self.stream(client, request)
        try:
            async for event in events:
                assembler.feed(event)
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
        assembler.finish()
        response = assembler.response
        return Completion(
            message=response.message,
            finish_reason=response.finish_reason,
            usage=response.usage,
            native_finish_reason=assembler.native_finish_reason,
        )

    def stream(self, client: Any, request: ProviderRequest) -> AsyncIterator[StreamEvent]:
        """Answer a request as a stream of events; must close the provider stream when closed early."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} provider={self.name!r}>"
