"""The request as the engine and the adapters see it: one strict, frozen, already-normalized value.

The public :class:`~completions_core.types.ChatCompletionRequest` keeps the loose unions the
documented API promises (a dict or a dataclass, a string or an enum, optional lists, fallbacks
that inherit). They end at the codec: :func:`completions_core.codec.decode_request` validates a
request once and turns it into one :class:`ProviderRequest` per provider to try, the primary
first and then each fallback with every field it leaves unset taken from the primary. An adapter
reads plain attributes and never decodes anything again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Optional

from completions_core.types import (
    AssistantMessage,
    ConversationHistoryMessage,
    SystemMessage,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
)

__all__ = ["DEFAULT_RETRY", "ProviderRequest", "RetryPolicy"]

_MESSAGE_TYPES = (UserMessage, AssistantMessage, SystemMessage, ToolResultMessage)
_NO_KWARGS: Mapping[str, Mapping[str, Any]] = MappingProxyType({})


@dataclass(frozen=True)
class RetryPolicy:
    """How the engine retries one provider: ``max_retries`` retries after the first attempt, waiting
    ``retry_delay * backoff_multiplier**n`` seconds (plus jitter) before retry ``n`` (from 0)."""

    max_retries: int = 3
    retry_delay: float = 1.0
    backoff_multiplier: float = 2.0


#: The documented defaults, used when a request says nothing about retries.
DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True)
class ProviderRequest:
    """One provider's request: every field decoded, checked and resolved (see the module docstring).

    ``provider`` is a plain name (the adapter's own name once the engine has planned the request);
    ``provider_kwargs`` maps provider names to their options, of which an adapter reads its own
    entry (``request.provider_kwargs.get(self.name)``); ``retry`` is None when retries are off.
    Built by the codec; constructing one by hand with a dict where a dataclass belongs is a
    ``TypeError``.
    """

    provider: str
    model: str
    messages: tuple[ConversationHistoryMessage, ...]
    temperature: Optional[float] = None
    tools: tuple[ToolDefinition, ...] = ()
    tool_choice: Optional[str] = None
    timeout: Optional[float] = None
    max_tokens: Optional[int] = None
    response_schema: Optional[Mapping[str, Any]] = None
    retry: Optional[RetryPolicy] = DEFAULT_RETRY
    provider_kwargs: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: _NO_KWARGS)

    def __post_init__(self) -> None:
        # Cheap (one isinstance per message and tool, once per target) and it keeps the promise
        # that adapters never see the loose forms of the public API.
        if not isinstance(self.provider, str) or not isinstance(self.model, str):
            raise TypeError("ProviderRequest.provider and .model must be strings")
        if type(self.messages) is not tuple:
            raise TypeError("ProviderRequest.messages must be a tuple of message dataclasses")
        for message in self.messages:
            if not isinstance(message, _MESSAGE_TYPES):
                raise TypeError("ProviderRequest.messages must be a tuple of message dataclasses")
        if type(self.tools) is not tuple:
            raise TypeError("ProviderRequest.tools must be a tuple of ToolDefinition")
        for tool in self.tools:
            if not isinstance(tool, ToolDefinition):
                raise TypeError("ProviderRequest.tools must be a tuple of ToolDefinition")
        if self.retry is not None and not isinstance(self.retry, RetryPolicy):
            raise TypeError("ProviderRequest.retry must be a RetryPolicy or None")
        kwargs = self.provider_kwargs
        # The two kinds the codec builds first: ``isinstance`` against the Mapping ABC is slower.
        if type(kwargs) is not dict and type(kwargs) is not MappingProxyType and not isinstance(kwargs, Mapping):
            raise TypeError("ProviderRequest.provider_kwargs must be a mapping of provider names to options")
