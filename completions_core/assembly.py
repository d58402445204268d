"""Turns an adapter's normalized event stream into the documented chunk sequence.

Order on the wire: ``content_delta*`` (or ``content_sentence*``), ``tool_call*``,
``finish_reason``, ``usage``, ``response``. Streamed tool-call fragments are reassembled here,
once for every provider.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Optional

from completions_core.errors import ProviderError
from completions_core.events import (
    Completion,
    Finish,
    MessageExtras,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallDone,
    UsageEvent,
)
from completions_core.jsonutil import loads
from completions_core.types import (
    AssistantMessage,
    ChatCompletionChunk,
    ChatCompletionResponse,
    ContentDeltaChunk,
    ContentSentenceChunk,
    FinalResponseChunk,
    FinishReasonChunk,
    FunctionCall,
    StreamOptions,
    ToolCall,
    ToolCallChunk,
    UsageChunk,
)

__all__ = [
    "ResponseAssembler",
    "ToolCallAssembler",
    "new_tool_call_id",
    "parse_tool_arguments",
    "response_from_completion",
]


def new_tool_call_id() -> str:
    """An id for a tool call the provider gave none (Gemini, some compatible endpoints)."""
    return "call_" + secrets.token_hex(12)


@dataclass
class _PendingCall:
    index: int
    id: Optional[str] = None
    name: Optional[str] = None
    parts: list[str] = field(default_factory=list)
    thought_signature: Optional[bytes] = None


class ToolCallAssembler:
    """Collects tool-call fragments by index and whole tool calls, in the order they started."""

    def __init__(self, provider: str = "") -> None:
        self._provider = provider
        self._pending: dict[int, _PendingCall] = {}
        self._done: list[tuple[int, ToolCall]] = []
        self._order = 0

    def add_delta(self, delta: ToolCallDelta) -> None:
        """Add one fragment."""
        call = self._pending.get(delta.index)
        if call is None:
            call = self._pending[delta.index] = _PendingCall(index=delta.index)
        if delta.id:
            call.id = delta.id
        if delta.name and not call.name:
            call.name = delta.name
        if delta.arguments:
            call.parts.append(delta.arguments)
        if delta.thought_signature is not None:
            call.thought_signature = delta.thought_signature

    def add_whole(self, tool_call: ToolCall) -> None:
        """Add a tool call that arrived whole."""
        self._done.append((10_000 + self._order, tool_call))
        self._order += 1

    def __bool__(self) -> bool:
        return bool(self._pending or self._done)

    def finish(self) -> list[ToolCall]:
        """Parse every pending call's arguments and return all calls, in order, with ids and indexes."""
        calls: list[tuple[int, ToolCall]] = list(self._done)
        for index, pending in self._pending.items():
            if not pending.name:
                raise ProviderError(
                    f"the model streamed a tool call (index {index}) without a function name",
                    "invalid_response_error",
                    provider=self._provider,
                    retryable=False,
                )
            arguments = parse_tool_arguments("".join(pending.parts), pending.name, self._provider)
            calls.append(
                (
                    index,
                    ToolCall(
                        id=pending.id or new_tool_call_id(),
                        type="function",
                        function=FunctionCall(name=pending.name, arguments=arguments),
                        thought_signature=pending.thought_signature,
                    ),
                )
            )
        calls.sort(key=lambda item: item[0])
        result = []
        for position, (_, call) in enumerate(calls):
            if not call.id:
                call.id = new_tool_call_id()
            call.index = position
            result.append(call)
        return result


def _preview(text: str, limit: int = 120) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def parse_tool_arguments(text: Optional[str], tool: str, provider: str) -> dict[str, Any]:
    """A tool call's arguments as a dict; anything but a JSON object is an ``invalid_response_error``.

    Empty text is ``{}`` (some models send "" for a function without parameters).
    """
    text = (text or "").strip()
    if not text:
        return {}
    try:
        value = loads(text)
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


def _default_finish(tool_calls: list[ToolCall]) -> str:
    return "tool_calls" if tool_calls else "stop"


