"""Chat Completions answers -> our :class:`Completion` and normalized stream events."""

from __future__ import annotations

from collections.abc import Mapping
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
from completions_core.assembly import new_tool_call_id, parse_tool_arguments
from completions_core.errors import ProviderError
from completions_core.types import AssistantMessage, FunctionCall, ToolCall

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletion
    from openai.types.completion_usage import CompletionUsage

__all__ = [
    "StreamTranslator",
    "completion_from_response",
    "normalize_finish",
    "parse_arguments",
    "stream_error",
]

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


#: Kept under its old name for callers of this plugin; the parsing itself lives in core.
parse_arguments = parse_tool_arguments


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
class StreamTranslator:
    """One stream's chunks -> StreamEvents; remembers what the stream has shown so far.

    ``finished`` tells a finished stream from one cut short.
    """

    provider: str = "openai"
    finished: bool = False
    refused: bool = False

    def feed(self, chunk: Mapping[str, Any]) -> list[StreamEvent]:
        """The events one stream chunk (its parsed JSON) carries: reasoning, text, tool-call fragments, finish, usage.

        The adapter reads the SSE lines itself and hands the parsed JSON here: building the SDK's
        pydantic chunk objects cost more than everything else on the proxy's per-chunk path
        (bench/README.md).
        """
        try:
            # Most chunks of a stream: one choice whose delta is text alone, and nothing else. The
            # events are what ``_events`` makes of it (a differential test holds them to it).
            choices = chunk.get("choices")
            if type(choices) is list and len(choices) == 1 and not chunk.get("error") and not chunk.get("usage"):
                choice = choices[0]
                if type(choice) is dict and not choice.get("finish_reason") and choice.get("index", 0) == 0:
                    delta = choice.get("delta")
                    if type(delta) is dict and len(delta) == 1:
                        content = delta.get("content")
                        if type(content) is str and content:
                            return [TextDelta(content)]
            return _events(chunk, self, self.provider)
        except (TypeError, AttributeError, ValueError) as exc:
            raise ProviderError(
                f"{self.provider} sent a stream chunk that does not fit the API ({type(exc).__name__})",
                "invalid_response_error",
                provider=self.provider,
            ) from None


def _events(chunk: Mapping[str, Any], state: StreamTranslator, provider: str) -> list[StreamEvent]:
    error = chunk.get("error")
    if error:
        raise stream_error(error, provider)
    events: list[StreamEvent] = []
    for choice in chunk.get("choices") or ():
        if choice.get("index", 0) != 0:
            continue  # we never ask for n > 1
        delta = choice.get("delta")
        if delta:
            reasoning = delta.get("reasoning_content")
            if reasoning and isinstance(reasoning, str):
                events.append(ReasoningDelta(reasoning))
            content = delta.get("content")
            if content:
                events.append(TextDelta(content))
            refusal = delta.get("refusal")
            if refusal:
                state.refused = True
                events.append(TextDelta(refusal))
            for position, call in enumerate(delta.get("tool_calls") or ()):
                fn = call.get("function") or {}
                index = call.get("index")
                events.append(
                    ToolCallDelta(
                        index=index if isinstance(index, int) else position,
                        id=call.get("id") or None,
                        name=fn.get("name") or None,
                        arguments=fn.get("arguments") or "",
                    )
                )
        native = choice.get("finish_reason")
        if native:
            state.finished = True
            reason = normalize_finish(native)
            if state.refused and reason == "stop":
                reason = "content_filter"
            events.append(Finish(reason, native))
    usage = chunk.get("usage")
    if usage:
        events.append(UsageEvent({k: v for k, v in usage.items() if v is not None}))
    return events


def stream_error(error: Any, provider: str) -> ProviderError:
    """An error the provider sent inside a 200 stream (``{"error": {...}}`` as a data event)."""
    body = error if isinstance(error, Mapping) else {}
    code = str(body.get("code") or body.get("type") or "")
    message = str(body.get("message") or f"{provider} failed mid-stream")
    if "rate_limit" in code:
        return ProviderError(message, "rate_limit_error", provider=provider)
    if "overloaded" in code:
        return ProviderError(message, "overloaded_error", provider=provider)
    if "invalid_request" in code or "invalid_parameter" in code:
        return ProviderError(message, "invalid_request_error", provider=provider)
    return ProviderError(message, "provider_error", provider=provider)
