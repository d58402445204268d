"""The one wire codec: dataclasses <-> JSON-ready dicts, used by the client and the proxy.

Decoding is tolerant of what users give (a dataclass or a dict at any level, a provider enum or
its string) and strict about everything else: an unknown field, a wrong type or a missing value
is an :class:`~completions_core.errors.InvalidRequestError` that names the path, e.g.
``messages[2].role``. Bytes (thought signatures) travel as standard base64; URL-safe base64 is
accepted too, because Gemini's SDK re-encodes signatures that way.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Optional, cast

from completions_core.errors import InvalidRequestError
from completions_core.limits import DEFAULT_LIMITS, check_json
from completions_core.types import (
    AssistantMessage,
    CacheBreakpoint,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
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
    ToolDefinition,
    ToolResultMessage,
    UsageChunk,
    UserMessage,
)

__all__ = [
    "bytes_from_wire",
    "bytes_to_wire",
    "chunk_from_wire",
    "chunk_to_wire",
    "deserialize_conversation",
    "message_from_wire",
    "message_to_wire",
    "normalize_request",
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



# --- small validators ------------------------------------------------------------------------


def _as_mapping(value: Any, path: str, what: str) -> Mapping[str, Any]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return value
    raise InvalidRequestError(f"expected {what} (an object), got {_kind(value)}", path)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _check_keys(data: Mapping[str, Any], allowed: frozenset[str], path: str, what: str) -> None:
    unknown = [k for k in data if k not in allowed]
    if unknown:
        name = unknown[0]
        hint = ""
        if name == "api_key":
            hint = " (provider keys are registered with configure_provider, never sent in a request)"
        raise InvalidRequestError(
            f"unknown field {name!r} in {what}{hint}; allowed fields: {', '.join(sorted(allowed))}",
            _join(path, str(name)),
        )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _str(data: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> Optional[str]:
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidRequestError("is required (a string)", _join(path, key))
        return None
    if not isinstance(value, str):
        raise InvalidRequestError(f"expected a string, got {_kind(value)}", _join(path, key))
    if len(value) > DEFAULT_LIMITS.max_string_chars:
        raise InvalidRequestError(
            f"is {len(value)} characters long, over the limit of {DEFAULT_LIMITS.max_string_chars} (max_string_chars)",
            _join(path, key),
        )
    return value


def _number(data: Mapping[str, Any], key: str, path: str, *, minimum: float | None = None) -> Optional[float]:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidRequestError(f"expected a finite number, got {_kind(value)}", _join(path, key))
    if minimum is not None and value < minimum:
        raise InvalidRequestError(f"must be >= {minimum:g}, got {value!r}", _join(path, key))
    return float(value)


def _int(data: Mapping[str, Any], key: str, path: str, *, minimum: int | None = None) -> Optional[int]:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise InvalidRequestError(f"expected an integer, got {_kind(value)}", _join(path, key))
    if minimum is not None and value < minimum:
        raise InvalidRequestError(f"must be >= {minimum}, got {value!r}", _join(path, key))
    return value


def _bool(data: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidRequestError(f"expected true or false, got {_kind(value)}", _join(path, key))
    return value


def _object(data: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> Optional[dict[str, Any]]:
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidRequestError("is required (an object)", _join(path, key))
        return None
    if not isinstance(value, Mapping):
        raise InvalidRequestError(f"expected an object, got {_kind(value)}", _join(path, key))
    return dict(value)


def _list(data: Mapping[str, Any], key: str, path: str) -> Optional[list[Any]]:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise InvalidRequestError(f"expected an array, got {_kind(value)}", _join(path, key))
    return list(value)


# --- bytes -----------------------------------------------------------------------------------


def bytes_to_wire(value: Optional[bytes]) -> Optional[str]:
    """Encode bytes as standard base64 (None stays None)."""
    return None if value is None else base64.b64encode(value).decode("ascii")


def bytes_from_wire(value: Any, path: str = "") -> Optional[bytes]:
    """Decode standard or URL-safe base64; bytes given directly are kept as they are."""
    if value is None or isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise InvalidRequestError(f"expected base64 text, got {_kind(value)}", path)
    text = value.strip()
    padded = text + "=" * (-len(text) % 4)
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequestError("is not valid base64", path) from exc


# --- cache breakpoints -----------------------------------------------------------------------

_CACHE_FIELDS = frozenset({"ttl"})


def _cache_from_wire(value: Any, path: str) -> Optional[CacheBreakpoint]:
    if value is None:
        return None
    if isinstance(value, CacheBreakpoint):
        data: Mapping[str, Any] = {"ttl": value.ttl}
    else:
        data = _as_mapping(value, path, "a cache breakpoint")
    _check_keys(data, _CACHE_FIELDS, path, "cache_breakpoint")
    ttl = data.get("ttl", "5m")
    if ttl not in ("5m", "1h"):
        raise InvalidRequestError(f"ttl must be '5m' or '1h', got {ttl!r}", _join(path, "ttl"))
    return CacheBreakpoint(ttl=ttl)


def _cache_to_wire(value: Optional[CacheBreakpoint]) -> Optional[dict[str, Any]]:
    return None if value is None else {"ttl": value.ttl}


# --- tool calls and tools --------------------------------------------------------------------

_TOOL_CALL_FIELDS = frozenset({"id", "type", "function", "index", "thought_signature"})
_FUNCTION_CALL_FIELDS = frozenset({"name", "arguments"})


def tool_call_from_wire(value: Any, path: str = "") -> ToolCall:
    """Decode a tool call; ``function.arguments`` may be an object or a JSON string of one."""
    data = _as_mapping(value, path, "a tool call")
    _check_keys(data, _TOOL_CALL_FIELDS, path, "a tool call")
    call_type = data.get("type", "function")
    if call_type != "function":
        raise InvalidRequestError(f"type must be 'function', got {call_type!r}", _join(path, "type"))
    fpath = _join(path, "function")
    fdata = _as_mapping(data.get("function"), fpath, "a function call")
    _check_keys(fdata, _FUNCTION_CALL_FIELDS, fpath, "a function call")
    arguments: Any = fdata.get("arguments")
    if arguments is None:
        arguments = {}
    elif isinstance(arguments, str):
        from completions_core.jsonutil import loads

        try:
            arguments = loads(arguments) if arguments.strip() else {}
        except ValueError as exc:
            raise InvalidRequestError("is not valid JSON", _join(fpath, "arguments")) from exc
    if not isinstance(arguments, Mapping):
        raise InvalidRequestError(f"expected an object, got {_kind(arguments)}", _join(fpath, "arguments"))
    check_json(arguments, _join(fpath, "arguments"))
    return ToolCall(
        id=_str(data, "id", path, required=True) or "",
        type="function",
        function=FunctionCall(name=_str(fdata, "name", fpath, required=True) or "", arguments=dict(arguments)),
        index=_int(data, "index", path, minimum=0),
        thought_signature=bytes_from_wire(data.get("thought_signature"), _join(path, "thought_signature")),
    )


def tool_call_to_wire(call: ToolCall) -> dict[str, Any]:
    """Encode a tool call (``arguments`` stays an object)."""
    out: dict[str, Any] = {
        "id": call.id,
        "type": "function",
        "function": {"name": call.function.name, "arguments": call.function.arguments},
    }
    if call.index is not None:
        out["index"] = call.index
    if call.thought_signature is not None:
        out["thought_signature"] = bytes_to_wire(call.thought_signature)
    return out


_TOOL_FIELDS = frozenset({"type", "function", "cache_breakpoint"})
_FUNCTION_FIELDS = frozenset({"name", "description", "parameters", "strict"})


def tool_from_wire(value: Any, path: str = "") -> ToolDefinition:
    """Decode a tool definition."""
    data = _as_mapping(value, path, "a tool definition")
    _check_keys(data, _TOOL_FIELDS, path, "a tool definition")
    tool_type = data.get("type", "function")
    if tool_type != "function":
        raise InvalidRequestError(f"type must be 'function', got {tool_type!r}", _join(path, "type"))
    fpath = _join(path, "function")
    fdata = _as_mapping(data.get("function"), fpath, "a function definition")
    _check_keys(fdata, _FUNCTION_FIELDS, fpath, "a function definition")
    name = _str(fdata, "name", fpath, required=True) or ""
    if not name:
        raise InvalidRequestError("must not be empty", _join(fpath, "name"))
    strict = fdata.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise InvalidRequestError(f"expected true or false, got {_kind(strict)}", _join(fpath, "strict"))
    parameters = _object(fdata, "parameters", fpath)
    if parameters is not None:
        check_json(parameters, _join(fpath, "parameters"))
    return ToolDefinition(
        type="function",
        function=FunctionDefinition(
            name=name,
            description=_str(fdata, "description", fpath) or "",
            parameters=parameters if parameters is not None else {"type": "object", "properties": {}},
            strict=strict,
        ),
        cache_breakpoint=_cache_from_wire(data.get("cache_breakpoint"), _join(path, "cache_breakpoint")),
    )


def tool_to_wire(tool: ToolDefinition) -> dict[str, Any]:
    """Encode a tool definition."""
    function: dict[str, Any] = {
        "name": tool.function.name,
        "description": tool.function.description,
        "parameters": tool.function.parameters,
    }
    if tool.function.strict is not None:
        function["strict"] = tool.function.strict
    out: dict[str, Any] = {"type": "function", "function": function}
    if tool.cache_breakpoint is not None:
        out["cache_breakpoint"] = _cache_to_wire(tool.cache_breakpoint)
    return out


# --- messages --------------------------------------------------------------------------------

_MESSAGE_FIELDS: dict[str, frozenset[str]] = {
    "user": frozenset({"role", "content", "vr_id", "name", "cache_breakpoint"}),
    "assistant": frozenset(
        {"role", "content", "vr_id", "tool_calls", "cache_breakpoint", "thought_signature", "provider_state"}
    ),
    "system": frozenset({"role", "content", "vr_id", "cache_breakpoint"}),
    "tool": frozenset({"role", "tool_call_id", "content", "vr_id", "name", "cache_breakpoint"}),
}
_MESSAGE_TYPES = (UserMessage, AssistantMessage, SystemMessage, ToolResultMessage)


def _vr_id(data: Mapping[str, Any], path: str) -> Optional[str]:
    value = _str(data, "vr_id", path)
    if value is not None and not (1 <= len(value) <= 64):
        raise InvalidRequestError("must be 1 to 64 characters", _join(path, "vr_id"))
    return value


def message_from_wire(value: Any, path: str = "") -> ConversationHistoryMessage:
    """Decode one message: a message dataclass, or a dict with ``role`` user/assistant/system/tool."""
    if isinstance(value, _MESSAGE_TYPES):
        role = value.role
        data = _as_mapping(value, path, "a message")
    else:
        data = _as_mapping(value, path, "a message")
        raw_role = data.get("role")
        if raw_role not in _MESSAGE_FIELDS:
            raise InvalidRequestError(
                f"unknown role {raw_role!r}; expected one of user, assistant, system, tool", _join(path, "role")
            )
        role = str(raw_role)
    _check_keys(data, _MESSAGE_FIELDS[role], path, f"a {role} message")
    cache = _cache_from_wire(data.get("cache_breakpoint"), _join(path, "cache_breakpoint"))
    vr_id = _vr_id(data, path)
    extra: dict[str, Any] = {"vr_id": vr_id} if vr_id else {}
    if role == "user":
        return UserMessage(
            content=_str(data, "content", path, required=True) or "",
            name=_str(data, "name", path),
            cache_breakpoint=cache,
            **extra,
        )
    if role == "system":
        return SystemMessage(content=_str(data, "content", path, required=True) or "", cache_breakpoint=cache, **extra)
    if role == "tool":
        content = data.get("content")
        if isinstance(content, str):
            # A plain-text tool result is common in user code; wrap it rather than refuse it.
            content = {"result": content}
        if not isinstance(content, Mapping):
            raise InvalidRequestError(
                f"expected a JSON object (the tool result), got {_kind(content)}", _join(path, "content")
            )
        check_json(content, _join(path, "content"))
        return ToolResultMessage(
            tool_call_id=_str(data, "tool_call_id", path, required=True) or "",
            content=dict(content),
            name=_str(data, "name", path),
            cache_breakpoint=cache,
            **extra,
        )
    raw_calls = _list(data, "tool_calls", path)
    calls = None
    if raw_calls is not None:
        calls = [tool_call_from_wire(c, f"{_join(path, 'tool_calls')}[{i}]") for i, c in enumerate(raw_calls)]
    return AssistantMessage(
        content=_str(data, "content", path),
        tool_calls=calls,
        cache_breakpoint=cache,
        thought_signature=bytes_from_wire(data.get("thought_signature"), _join(path, "thought_signature")),
        provider_state=_object(data, "provider_state", path),
        **extra,
    )


def message_to_wire(message: ConversationHistoryMessage) -> dict[str, Any]:
    """Encode one message as a role-tagged dict, keeping ``vr_id``."""
    out: dict[str, Any] = {"role": message.role}
    if isinstance(message, ToolResultMessage):
        out["tool_call_id"] = message.tool_call_id
    out["content"] = message.content
    out["vr_id"] = message.vr_id
    if isinstance(message, (UserMessage, ToolResultMessage)) and message.name is not None:
        out["name"] = message.name
    if isinstance(message, AssistantMessage):
        if message.tool_calls is not None:
            out["tool_calls"] = [tool_call_to_wire(c) for c in message.tool_calls]
        if message.thought_signature is not None:
            out["thought_signature"] = bytes_to_wire(message.thought_signature)
        if message.provider_state is not None:
            out["provider_state"] = message.provider_state
    if message.cache_breakpoint is not None:
        out["cache_breakpoint"] = _cache_to_wire(message.cache_breakpoint)
    return out


def _messages_from_wire(value: Any, path: str, *, required: bool) -> Optional[ConversationHistory]:
    if value is None:
        if required:
            raise InvalidRequestError("is required (a list of messages)", path)
        return None
    if not isinstance(value, (list, tuple)):
        raise InvalidRequestError(f"expected a list of messages, got {_kind(value)}", path)
    if required and not value:
        raise InvalidRequestError("must contain at least one message", path)
    if len(value) > DEFAULT_LIMITS.max_messages:
        raise DEFAULT_LIMITS.too_many("messages", len(value), "max_messages", path)
    return [message_from_wire(m, f"{path}[{i}]") for i, m in enumerate(value)]


def serialize_conversation(conversation: ConversationHistory) -> list[dict[str, Any]]:
    """Turn a conversation into plain JSON-ready dicts (ids, signatures and cache marks kept)."""
    return [message_to_wire(message_from_wire(m, f"[{i}]")) for i, m in enumerate(conversation)]


def deserialize_conversation(data: list[dict[str, Any]]) -> ConversationHistory:
    """Rebuild a conversation from :func:`serialize_conversation`'s output."""
    return _messages_from_wire(list(data), "", required=False) or []


