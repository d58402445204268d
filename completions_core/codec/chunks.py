"""Responses and stream chunks, to and from the wire."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from completions_core.codec._fields import (
    _as_mapping,
)
from completions_core.codec.messages import message_from_wire, message_to_wire, tool_call_from_wire, tool_call_to_wire
from completions_core.types import (
    AssistantMessage,
    ChatCompletionChunk,
    ChatCompletionResponse,
    ContentDeltaChunk,
    ContentSentenceChunk,
    ErrorChunk,
    FinalResponseChunk,
    FinishReasonChunk,
    ToolCallChunk,
    UsageChunk,
)

# --- responses and chunks --------------------------------------------------------------------


def response_to_wire(response: ChatCompletionResponse) -> dict[str, Any]:
    """Encode a response."""
    return {
        "message": message_to_wire(response.message),
        "finish_reason": response.finish_reason,
        "usage": response.usage,
        "provider": response.provider,
        "model": response.model,
        "request_id": response.request_id,
    }


def response_from_wire(value: Any) -> ChatCompletionResponse:
    """Decode a response (unknown fields from a newer proxy are ignored)."""
    data = _as_mapping(value, "response", "a response")
    message = message_from_wire(dict(data.get("message") or {}, role="assistant"), "response.message")
    assert isinstance(message, AssistantMessage)
    return ChatCompletionResponse(
        message=message,
        finish_reason=str(data.get("finish_reason") or ""),
        usage=data.get("usage"),
        provider=data.get("provider"),
        model=data.get("model"),
        request_id=data.get("request_id"),
    )


def chunk_to_wire(chunk: ChatCompletionChunk) -> dict[str, Any]:
    """Encode a chunk as a ``{"type": ..., ...}`` dict."""
    if isinstance(chunk, ContentDeltaChunk):
        return {"type": "content_delta", "delta": chunk.delta}
    if isinstance(chunk, ContentSentenceChunk):
        return {"type": "content_sentence", "sentence": chunk.sentence}
    if isinstance(chunk, ToolCallChunk):
        return {"type": "tool_call", "tool_call": tool_call_to_wire(chunk.tool_call)}
    if isinstance(chunk, FinishReasonChunk):
        return {"type": "finish_reason", "finish_reason": chunk.finish_reason}
    if isinstance(chunk, UsageChunk):
        return {"type": "usage", "usage": chunk.usage}
    if isinstance(chunk, FinalResponseChunk):
        return {"type": "response", "response": response_to_wire(chunk.response)}
    return {"type": "error", "error": chunk.error, "error_type": chunk.error_type}


def chunk_from_wire(data: Mapping[str, Any]) -> Optional[ChatCompletionChunk]:
    """Decode a chunk dict; an unknown ``type`` (from a newer proxy, or a keep-alive) gives None.

    A malformed record raises ``ValueError`` (never another exception type).
    """
    try:
        return _chunk_from_wire(data)
    except (TypeError, AttributeError, KeyError) as exc:
        raise ValueError(f"malformed {data.get('type', 'chunk')!r} record: {exc}") from exc


def _chunk_from_wire(data: Mapping[str, Any]) -> Optional[ChatCompletionChunk]:
    kind = data.get("type")
    if kind == "content_delta":
        return ContentDeltaChunk(delta=str(data.get("delta", "")))
    if kind == "content_sentence":
        return ContentSentenceChunk(sentence=str(data.get("sentence", "")))
    if kind == "tool_call":
        return ToolCallChunk(tool_call=tool_call_from_wire(data.get("tool_call"), "tool_call"))
    if kind == "finish_reason":
        return FinishReasonChunk(finish_reason=str(data.get("finish_reason", "")))
    if kind == "usage":
        return UsageChunk(usage=dict(data.get("usage") or {}))
    if kind == "response":
        return FinalResponseChunk(response=response_from_wire(data.get("response")))
    if kind == "error":
        return ErrorChunk(error=str(data.get("error", "")), error_type=str(data.get("error_type", "internal_error")))
    return None
