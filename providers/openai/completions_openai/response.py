"""Chat Completions answers -> our :class:`Completion` and normalized stream events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from completions_core.adapter import (
    Completion,
    Finish,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    UsageEvent,
)
from completions_core.assembly import new_tool_call_id
from completions_core.errors import ProviderError
from completions_core.types import AssistantMessage, FunctionCall, ToolCall

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletion, ChatCompletionChunk
    from openai.types.completion_usage import CompletionUsage

__all__ = ["StreamState", "completion_from_response", "events_from_chunk", "normalize_finish", "parse_arguments"]

_FINISH_REASONS = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    # The legacy functions API: same meaning as tool_calls.
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def normalize_finish(native: str) -> str:
    """ "stop", "length", "tool_calls" or "content_filter"; any other value is passed on as sent."""
    return _FINISH_REASONS.get(native, native)


def _preview(text: str, limit: int = 120) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def parse_arguments(text: Optional[str], tool: str, provider: str) -> dict[str, Any]:
    """A tool call's arguments as a dict; anything but a JSON object is an ``invalid_response_error``."""
    text = (text or "").strip()
    if not text:
        return {}  # some models send "" for a function without parameters
    try:
        value = json.loads(text)
    except ValueError:
        raise ProviderError(
            f"the model returned invalid JSON arguments for tool {tool!r}: {_preview(text)}",
            "invalid_response_error",
            provider=provider,
            retryable=False,
        ) from None
    if not isinstance(value, dict):
        raise ProviderError(
            f"the model returned arguments for tool {tool!r} that are not a JSON object: {_preview(text)}",
            "invalid_response_error",
            provider=provider,
            retryable=False,
        )
    return value


def _usage(usage: Optional[CompletionUsage]) -> Optional[dict[str, Any]]:
    if usage is None:
        return None
    data: dict[str, Any] = usage.model_dump(mode="json", exclude_none=True)
    return data


def _extra_text(model: Any, key: str) -> Optional[str]:
    # Fields outside OpenAI's schema (e.g. DashScope's reasoning_content) land in model_extra.
    extra = getattr(model, "model_extra", None) or {}
    value = extra.get(key)
    return value if isinstance(value, str) and value else None


def completion_from_response(response: Any, provider: str) -> Completion:
    """The non-streaming answer: message (tool calls parsed), normalized finish reason, native usage."""
    from openai.types.chat import ChatCompletion

    if not isinstance(response, ChatCompletion):
        kind = "text" if isinstance(response, str) else type(response).__name__
        raise ProviderError(
            f"{provider} answered with {kind} instead of a chat completion", "invalid_response_error", provider=provider
        )
    return _completion(response, provider)


def _completion(response: ChatCompletion, provider: str) -> Completion:
    if not response.choices:
        raise ProviderError(f"{provider} answered without any choice", "invalid_response_error", provider=provider)
    choice = response.choices[0]
    message = choice.message
    calls: list[ToolCall] = []
    for call in message.tool_calls or []:
        if call.type != "function":
            continue  # we never offer custom tools, so none can be called
        calls.append(
            ToolCall(
                # OpenAI-compatible endpoints may send an empty id; the next turn needs one.
                id=call.id or new_tool_call_id(),
                type="function",
                function=FunctionCall(
                    name=call.function.name,
                    arguments=parse_arguments(call.function.arguments, call.function.name, provider),
                ),
                index=len(calls),
            )
        )
    native = choice.finish_reason or ("tool_calls" if calls else "stop")
    reason = normalize_finish(native)
    content = message.content
    if message.refusal and not content:
        # A refusal is the model declining: say so instead of returning nothing.
        content, reason = message.refusal, "content_filter"
    return Completion(
        message=AssistantMessage(content=content, tool_calls=calls or None),
        finish_reason=reason,
        usage=_usage(response.usage),
        native_finish_reason=choice.finish_reason,
    )


@dataclass
class StreamState:
    """What a stream has shown so far (to tell a finished stream from one cut short)."""

    finished: bool = False
    refused: bool = False


def events_from_chunk(chunk: ChatCompletionChunk, state: StreamState) -> list[StreamEvent]:
    """The events one stream chunk carries, in order: reasoning, text, tool-call fragments, finish, usage."""
    events: list[StreamEvent] = []
    for choice in chunk.choices or []:
        if choice.index != 0:
            continue  # we never ask for n > 1
        delta = choice.delta
        if delta is not None:
            reasoning = _extra_text(delta, "reasoning_content")
            if reasoning:
                events.append(ReasoningDelta(reasoning))
            if delta.content:
                events.append(TextDelta(delta.content))
            if delta.refusal:
                state.refused = True
                events.append(TextDelta(delta.refusal))
            for position, call in enumerate(delta.tool_calls or []):
                fn = call.function
                events.append(
                    ToolCallDelta(
                        index=call.index if call.index is not None else position,
                        id=call.id or None,
                        name=(fn.name if fn is not None else None) or None,
                        arguments=(fn.arguments if fn is not None else None) or "",
                    )
                )
        if choice.finish_reason:
            state.finished = True
            reason = normalize_finish(choice.finish_reason)
            if state.refused and reason == "stop":
                reason = "content_filter"
            events.append(Finish(reason, choice.finish_reason))
    usage = _usage(chunk.usage)
    if usage is not None:
        events.append(UsageEvent(usage))
    return events
