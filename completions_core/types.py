"""The documented types of ``primfunctions.completions``, shared by the client and the proxy.

Every name, field and default here is the public contract (see docs/ and the API reference):
change one and user code breaks. The wire codec (:mod:`completions_core.codec`) turns them into
JSON dicts and back.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Literal, Optional, TypedDict, Union

__all__ = [
    "LANGUAGES",
    "AlibabaKwargs",
    "AnthropicKwargs",
    "AnthropicVertexKwargs",
    "AssistantMessage",
    "CacheBreakpoint",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "ChatCompletionResponse",
    "CompletionsProvider",
    "ContentDeltaChunk",
    "ContentSentenceChunk",
    "ConversationHistory",
    "ConversationHistoryMessage",
    "ErrorChunk",
    "FallbackRequest",
    "FinalResponseChunk",
    "FinishReasonChunk",
    "FunctionCall",
    "FunctionDefinition",
    "GoogleKwargs",
    "OpenAIKwargs",
    "ProviderKwargs",
    "RetryConfiguration",
    "StreamOptions",
    "SystemMessage",
    "ToolCall",
    "ToolCallChunk",
    "ToolChoice",
    "ToolDefinition",
    "ToolResultMessage",
    "UsageChunk",
    "UserMessage",
    "new_vr_id",
]

_ID_ALPHABET = string.ascii_letters + string.digits


#: Random bytes below this map evenly onto the 62 characters (4 x 62); the rest are dropped.
_ID_BYTE_LIMIT = 4 * len(_ID_ALPHABET)


def new_vr_id() -> str:
    """Return a fresh 8-character message id (62^8 values, cryptographically random).

    Each character comes from one random byte below 248 (taken modulo 62, so every character is
    equally likely); 12 bytes almost always hold 8 such (one draw for the id instead of eight
    ``secrets.choice`` calls: the proxy makes one id per message of every request).
    """
    while True:
        chars = _vr_id_chars(secrets.token_bytes(12))
        if len(chars) >= 8:
            return chars[:8].decode("ascii")


#: Byte ``b`` below :data:`_ID_BYTE_LIMIT` -> ``_ID_ALPHABET[b % 62]``; the bytes from it up are dropped.
_ID_TABLE = bytes(ord(_ID_ALPHABET[byte % 62]) if byte < _ID_BYTE_LIMIT else 0 for byte in range(256))
_ID_DROPPED = bytes(range(_ID_BYTE_LIMIT, 256))


def _vr_id_chars(random: bytes) -> bytes:
    """The id characters that ``random`` gives, in order (one ``bytes.translate``, in C)."""
    return random.translate(_ID_TABLE, _ID_DROPPED)


class CompletionsProvider(StrEnum):
    """The providers the platform supports. A plain string works wherever one is expected."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GOOGLE = "google"
    ANTHROPIC_VERTEX = "anthropic_vertex"
    ALIBABA = "alibaba"


@dataclass
class CacheBreakpoint:
    """Marks the end of a prompt prefix the provider should cache (Anthropic cache_control)."""

    ttl: Literal["5m", "1h"] = "5m"


# --- messages -------------------------------------------------------------------------------


@dataclass
class UserMessage:
    """A user turn."""

    content: str
    vr_id: str = field(default_factory=new_vr_id)
    name: Optional[str] = None
    cache_breakpoint: Optional[CacheBreakpoint] = None
    role: ClassVar[str] = "user"


@dataclass
class FunctionCall:
    """The function a tool call invokes, with its arguments already JSON-parsed."""

    name: str
    arguments: dict[str, Any]


@dataclass
class ToolCall:
    """A tool call emitted by the model; answer it with a ``ToolResultMessage`` of the same id."""

    id: str
    type: Literal["function"]
    function: FunctionCall
    index: Optional[int] = None
    thought_signature: Optional[bytes] = None


@dataclass
class AssistantMessage:
    """A model turn: text, tool calls, or both.

    ``provider_state`` is an extension of this project: opaque data a provider needs back on the
    next turn (Anthropic's signed thinking blocks), keyed by provider name. It is preserved by
    ``serialize_conversation`` and dropped when the conversation goes to another provider.
    """

    content: Optional[str] = None
    vr_id: str = field(default_factory=new_vr_id)
    tool_calls: Optional[list[ToolCall]] = None
    cache_breakpoint: Optional[CacheBreakpoint] = None
    thought_signature: Optional[bytes] = None
    provider_state: Optional[dict[str, Any]] = None
    role: ClassVar[str] = "assistant"


@dataclass
class SystemMessage:
    """A system prompt. Several are collapsed into one system block for Anthropic and Google."""

    content: str
    vr_id: str = field(default_factory=new_vr_id)
    cache_breakpoint: Optional[CacheBreakpoint] = None
    role: ClassVar[str] = "system"


@dataclass
class ToolResultMessage:
    """The result of a tool call, fed back to the model on the next turn."""

    tool_call_id: str
    content: dict[str, Any]
    vr_id: str = field(default_factory=new_vr_id)
    name: Optional[str] = None
    cache_breakpoint: Optional[CacheBreakpoint] = None
    role: ClassVar[str] = "tool"


ConversationHistoryMessage = Union[UserMessage, AssistantMessage, SystemMessage, ToolResultMessage]
ConversationHistory = list[ConversationHistoryMessage]


# --- tools ----------------------------------------------------------------------------------


@dataclass
class FunctionDefinition:
    """A function the model may call; ``parameters`` is a JSON Schema."""

    name: str
    description: str
    parameters: dict[str, Any]
    strict: Optional[bool] = None


