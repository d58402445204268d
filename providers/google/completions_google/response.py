"""How to talk, inbound: Gemini responses and stream chunks as normalized events.

- Text parts are the answer; parts marked ``thought`` are reasoning and never become content.
- A ``function_call`` part is a whole tool call (Gemini does not stream arguments). Gemini often
  gives it no id, so one is generated; it is stored on the assistant message and sent back as
  ``function_call.id`` / ``function_response.id``, so it stays stable for the conversation.
- ``thought_signature`` bytes are kept where they came from: a function-call part's on its
  ``ToolCall``, any other part's on the message (the last one wins).
- Stream chunks carry cumulative usage, and ``promptTokenCount`` can still change in the last
  chunk, so the usage reported is the last chunk's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Optional

from completions_core.adapter import (
    Completion,
    Finish,
    MessageExtras,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDone,
    UsageEvent,
)
from completions_core.assembly import new_tool_call_id
from completions_core.errors import ProviderError
from completions_core.types import AssistantMessage, FunctionCall, ToolCall
from completions_core.usage import NormalizedUsage, count

from .errors import PROVIDER

if TYPE_CHECKING:
    from google.genai import types

__all__ = ["StreamTranslator", "completion_from", "finish_reason", "normalize_usage", "usage_from"]

# Gemini's finish reasons for output withheld by a filter; the native reason is kept beside.
CONTENT_FILTER_REASONS = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "MODEL_ARMOR",
        "JAILBREAK",
    }
)


def finish_reason(native: Optional[str], has_tool_calls: bool) -> str:
    """The normalized finish reason for Gemini's ``finishReason`` (or a prompt's block reason)."""
    if native in CONTENT_FILTER_REASONS:
        return "content_filter"
    if native == "MAX_TOKENS":
        return "length"
    # STOP, and the rarer reasons (OTHER, MALFORMED_FUNCTION_CALL, ...) kept as native_reason.
    return "tool_calls" if has_tool_calls else "stop"


def usage_from(response: types.GenerateContentResponse) -> Optional[dict[str, Any]]:
    """The response's ``usage_metadata`` as JSON-ready snake_case data (None when absent)."""
    metadata = response.usage_metadata
    if metadata is None:
        return None
    usage: dict[str, Any] = metadata.model_dump(exclude_none=True, mode="json")
    return usage


def _enum_text(value: Any) -> Optional[str]:
    if value is None:
        return None
    text = getattr(value, "value", value)
    return str(text) if text else None


def _block_reason(response: types.GenerateContentResponse) -> Optional[str]:
    feedback = response.prompt_feedback
    return _enum_text(feedback.block_reason) if feedback is not None else None


def _parts(response: types.GenerateContentResponse) -> tuple[list[types.Part], Optional[str]]:
    """The first candidate's parts and finish reason (Gemini answers one candidate by default)."""
    if not response.candidates:
        return [], None
    candidate = response.candidates[0]
    parts = list(candidate.content.parts or ()) if candidate.content is not None else []
    return parts, _enum_text(candidate.finish_reason)


def _tool_call(part: types.Part, index: int) -> ToolCall:
    call = part.function_call
    assert call is not None
    if not call.name:
        raise ProviderError(
            "Gemini sent a function call without a function name", "invalid_response_error", provider=PROVIDER
        )
    return ToolCall(
        # Gemini's own id when it sends one (it must come back in function_response.id).
        id=call.id or new_tool_call_id(),
        type="function",
        function=FunctionCall(name=call.name, arguments=dict(call.args or {})),
        index=index,
        thought_signature=part.thought_signature,
    )


def completion_from(response: types.GenerateContentResponse) -> Completion:
    """A non-streaming answer."""
    usage = usage_from(response)
    blocked = _block_reason(response)
    parts, native = _parts(response)
    if blocked is not None:
        # The prompt itself was refused: no candidate at all.
        return Completion(
            message=AssistantMessage(content=None),
            finish_reason="content_filter",
            usage=usage,
            native_finish_reason=blocked,
        )
    if not response.candidates:
        raise ProviderError("Gemini answered without any candidate", "invalid_response_error", provider=PROVIDER)
    texts: list[str] = []
    calls: list[ToolCall] = []
    signature: Optional[bytes] = None
    for part in parts:
        if part.function_call is not None:
            calls.append(_tool_call(part, len(calls)))
            continue
        if part.thought_signature is not None:
            signature = part.thought_signature
        if part.text and not part.thought:
            texts.append(part.text)
    return Completion(
        message=AssistantMessage(
            content="".join(texts) or None,
            tool_calls=calls or None,
            thought_signature=signature,
        ),
        finish_reason=finish_reason(native, bool(calls)),
        usage=usage,
        native_finish_reason=native,
    )


class StreamTranslator:
    """Turns stream chunks into events as they arrive; :meth:`finish` closes the turn."""

    def __init__(self) -> None:
        self.calls = 0
        self.native: Optional[str] = None
        self.blocked: Optional[str] = None
        self.last: Optional[types.GenerateContentResponse] = None

    def feed(self, chunk: types.GenerateContentResponse) -> Iterator[StreamEvent]:
        """The events of one chunk, in part order."""
        if chunk.usage_metadata is not None:
            # Dumped once, at the end: only the last chunk's (cumulative) counts matter.
            self.last = chunk
        blocked = _block_reason(chunk)
        if blocked is not None:
            self.blocked = blocked
        parts, native = _parts(chunk)
        if native is not None:
            self.native = native
        for part in parts:
            if part.function_call is not None:
                call = _tool_call(part, self.calls)
                self.calls += 1
                yield ToolCallDone(call)
                continue
            if part.text:
                yield ReasoningDelta(part.text) if part.thought else TextDelta(part.text)
            if part.thought_signature is not None:
                yield MessageExtras(thought_signature=part.thought_signature)

    def finish(self) -> Iterator[StreamEvent]:
        """The finish reason, then the last chunk's usage."""
        if self.blocked is not None:
            yield Finish("content_filter", self.blocked)
        elif self.native is not None:
            yield Finish(finish_reason(self.native, self.calls > 0), self.native)
        else:
            raise ProviderError(
                "Gemini's stream ended without a finish reason (cut short?)",
                "invalid_response_error",
                provider=PROVIDER,
            )
        usage = usage_from(self.last) if self.last is not None else None
        if usage is not None:
            yield UsageEvent(usage)


def normalize_usage(usage: Optional[Mapping[str, Any]]) -> NormalizedUsage:
    """Gemini's ``usageMetadata`` (wire camelCase or the SDK's snake_case): thinking is billed as
    output but reported apart from the candidates, tool-use prompts apart from the prompt."""
    if not usage:
        return NormalizedUsage()
    thoughts = count(usage, "thoughts_token_count", "thoughtsTokenCount")
    return NormalizedUsage(
        input_tokens=count(usage, "prompt_token_count", "promptTokenCount")
        + count(usage, "tool_use_prompt_token_count", "toolUsePromptTokenCount"),
        output_tokens=count(usage, "candidates_token_count", "candidatesTokenCount") + thoughts,
        cached_input_tokens=count(usage, "cached_content_token_count", "cachedContentTokenCount"),
        reasoning_tokens=thoughts,
    )