# --- requests --------------------------------------------------------------------------------

_RETRY_FIELDS = frozenset({"enabled", "max_retries", "retry_delay", "backoff_multiplier"})


def retry_from_wire(value: Any, path: str = "retry") -> Optional[RetryConfiguration]:
    """Decode a retry configuration (None stays None)."""
    if value is None:
        return None
    data = _as_mapping(value, path, "a retry configuration")
    _check_keys(data, _RETRY_FIELDS, path, "retry")
    default = RetryConfiguration()
    max_retries = _int(data, "max_retries", path, minimum=0)
    delay = _number(data, "retry_delay", path, minimum=0)
    multiplier = _number(data, "backoff_multiplier", path, minimum=1)
    return RetryConfiguration(
        enabled=_bool(data, "enabled", path, default.enabled),
        max_retries=default.max_retries if max_retries is None else max_retries,
        retry_delay=default.retry_delay if delay is None else delay,
        backoff_multiplier=default.backoff_multiplier if multiplier is None else multiplier,
    )


def _retry_to_wire(value: Optional[RetryConfiguration]) -> Optional[dict[str, Any]]:
    return None if value is None else dataclasses.asdict(value)


#: Bounds of ``timeout``: below 10 ms no provider can answer; above an hour nobody is waiting.
MIN_TIMEOUT, MAX_TIMEOUT = 0.01, 3600.0