class ResponseAssembler:
    """Feeds adapter events in, gets chunks out; :meth:`finish` closes the turn.

    With ``chunk_by_sentence`` the text goes through a
    :class:`~completions_core.sentences.SentenceChunker`; the final response always carries the
    raw text, exactly as the model produced it.
    """

    def __init__(
        self,
        options: Optional[StreamOptions] = None,
        *,
        provider: str = "",
        model: str = "",
        request_id: Optional[str] = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.request_id = request_id
        self._text: list[str] = []
        self._tools = ToolCallAssembler(provider)
        self._finish: Optional[Finish] = None
        self.usage: Optional[dict[str, Any]] = None
        self._extras = MessageExtras()
        self.sentences = 0
        self._chunker: Any = None
        if options is not None and options.chunk_by_sentence:
            from completions_core.sentences import SentenceChunker

            self._chunker = SentenceChunker(options)

    @property
    def text(self) -> str:
        """The answer text so far."""
        return "".join(self._text)

    def feed(self, event: StreamEvent) -> list[ChatCompletionChunk]:
        """Take one event; return the chunks it completes (often one, sometimes none)."""
        if isinstance(event, TextDelta):
            if not event.text:
                return []
            self._text.append(event.text)
            if self._chunker is None:
                return [ContentDeltaChunk(delta=event.text)]
            sentences = self._chunker.feed(event.text)
            self.sentences += len(sentences)
            return [ContentSentenceChunk(sentence=s) for s in sentences]
        if isinstance(event, ToolCallDelta):
            self._tools.add_delta(event)
        elif isinstance(event, ToolCallDone):
            self._tools.add_whole(event.tool_call)
        elif isinstance(event, Finish):
            self._finish = event
        elif isinstance(event, UsageEvent):
            self.usage = event.usage
        elif isinstance(event, MessageExtras):
            if event.thought_signature is not None:
                self._extras.thought_signature = event.thought_signature
            if event.provider_state is not None:
                self._extras.provider_state = {**(self._extras.provider_state or {}), **event.provider_state}
        elif isinstance(event, ReasoningDelta):
            pass
        return []

    def finish(self) -> list[ChatCompletionChunk]:
        """Flush sentences, then emit tool calls, finish reason, usage and the final response."""
        chunks: list[ChatCompletionChunk] = []
        if self._chunker is not None:
            rest = self._chunker.flush()
            self.sentences += len(rest)
            chunks.extend(ContentSentenceChunk(sentence=s) for s in rest)
        calls = self._tools.finish()
        chunks.extend(ToolCallChunk(tool_call=c) for c in calls)
        reason = self._finish.reason if self._finish is not None else _default_finish(calls)
        if calls and reason == "stop":
            reason = "tool_calls"
        chunks.append(FinishReasonChunk(finish_reason=reason))
        if self.usage is not None:
            chunks.append(UsageChunk(usage=self.usage))
        message = AssistantMessage(
            content="".join(self._text) or None,
            tool_calls=calls or None,
            thought_signature=self._extras.thought_signature,
            provider_state=self._extras.provider_state,
        )
        self.finish_reason = reason
        self.native_finish_reason = self._finish.native_reason if self._finish is not None else None
        self.response = ChatCompletionResponse(
            message=message,
            finish_reason=reason,
            usage=self.usage,
            provider=self.provider,
            model=self.model,
            request_id=self.request_id,
        )
        chunks.append(FinalResponseChunk(response=self.response))
        return chunks


def response_from_completion(
    completion: Completion, *, provider: str, model: str, request_id: Optional[str]
) -> ChatCompletionResponse:
    """Wrap an adapter's non-streaming answer as the documented response, ids on every tool call."""
    message = completion.message
    if message.tool_calls:
        for position, call in enumerate(message.tool_calls):
            if not call.id:
                call.id = new_tool_call_id()
            if call.index is None:
                call.index = position
    return ChatCompletionResponse(
        message=message,
        finish_reason=completion.finish_reason,
        usage=completion.usage,
        provider=provider,
        model=model,
        request_id=request_id,
    )
