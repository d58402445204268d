"""The one wire codec: dataclasses <-> JSON-ready dicts, used by the client and the proxy.

Decoding is tolerant of what users give (a dataclass or a dict at any level, a provider enum or
its string) and strict about everything else: an unknown field, a wrong type or a missing value
is an :class:`~completions_core.errors.InvalidRequestError` that names the path, e.g.
``messages[2].role``. Bytes (thought signatures) travel as standard base64; URL-safe base64 is
accepted too, because Gemini's SDK re-encodes signatures that way.

A request is decoded once, by :func:`decode_request`, into the strict internal form the engine
and the adapters work on (:class:`~completions_core.request.ProviderRequest`, one per provider to
try); :func:`request_to_wire` encodes that form back for the client.
"""

from __future__ import annotations

from completions_core.codec.chunks import chunk_from_wire, chunk_to_wire, response_from_wire, response_to_wire
from completions_core.codec.messages import (
    bytes_from_wire,
    bytes_to_wire,
    deserialize_conversation,
    message_from_wire,
    message_to_wire,
    serialize_conversation,
    tool_call_from_wire,
    tool_call_to_wire,
    tool_from_wire,
    tool_to_wire,
)
from completions_core.codec.requests import (
    MAX_TIMEOUT,
    MIN_TIMEOUT,
    decode_request,
    request_to_wire,
    retry_from_wire,
    stream_options_from_wire,
)
from completions_core.types import LANGUAGES

__all__ = [
    "LANGUAGES",
    "MAX_TIMEOUT",
    "MIN_TIMEOUT",
    "bytes_from_wire",
    "bytes_to_wire",
    "chunk_from_wire",
    "chunk_to_wire",
    "decode_request",
    "deserialize_conversation",
    "message_from_wire",
    "message_to_wire",
    "request_to_wire",
    "response_from_wire",
    "response_to_wire",
    "retry_from_wire",
    "serialize_conversation",
    "stream_options_from_wire",
    "tool_call_from_wire",
    "tool_call_to_wire",
    "tool_from_wire",
    "tool_to_wire",
]