_COMMON_FIELDS = (
    "provider", "model", "messages", "temperature", "tools", "tool_choice", "timeout", "max_tokens",
    "response_schema", "retry", "provider_kwargs",
)
_REQUEST_FIELDS = frozenset((*_COMMON_FIELDS, "fallbacks"))
_FALLBACK_FIELDS = frozenset(_COMMON_FIELDS)


def _provider(data: Mapping[str, Any], path: str, *, required: bool) -> Optional[str]:
    value = data.get("provider")
    if value is None:
        if required:
            raise InvalidRequestError("is required (e.g. 'openai', 'anthropic')", _join(path, "provider"))
        return None
    if not isinstance(value, str) or not value:
        raise InvalidRequestError(f"expected a provider name, got {_kind(value)}", _join(path, "provider"))
    return str(value)


def _common_fields(data: Mapping[str, Any], path: str, *, primary: bool) -> dict[str, Any]:
    raw_tools = _list(data, "tools", path)
    tools = None
    if raw_tools is not None and len(raw_tools) > DEFAULT_LIMITS.max_tools:
        raise DEFAULT_LIMITS.too_many("tools", len(raw_tools), "max_tools", _join(path, "tools"))
    if raw_tools is not None:
        tools = [tool_from_wire(t, f"{_join(path, 'tools')}[{i}]") for i, t in enumerate(raw_tools)]
        names = [t.function.name for t in tools]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InvalidRequestError(f"duplicate tool name {dupes[0]!r}", _join(path, "tools"))
    tool_choice = _str(data, "tool_choice", path)
    if tool_choice is not None and tool_choice not in ("none", "auto", "required"):
        if tools is not None and tool_choice not in {t.function.name for t in tools}:
            raise InvalidRequestError(
                f"{tool_choice!r} is neither 'none', 'auto', 'required' nor the name of a tool in this request",
                _join(path, "tool_choice"),
            )
    provider_kwargs = _object(data, "provider_kwargs", path)
    if provider_kwargs is not None:
        check_json(provider_kwargs, _join(path, "provider_kwargs"))
        for key, value in provider_kwargs.items():
            if not isinstance(value, Mapping):
                raise InvalidRequestError(
                    f"expected an object of {key} options, got {_kind(value)}", _join(path, f"provider_kwargs.{key}")
                )
    response_schema = _object(data, "response_schema", path)
    if response_schema is not None:
        check_json(response_schema, _join(path, "response_schema"))
    model = _str(data, "model", path, required=primary)
    if primary and not model:
        raise InvalidRequestError("must not be empty", _join(path, "model"))
    timeout = _number(data, "timeout", path)
    if timeout is not None and not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:
        raise InvalidRequestError(
            f"must be between {MIN_TIMEOUT:g} and {MAX_TIMEOUT:g} seconds, got {timeout:g}", _join(path, "timeout")
        )
    return {
        "provider": _provider(data, path, required=primary),
        "model": model,
        "messages": _messages_from_wire(data.get("messages"), _join(path, "messages"), required=primary),
        "temperature": _number(data, "temperature", path, minimum=0),
        "tools": tools,
        "tool_choice": tool_choice,
        "timeout": timeout,
        "max_tokens": _int(data, "max_tokens", path, minimum=1),
        "response_schema": response_schema,
        "retry": retry_from_wire(data.get("retry"), _join(path, "retry")),
        "provider_kwargs": provider_kwargs,
    }


