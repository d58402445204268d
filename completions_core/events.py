"""The normalized answer an adapter produces: one stream of events, or one :class:`Completion`.

Adapters yield these from :meth:`~completions_core.adapter.ProviderAdapter.stream`; the core's
:class:`~completions_core.assembly.ResponseAssembler` turns them into chunks and the final
response. (Re-exported by :mod:`completions_core.adapter`, where plugins import them from.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

from completions_core.types import AssistantMessage, ToolCall

__all__ = [
    "Completion",
    "Finish",
    "MessageExtras",
    "ReasoningDelta",
    "StreamEvent",
    "TextDelta",
    "ToolCallDelta",
    "ToolCallDone",
    "UsageEvent",
]


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
