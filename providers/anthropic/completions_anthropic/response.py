"""How Anthropic's answers become a Completion or a stream of normalized events."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from completions_core.adapter import (
    Completion,
    Finish,
    MessageExtras,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    UsageEvent,
)
from completions_core.errors import ProviderError
from completions_core.types import AssistantMessage, FunctionCall, ToolCall
from completions_core.usage import NormalizedUsage, count, section

from .errors import stream_error
from .request import Plan

__all__ = ["FINISH_REASONS", "StreamTranslator", "completion_from_message", "finish_reason", "normalize_usage"]

#: Anthropic ``stop_reason`` -> normalized finish reason. ``pause_turn`` (a server tool paused a
#: long turn) is reported as "stop" with the native reason kept: this adapter offers no server
#: tools, so the turn is as finished as it will get.
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason(stop_reason: Optional[str], has_tool_calls: bool) -> str:
    """The normalized finish reason (answer-tool calls count as "stop")."""
    reason = FINISH_REASONS.get(stop_reason or "", "stop")
    if reason == "tool_calls" and not has_tool_calls:
        return "stop"
    return reason


def _clean(usage: Any) -> dict[str, Any]:
    """Raw usage without the nulls (as the SDK's exclude_none dump gave it)."""
    return {k: v for k, v in usage.items() if v is not None} if isinstance(usage, Mapping) else {}


def _dump(model: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    return dumped


def _answer_text(value: Any, wrapped: bool, provider: str) -> str:
    if wrapped:
        if not isinstance(value, dict) or "value" not in value:
            raise ProviderError(
                f"{provider} called the answer tool without a value", "invalid_response_error", provider=provider
            )
        value = value["value"]
    return json.dumps(value, ensure_ascii=False)


def completion_from_message(message: Any, plan: Plan, provider: str) -> Completion:
    """A non-streaming Completion from an SDK ``Message``."""
    texts: list[str] = []
    calls: list[ToolCall] = []
    thinking: list[dict[str, Any]] = []
    answer: Optional[str] = None
    for block in message.content:
        kind = block.type
        if kind == "text":
            texts.append(block.text)
        elif kind == "thinking":
            thinking.append({"type": "thinking", "thinking": block.thinking, "signature": block.signature})
        elif kind == "redacted_thinking":
            thinking.append({"type": "redacted_thinking", "data": block.data})
        elif kind == "tool_use":
            if plan.answer_tool is not None and block.name == plan.answer_tool:
                answer = _answer_text(block.input, plan.answer_wrapped, provider)
                continue
            arguments = block.input if isinstance(block.input, dict) else {}
            calls.append(
                ToolCall(
                    id=block.id,
                    type="function",
                    function=FunctionCall(name=block.name, arguments=dict(arguments)),
                    index=len(calls),
                )
            )
        # Server-tool blocks and anything newer carry nothing this API can return.
    content = answer if answer is not None else ("".join(texts) or None)
    return Completion(
        message=AssistantMessage(
            content=content,
            tool_calls=calls or None,
            provider_state={provider: {"thinking": thinking}} if thinking else None,
        ),
        finish_reason=finish_reason(message.stop_reason, bool(calls)),
        usage=_dump(message.usage),
        native_finish_reason=message.stop_reason,
    )


@dataclass
class _Block:
    kind: str
    tool_position: Optional[int] = None
    is_answer: bool = False
    parts: list[str] = field(default_factory=list)
    signature: str = ""
    data: str = ""
    initial_input: Any = None


class StreamTranslator:
    """Turns raw Messages API stream events into normalized events, one event at a time.

    Text, thinking and tool-argument fragments are passed on as they arrive (never buffered),
    except the arguments of a *wrapped* structured answer, which can only be unwrapped whole.
    """

    def __init__(self, plan: Plan, provider: str) -> None:
        self.plan = plan
        self.provider = provider
        self.usage: dict[str, Any] = {}
        self.stop_reason: Optional[str] = None
        self.stopped = False
        self._blocks: dict[int, _Block] = {}
        self._tool_calls = 0
        self._thinking: list[dict[str, Any]] = []

    def feed(self, event: Mapping[str, Any]) -> list[StreamEvent]:
        """The normalized events for one raw stream event (its parsed JSON): often one, sometimes none.

        The adapter parses the SSE lines itself: the SDK's pydantic event objects cost more than
        the rest of the per-chunk path (bench/README.md).
        """
        try:
            if event["type"] == "content_block_delta":
                # The shortcut for most of a stream's events, a text fragment: what ``_delta`` does
                # for a ``text_delta``, without its two calls (tested against the general path in
                # providers/anthropic/tests/test_stream_fast_path.py).
                index = event["index"]
                delta = event["delta"]
                if type(index) is int and type(delta) is dict and delta.get("type") == "text_delta":
                    text = delta.get("text")
                    return [TextDelta(text)] if text else []
                return self._delta(index, delta)
            return self._feed(event)
        except (TypeError, KeyError, AttributeError) as exc:
            raise ProviderError(
                f"{self.provider} sent a stream event that does not fit the API ({type(exc).__name__})",
                "invalid_response_error",
                provider=self.provider,
            ) from None

    def _feed(self, event: Mapping[str, Any]) -> list[StreamEvent]:
        kind = event["type"]
        if kind == "content_block_delta":
            return self._delta(event["index"], event["delta"])
        if kind == "content_block_start":
            return self._start(event["index"], event["content_block"])
        if kind == "content_block_stop":
            return self._stop(event["index"])
        if kind == "message_start":
            self.usage = _clean(event["message"].get("usage"))
        elif kind == "message_delta":
            self.stop_reason = event["delta"].get("stop_reason") or self.stop_reason
            if event.get("usage"):
                # message_delta carries the final counts; fields it leaves out keep the
                # message_start values (older API versions send only output_tokens here).
                self.usage.update(_clean(event["usage"]))
        elif kind == "message_stop":
            self.stopped = True
        elif kind == "error":
            raise stream_error(event, self.provider)
        return []

    def _start(self, index: int, block: Mapping[str, Any]) -> list[StreamEvent]:
        kind = block["type"]
        if kind == "text":
            self._blocks[index] = _Block("text")
            text = block.get("text")
            return [TextDelta(text)] if text else []
        if kind == "thinking":
            self._blocks[index] = _Block("thinking", signature=block.get("signature") or "")
            thinking = block.get("thinking")
            if thinking:
                self._blocks[index].parts.append(thinking)
                return [ReasoningDelta(thinking)]
            return []
        if kind == "redacted_thinking":
            self._blocks[index] = _Block("redacted_thinking", data=block.get("data") or "")
            return []
        if kind == "tool_use":
            raw_input = block.get("input")
            initial = raw_input if isinstance(raw_input, dict) and raw_input else None
            if self.plan.answer_tool is not None and block.get("name") == self.plan.answer_tool:
                self._blocks[index] = _Block("tool_use", is_answer=True, initial_input=initial)
                return []
            position = self._tool_calls
            self._tool_calls += 1
            self._blocks[index] = _Block("tool_use", tool_position=position, initial_input=initial)
            return [ToolCallDelta(index=position, id=block.get("id"), name=block.get("name"))]
        return []

    def _delta(self, index: int, delta: Mapping[str, Any]) -> list[StreamEvent]:
        block = self._blocks.get(index)
        kind = delta["type"]
        if kind == "text_delta":
            text = delta.get("text")
            return [TextDelta(text)] if text else []
        if block is None:
            return []
        if kind == "input_json_delta":
            fragment = delta.get("partial_json")
            if not fragment:
                return []
            block.parts.append(fragment)
            if block.is_answer:
                # An object answer streams as the JSON text itself; a wrapped one waits for its end.
                return [] if self.plan.answer_wrapped else [TextDelta(fragment)]
            if block.tool_position is None:
                raise ProviderError(
                    f"{self.provider} sent tool input for a content block that is not a tool call",
                    "invalid_response_error",
                    provider=self.provider,
                )
            return [ToolCallDelta(index=block.tool_position, arguments=fragment)]
        if kind == "thinking_delta":
            thinking = delta.get("thinking")
            if not thinking:
                return []
            block.parts.append(thinking)
            return [ReasoningDelta(thinking)]
        if kind == "signature_delta":
            block.signature += delta.get("signature") or ""
        return []

    def _stop(self, index: int) -> list[StreamEvent]:
        block = self._blocks.get(index)
        if block is None:
            return []
        if block.kind == "thinking":
            self._thinking.append({"type": "thinking", "thinking": "".join(block.parts), "signature": block.signature})
        elif block.kind == "redacted_thinking":
            self._thinking.append({"type": "redacted_thinking", "data": block.data})
        elif block.kind == "tool_use":
            return self._tool_stop(block)
        return []

    def _tool_stop(self, block: _Block) -> list[StreamEvent]:
        if block.parts and not (block.is_answer and self.plan.answer_wrapped):
            return []
        # No argument fragments came (the input arrived whole in content_block_start), or the
        # answer is wrapped and can only now be unwrapped.
        text = "".join(block.parts)
        value = json.loads(text) if text.strip() else (block.initial_input or {})
        if block.is_answer:
            return [TextDelta(_answer_text(value, self.plan.answer_wrapped, self.provider))]
        if block.initial_input is None:
            return []
        assert block.tool_position is not None
        return [ToolCallDelta(index=block.tool_position, arguments=json.dumps(value, ensure_ascii=False))]

    def finish(self) -> list[StreamEvent]:
        """The closing events: signed thinking blocks, finish reason, merged usage."""
        if not self.stopped:
            raise ProviderError(
                f"the {self.provider} stream ended before message_stop",
                "invalid_response_error",
                provider=self.provider,
            )
        events: list[StreamEvent] = []
        if self._thinking:
            events.append(MessageExtras(provider_state={self.provider: {"thinking": self._thinking}}))
        events.append(Finish(finish_reason(self.stop_reason, self._tool_calls > 0), self.stop_reason))
        events.append(UsageEvent(dict(self.usage)))
        return events


def normalize_usage(usage: Optional[Mapping[str, Any]]) -> NormalizedUsage:
    """Anthropic's counts: ``input_tokens`` exclude cache writes and reads, so they are added back."""
    if not usage:
        return NormalizedUsage()
    read = count(usage, "cache_read_input_tokens")
    write = count(usage, "cache_creation_input_tokens")
    return NormalizedUsage(
        input_tokens=count(usage, "input_tokens") + read + write,
        output_tokens=count(usage, "output_tokens"),
        cached_input_tokens=read,
        cache_write_tokens=write,
        reasoning_tokens=count(section(usage, "output_tokens_details"), "thinking_tokens", "reasoning_tokens"),
    )
