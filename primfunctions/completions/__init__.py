"""The managed LLM client for VoiceRun agents: one interface to every provider, via the proxy.

See the API reference (docs/) for every name exported here.
"""

from __future__ import annotations

from completions_core.codec import deserialize_conversation, serialize_conversation
from completions_core.errors import InvalidRequestError
from completions_core.types import (
    AssistantMessage,
    CacheBreakpoint,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    CompletionsProvider,
    ContentDeltaChunk,
    ContentSentenceChunk,
    ConversationHistory,
    ConversationHistoryMessage,
    ErrorChunk,
    FallbackRequest,
    FinalResponseChunk,
    FinishReasonChunk,
    FunctionCall,
    FunctionDefinition,
    RetryConfiguration,
    StreamOptions,
    SystemMessage,
    ToolCall,
    ToolCallChunk,
    ToolChoice,
    ToolDefinition,
    ToolResultMessage,
    UsageChunk,
    UserMessage,
)
from primfunctions.completions.client import (
    ChatCompletionStream,
    close,
    configure,
    configure_provider,
    generate_chat_completion,
    generate_chat_completion_stream,
)
from primfunctions.completions.errors import (
    CompletionsNotConfiguredError,
    CompletionsProviderNotConfiguredError,
    CompletionsProxyError,
)

__all__ = [
    "AssistantMessage",
    "CacheBreakpoint",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "ChatCompletionResponse",
    "ChatCompletionStream",
    "CompletionsNotConfiguredError",
    "CompletionsProvider",
    "CompletionsProviderNotConfiguredError",
    "CompletionsProxyError",
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
    "InvalidRequestError",
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
    "close",
    "configure",
    "configure_provider",
    "deserialize_conversation",
    "generate_chat_completion",
    "generate_chat_completion_stream",
    "serialize_conversation",
]