def normalize_request(value: Any) -> ChatCompletionRequest:
    """Validate a request given as a dataclass or a dict, and return it with every part a dataclass.

    The result has ``messages`` as message dataclasses, ``tools`` as ``ToolDefinition``s,
    ``retry`` as ``RetryConfiguration`` and ``fallbacks`` as ``FallbackRequest``s, so that code
    downstream never has to handle both forms.
    """
    data = _as_mapping(value, "", "a request")
    _check_keys(data, _REQUEST_FIELDS, "", "a request")
    fields = _common_fields(data, "", primary=True)
    raw_fallbacks = _list(data, "fallbacks", "")
    fallbacks = None
    if raw_fallbacks is not None and len(raw_fallbacks) > DEFAULT_LIMITS.max_fallbacks:
        raise DEFAULT_LIMITS.too_many("fallbacks", len(raw_fallbacks), "max_fallbacks", "fallbacks")
    if raw_fallbacks is not None:
        fallbacks = []
        for i, raw in enumerate(raw_fallbacks):
            fpath = f"fallbacks[{i}]"
            fdata = _as_mapping(raw, fpath, "a fallback request")
            _check_keys(fdata, _FALLBACK_FIELDS, fpath, "a fallback request")
            fallbacks.append(FallbackRequest(**_common_fields(fdata, fpath, primary=False)))
    return ChatCompletionRequest(fallbacks=cast("list[FallbackRequest | dict[str, Any]] | None", fallbacks), **fields)


