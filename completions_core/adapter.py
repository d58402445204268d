"""The provider-adapter protocol: what a provider plugin implements.

An adapter is "how to talk" to one provider: it maps a normalized
:class:`~completions_core.types.ChatCompletionRequest` onto the provider's SDK and the SDK's
answer back onto either a :class:`Completion` (non-streaming) or one normalized stream of
:data:`StreamEvent`. "Who to talk to" (an authenticated SDK client for an endpoint) is built by
:meth:`ProviderAdapter.create_client` from a hashable :meth:`ProviderAdapter.client_config`, so
the proxy can cache warm clients. Adapters know nothing about NDJSON, sentences, retries or the
proxy's HTTP statuses; they raise :class:`~completions_core.errors.ProviderError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Optional, Union

from completions_core.secrets import Secret
from completions_core.types import AssistantMessage, ChatCompletionRequest, ToolCall

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
]


@dataclass(frozen=True)
class Credential:
    """The credential resolved for one provider of one request.

    ``source`` is "managed" (the platform's key, read by the proxy), "customer" (a key the
    client registered for this session) or "none" (a keyless provider).
    """

    source: Literal["managed", "customer", "none"]
    api_key: Optional[Secret] = None


# --- the normalized event stream -------------------------------------------------------------


@dataclass(slots=True)
class TextDelta:
    """Answer text, in the order the model produced it."""

    text: str


@dataclass(slots=True)
class ReasoningDelta:
    """Thinking text: kept out of the spoken content."""

    text: str


@dataclass(slots=True)
class ToolCallDelta:
    """A fragment of a streamed tool call; fragments with the same ``index`` belong together.

    ``id`` and ``name`` usually come with the first fragment only; ``arguments`` is a piece of
    the JSON text. Core reassembles them (adapters never do).
    """

    index: int
    id: Optional[str] = None
    name: Optional[str] = None
    arguments: str = ""
    thought_signature: Optional[bytes] = None


@dataclass(slots=True)
class ToolCallDone:
    """A tool call that arrived whole (e.g. Gemini)."""

    tool_call: ToolCall


@dataclass(slots=True)
class MessageExtras:
    """Provider data that belongs on the assistant message (signatures, opaque state)."""

    thought_signature: Optional[bytes] = None
    provider_state: Optional[dict[str, Any]] = None


@dataclass(slots=True)
class Finish:
    """Why the model stopped, normalized ("stop", "length", "tool_calls", "content_filter")."""

    reason: str
    native_reason: Optional[str] = None


@dataclass(slots=True)
class UsageEvent:
    """Provider-native usage counts, as JSON-ready data (the last one of a stream wins)."""

    usage: dict[str, Any]


StreamEvent = Union[TextDelta, ReasoningDelta, ToolCallDelta, ToolCallDone, MessageExtras, Finish, UsageEvent]


@dataclass
class Completion:
    """A non-streaming answer."""

    message: AssistantMessage
    finish_reason: str
    usage: Optional[dict[str, Any]] = None
    native_finish_reason: Optional[str] = None
    extras: dict[str, Any] = field(default_factory=dict)


class ProviderAdapter:
    """Base class for provider adapters; subclass it and register an instance from a plugin.

    Subclasses set :attr:`name`, and implement :meth:`create_client`, :meth:`complete` and
    :meth:`stream`. The other methods have sensible defaults.
    """

    #: The provider name requests use ("openai"); lower case letters, digits and underscores.
    name: ClassVar[str] = ""
    #: Which usage layout :func:`completions_core.usage.normalize_usage` applies.
    usage_format: ClassVar[str] = "openai"
    #: Environment variables that may hold the managed key, in order of preference.
    managed_key_env: ClassVar[tuple[str, ...]] = ()
    #: False for providers that need no key at all (the embedded one).
    requires_key: ClassVar[bool] = True

    def client_config(self, request: ChatCompletionRequest, credential: Credential) -> Hashable:
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

    async def complete(self, client: Any, request: ChatCompletionRequest) -> Completion:
        """Answer a request without streaming."""
        raise NotImplementedError

    def stream(self, client: Any, request: ChatCompletionRequest) -> AsyncIterator[StreamEvent]:
        """Answer a request as a stream of events; must close the provider stream when closed early."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} provider={self.name!r}>"
