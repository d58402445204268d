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

import base64
import functools
import re
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

__all__ = ["StreamTranslator", "completion_from", "finish_reason", "normalize_usage", "usage_from", "wire_usage"]

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
    """Turns stream chunks, JSON as on the wire (camelCase), into events as they arrive;
    :meth:`finish` closes the turn. No SDK object is built per chunk (bench/README.md)."""

    def __init__(self) -> None:
        self.calls = 0
        self.native: Optional[str] = None
        self.blocked: Optional[str] = None
        self.usage: Optional[Mapping[str, Any]] = None

    def feed(self, chunk: Mapping[str, Any]) -> list[StreamEvent]:
        """The events of one chunk, in part order; a chunk that is not a Gemini response is an
        ``invalid_response_error``."""
        try:
            # Most chunks of a stream: one candidate whose content is one text part, no finish
            # reason, no prompt feedback; its usage (cumulative) kept. The events are what
            # ``_feed`` makes of it (a differential test holds them to it).
            candidates = chunk.get("candidates")
            if type(candidates) is list and len(candidates) == 1 and not chunk.get("promptFeedback"):
                candidate = candidates[0]
                if type(candidate) is dict and not candidate.get("finishReason"):
                    content = candidate.get("content")
                    parts = content.get("parts") if type(content) is dict else None
                    if type(parts) is list and len(parts) == 1:
                        part = parts[0]
                        if type(part) is dict and len(part) == 1:
                            text = part.get("text")
                            if type(text) is str and text:
                                usage = chunk.get("usageMetadata")
                                if usage is not None:
                                    self.usage = usage
                                return [TextDelta(text)]
            return self._feed(chunk)
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            raise _unreadable(exc) from None

    def _feed(self, chunk: Mapping[str, Any]) -> list[StreamEvent]:
        usage = chunk.get("usageMetadata")
        if usage is not None:
            # Converted once, at the end: only the last chunk's (cumulative) counts matter.
            self.usage = usage
        feedback = chunk.get("promptFeedback")
        if feedback:
            blocked = feedback.get("blockReason")
            if blocked:
                self.blocked = str(blocked)
        candidates = chunk.get("candidates")
        if not candidates:
            return []
        candidate = candidates[0]
        native = candidate.get("finishReason")
        if native:
            self.native = str(native)
        content = candidate.get("content")
        parts = content.get("parts") if content else None
        events: list[StreamEvent] = []
        for part in parts or ():
            call = part.get("functionCall")
            if call is not None:
                events.append(ToolCallDone(_wire_tool_call(call, part.get("thoughtSignature"), self.calls)))
                self.calls += 1
                continue
            text = part.get("text")
            if text:
                if not isinstance(text, str):
                    raise TypeError("text")
                events.append(ReasoningDelta(text) if part.get("thought") else TextDelta(text))
            signature = part.get("thoughtSignature")
            if signature is not None:
                events.append(MessageExtras(thought_signature=_signature(signature)))
        return events

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
        usage = wire_usage(self.usage) if self.usage is not None else None
        if usage is not None:
            yield UsageEvent(usage)


def _unreadable(exc: BaseException) -> ProviderError:
    return ProviderError(
        f"Gemini sent a stream chunk that could not be read ({type(exc).__name__})",
        "invalid_response_error",
        provider=PROVIDER,
    )


def _signature(value: Any) -> bytes:
    """A ``thoughtSignature`` as bytes: base64, standard or URL-safe, padded or not (as the SDK reads it)."""
    if not isinstance(value, str):
        raise TypeError("thoughtSignature")
    text = value.replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _wire_tool_call(call: Mapping[str, Any], signature: Any, index: int) -> ToolCall:
    name = call.get("name")
    if not name:
        raise ProviderError(
            "Gemini sent a function call without a function name", "invalid_response_error", provider=PROVIDER
        )
    if not isinstance(name, str):
        raise TypeError("functionCall.name")
    args = call.get("args")
    if args is not None and not isinstance(args, Mapping):
        raise TypeError("functionCall.args")
    call_id = call.get("id")
    return ToolCall(
        # Gemini's own id when it sends one (it must come back in function_response.id).
        id=call_id if isinstance(call_id, str) and call_id else new_tool_call_id(),
        type="function",
        function=FunctionCall(name=name, arguments=dict(args or {})),
        index=index,
        thought_signature=_signature(signature) if signature is not None else None,
    )


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


@functools.lru_cache(maxsize=256)
def _snake_key(key: str) -> str:
    # Kept for the few keys a usageMetadata holds (bounded: the keys are the upstream's).
    return _CAMEL.sub("_", key).lower()


def _snake(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {_snake_key(key): _snake(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_snake(item) for item in value]
    return value


def wire_usage(usage: Mapping[str, Any]) -> Optional[dict[str, Any]]:
    """A wire ``usageMetadata`` as :func:`usage_from` gives the SDK's: JSON-ready snake_case, the
    fields google-genai knows (an unknown one is dropped, as the SDK drops it)."""
    if not isinstance(usage, Mapping):
        raise _unreadable(TypeError("usageMetadata"))
    known = _usage_fields()
    return {key: value for key, value in _snake(usage).items() if key in known}


@functools.cache
def _usage_fields() -> frozenset[str]:
    from google.genai import types

    return frozenset(types.GenerateContentResponseUsageMetadata.model_fields)


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