def _common_to_wire(req: ChatCompletionRequest | FallbackRequest) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if req.provider is not None:
        out["provider"] = str(req.provider)
    if req.model is not None:
        out["model"] = req.model
    if req.messages is not None:
        out["messages"] = [message_to_wire(message_from_wire(m)) for m in req.messages]
    for key in ("temperature", "tool_choice", "timeout", "max_tokens", "response_schema", "provider_kwargs"):
        value = getattr(req, key)
        if value is not None:
            out[key] = value
    if req.tools is not None:
        out["tools"] = [tool_to_wire(tool_from_wire(t)) for t in req.tools]
    if req.retry is not None:
        out["retry"] = _retry_to_wire(retry_from_wire(req.retry))
    return out


def request_to_wire(request: ChatCompletionRequest) -> dict[str, Any]:
    """Encode a normalized request (see :func:`normalize_request`) as a JSON-ready dict."""
    out = _common_to_wire(request)
    if request.fallbacks is not None:
        out["fallbacks"] = [
            _common_to_wire(f if isinstance(f, FallbackRequest) else FallbackRequest(**f)) for f in request.fallbacks
        ]
    return out


# --- stream options --------------------------------------------------------------------------

_STREAM_OPTION_FIELDS = frozenset(
    {"chunk_by_sentence", "clean_sentences", "min_sentence_length", "punctuation_marks", "punctuation_language",
     "stream_sentences"}
)
LANGUAGES = ("en", "zh", "ko", "ja", "es", "fr", "it", "de")