@dataclass
class ToolDefinition:
    """A tool offered to the model."""

    type: Literal["function"]
    function: FunctionDefinition
    cache_breakpoint: Optional[CacheBreakpoint] = None


ToolChoice = Union[Literal["none", "auto", "required"], str]


# --- provider kwargs ------------------------------------------------------------------------


class OpenAIKwargs(TypedDict, total=False):
    """Options applied only when OpenAI executes the request."""

    service_tier: Literal["auto", "default", "flex", "scale", "priority"]
    reasoning_effort: Literal["low", "medium", "high"]


class AnthropicKwargs(TypedDict, total=False):
    """Options applied only when Anthropic executes the request."""

    thinking: dict[str, Any]


class GoogleKwargs(TypedDict, total=False):
    """Options applied only when Google executes the request."""

    thinking_config: dict[str, Any]


class AnthropicVertexKwargs(TypedDict, total=False):
    """Options applied only when Anthropic on Vertex executes the request."""

    thinking: dict[str, Any]
    project_id: str
    region: str
    service_account_credentials: dict[str, Any]


class AlibabaKwargs(TypedDict, total=False):
    """Options applied only when Alibaba (Qwen on DashScope) executes the request."""

    base_url: str
    enable_search: bool


class ProviderKwargs(TypedDict, total=False):
    """Provider-specific kwargs keyed by provider name; only the executing provider's entry applies."""

    openai: OpenAIKwargs
    anthropic: AnthropicKwargs
    google: GoogleKwargs
    anthropic_vertex: AnthropicVertexKwargs
    alibaba: AlibabaKwargs


# --- requests -------------------------------------------------------------------------------


@dataclass
class RetryConfiguration:
    """Server-side retries with exponential backoff, per provider attempt chain."""

    enabled: bool = True
    max_retries: int = 3
    retry_delay: float = 1.0
    backoff_multiplier: float = 2.0


@dataclass
class FallbackRequest:
    """Overrides for a fallback attempt; every unset field inherits from the primary request."""

    provider: Optional[CompletionsProvider | str] = None
    model: Optional[str] = None
    messages: Optional[ConversationHistory] = None
    temperature: Optional[float] = None
    tools: Optional[list[ToolDefinition | dict[str, Any]]] = None
    tool_choice: Optional[ToolChoice] = None
    timeout: Optional[float] = None
    max_tokens: Optional[int] = None
    response_schema: Optional[dict[str, Any]] = None
    retry: Optional[RetryConfiguration | dict[str, Any]] = None
    provider_kwargs: Optional[ProviderKwargs] = None


@dataclass
class ChatCompletionRequest:
    """A completion request: provider, model, messages and everything optional around them."""

    provider: CompletionsProvider | str
    model: str
    messages: ConversationHistory | list[dict[str, Any]]
    temperature: Optional[float] = None
    tools: Optional[list[ToolDefinition | dict[str, Any]]] = None
    tool_choice: Optional[ToolChoice] = None
    timeout: Optional[float] = None
    max_tokens: Optional[int] = None
    response_schema: Optional[dict[str, Any]] = None
    retry: Optional[RetryConfiguration | dict[str, Any]] = None
    fallbacks: Optional[list[FallbackRequest | dict[str, Any]]] = None
    provider_kwargs: Optional[ProviderKwargs] = None


#: The languages ``StreamOptions.punctuation_language`` accepts (their abbreviation and number rules).
LANGUAGES = ("en", "zh", "ko", "ja", "es", "fr", "it", "de")


@dataclass
class StreamOptions:
    """How a streamed answer is cut: token deltas, or whole sentences for text-to-speech."""

    chunk_by_sentence: bool = False
    clean_sentences: bool = True
    min_sentence_length: int = 6
    punctuation_marks: Optional[list[str]] = None
    punctuation_language: Optional[str] = None


# --- responses and chunks -------------------------------------------------------------------


@dataclass
class ChatCompletionResponse:
    """A whole answer. ``provider``/``model`` name who actually answered (after fallbacks)."""

    message: AssistantMessage
    finish_reason: str
    usage: Optional[dict[str, Any]] = None
    provider: Optional[str] = None
    model: Optional[str] = None
    request_id: Optional[str] = None


@dataclass
class ContentDeltaChunk:
    """An incremental piece of text (``chunk_by_sentence=False``)."""

    delta: str
    type: ClassVar[str] = "content_delta"


@dataclass
class ContentSentenceChunk:
    """One complete sentence (``chunk_by_sentence=True``)."""

    sentence: str
    type: ClassVar[str] = "content_sentence"


@dataclass
class ToolCallChunk:
    """A fully reassembled tool call."""

    tool_call: ToolCall
    type: ClassVar[str] = "tool_call"


@dataclass
class FinishReasonChunk:
    """Why the model stopped: "stop", "length", "tool_calls", "content_filter"."""

    finish_reason: str
    type: ClassVar[str] = "finish_reason"


@dataclass
class UsageChunk:
    """Provider-native token counts."""

    usage: dict[str, Any]
    type: ClassVar[str] = "usage"


@dataclass
class FinalResponseChunk:
    """The last chunk of a successful stream, with the fully assembled response."""

    response: ChatCompletionResponse
    type: ClassVar[str] = "response"


@dataclass
class ErrorChunk:
    """A failure after the stream started; the client re-raises it as ``CompletionsProxyError``."""

    error: str
    error_type: str
    type: ClassVar[str] = "error"


ChatCompletionChunk = Union[
    ContentDeltaChunk,
    ContentSentenceChunk,
    ToolCallChunk,
    FinishReasonChunk,
    UsageChunk,
    FinalResponseChunk,
    ErrorChunk,
]
