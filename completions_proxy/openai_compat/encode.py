"""The engine's answers as Chat Completions JSON and server-sent events.

A stream is encoded chunk by chunk as the engine yields it: text deltas as ``delta.content``,
each reassembled tool call as two deltas (id and name, then the arguments: the framing OpenAI
itself uses, which every SDK's accumulator understands), the finish reason in its own chunk, the
usage in a last chunk with no choices when ``stream_options.include_usage`` is set, then
``data: [DONE]``. A failure after the first chunk is one ``data: {"error": {...}}`` event, which
the OpenAI SDKs raise as an ``APIError``; no ``[DONE]`` follows it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Optional

from starlette.responses import Response

from completions_core.errors import ERROR_STATUS, ProviderError
from completions_core.jsonutil import dumps
from completions_core.types import (
    ChatCompletionChunk,
    ChatCompletionResponse,
    ContentDeltaChunk,
    ContentSentenceChunk,
    ErrorChunk,
    FinishReasonChunk,
    ToolCall,
    ToolCallChunk,
    UsageChunk,
)
from completions_core.usage import NormalizedUsage
from completions_proxy.openai_compat.errors import error_body, provider_failure_response
from completions_proxy.responses import ChunkStreamResponse
from completions_proxy.turns import Turn

__all__ = ["SSEStreamResponse", "completion_to_openai", "openai_usage"]

SSE = "text/event-stream"
_DONE = b"data: [DONE]\n\n"
_CONTENT_TAIL = b'},"logprobs":null,"finish_reason":null}]}\n\n'


def openai_usage(
    reader: Callable[[Optional[Mapping[str, Any]]], NormalizedUsage], usage: Optional[dict[str, Any]]
) -> Optional[dict[str, Any]]:
    """Provider-native usage as OpenAI's ``usage`` object (details only where the provider reported them)."""
    if usage is None:
        return None
    counts = reader(usage)
    out: dict[str, Any] = {
        "prompt_tokens": counts.input_tokens,
        "completion_tokens": counts.output_tokens,
        "total_tokens": counts.input_tokens + counts.output_tokens,
    }
    if counts.cached_input_tokens or counts.cache_write_tokens:
        out["prompt_tokens_details"] = {
            "cached_tokens": counts.cached_input_tokens,
            "cache_write_tokens": counts.cache_write_tokens,
        }
    if counts.reasoning_tokens:
        out["completion_tokens_details"] = {"reasoning_tokens": counts.reasoning_tokens}
    return out


def _arguments(call: ToolCall) -> str:
    return dumps(call.function.arguments).decode()


def _model(turn: Turn, fallback: str) -> str:
    """Who answered, as ``provider/model`` (after fallbacks, so the caller can tell)."""
    if turn.provider and turn.model:
        return f"{turn.provider}/{turn.model}"
    return fallback


def completion_to_openai(answer: ChatCompletionResponse, turn: Turn, requested: str) -> dict[str, Any]:
    """A whole answer as a ``chat.completion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": answer.message.content, "refusal": None}
    if answer.message.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": _arguments(c)}}
            for c in answer.message.tool_calls
        ]
    out: dict[str, Any] = {
        "id": f"chatcmpl-{turn.request_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": _model(turn, requested),
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": answer.finish_reason}],
        "system_fingerprint": None,
    }
    usage = openai_usage(turn.usage_reader, answer.usage)
    if usage is not None:
        out["usage"] = usage
    return out


class SSEStreamResponse(ChunkStreamResponse):
    """The native stream response (keep-alives, disconnects, drain), encoded as Chat Completions SSE."""

    media_type = SSE
    keepalive_body = b": keep-alive\n\n"

    def __init__(self, *args: Any, turn: Turn, requested: str, include_usage: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.turn = turn
        self.requested = requested
        self.include_usage = include_usage
        self._prefix = b""
        self._content = b""
        self._role_sent = False
        self._tool_calls = 0
        self._sentences = 0

    def _head(self) -> bytes:
        # Everything before the choices is the same in every chunk of the stream: encode it once.
        if not self._prefix:
            head = {
                "id": f"chatcmpl-{self.turn.request_id}",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": _model(self.turn, self.requested),
            }
            self._prefix = b"data: " + dumps(head)[:-1] + b","
            self._content = self._prefix + b'"choices":[{"index":0,"delta":{"content":'
        return self._prefix

    def _delta(self, delta: dict[str, Any], extra: bytes = b"") -> bytes:
        if not self._role_sent:
            self._role_sent = True
            delta = {"role": "assistant", **delta}
        return (
            self._head() + b'"choices":[{"index":0,"delta":' + dumps(delta) + b',"logprobs":null,"finish_reason":null}]'
            + extra + b"}\n\n"
        )

    def encode(self, chunk: ChatCompletionChunk) -> bytes:
        """One native chunk as zero, one or two SSE events."""
        if isinstance(chunk, ContentDeltaChunk):
            if self._role_sent:
                # The hot path (one event per token): only the text is encoded.
                return self._content + dumps(chunk.delta) + _CONTENT_TAIL
            return self._delta({"content": chunk.delta})
        if isinstance(chunk, ContentSentenceChunk):
            # Sentences arrive without the space between them; the content keeps one.
            text = chunk.sentence if not self._sentences else " " + chunk.sentence
            self._sentences += 1
            return self._delta({"content": text}, b',"sentence":' + dumps(chunk.sentence))
        if isinstance(chunk, ToolCallChunk):
            call = chunk.tool_call
            index = self._tool_calls
            self._tool_calls += 1
            opening = {"index": index, "id": call.id, "type": "function", "function": {"name": call.function.name,
                                                                                    "arguments": ""}}
            arguments = {"index": index, "function": {"arguments": _arguments(call)}}
            return self._delta({"tool_calls": [opening]}) + self._delta({"tool_calls": [arguments]})
        if isinstance(chunk, FinishReasonChunk):
            return (
                self._head() + b'"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":'
                + dumps(chunk.finish_reason) + b"}]}\n\n"
            )
        if isinstance(chunk, UsageChunk):
            if not self.include_usage:
                return b""
            usage = openai_usage(self.turn.usage_reader, chunk.usage)
            return self._head() + b'"choices":[],"usage":' + dumps(usage) + b"}\n\n"
        if isinstance(chunk, ErrorChunk):
            status = ERROR_STATUS.get(chunk.error_type, 502)
            return b"data: " + dumps(error_body(chunk.error, chunk.error_type, status)) + b"\n\n"
        return b""  # the final response chunk: the client has assembled it already

    def encode_failure(self, exc: ProviderError) -> bytes:
        """A failure after the first event: an error event the OpenAI SDKs raise on."""
        return b"data: " + dumps(error_body(exc.message, exc.error_type, exc.http_status)) + b"\n\n"

    def encode_end(self) -> bytes:
        """``data: [DONE]`` ends a stream that succeeded."""
        return _DONE

    def failure_response(self, exc: ProviderError, headers: dict[str, str]) -> Response:
        """Every attempt failed before the first chunk: a plain OpenAI-shaped error with its status."""
        return provider_failure_response(exc, headers)