def stream_options_from_wire(value: Any, path: str = "stream_options") -> tuple[StreamOptions, bool]:
    """Decode stream options; the second value says whether the deprecated ``stream_sentences`` was used."""
    if value is None:
        return StreamOptions(), False
    data = _as_mapping(value, path, "stream options")
    _check_keys(data, _STREAM_OPTION_FIELDS, path, "stream options")
    deprecated = "stream_sentences" in data and data["stream_sentences"] is not None
    chunk = _bool(data, "chunk_by_sentence", path, False)
    if deprecated and data.get("chunk_by_sentence") is None:
        chunk = _bool(data, "stream_sentences", path, False)
    marks = _list(data, "punctuation_marks", path)
    if marks is not None:
        for i, mark in enumerate(marks):
            if not isinstance(mark, str) or not mark:
                raise InvalidRequestError("expected a non-empty string", f"{path}.punctuation_marks[{i}]")
    language = _str(data, "punctuation_language", path)
    if language is not None and language not in LANGUAGES:
        raise InvalidRequestError(
            f"unsupported language {language!r}; expected one of {', '.join(LANGUAGES)}",
            f"{path}.punctuation_language",
        )
    min_len = _int(data, "min_sentence_length", path, minimum=0)
    return (
        StreamOptions(
            chunk_by_sentence=chunk,
            clean_sentences=_bool(data, "clean_sentences", path, True),
            min_sentence_length=6 if min_len is None else min_len,
            punctuation_marks=marks,
            punctuation_language=language,
        ),
        deprecated,
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
