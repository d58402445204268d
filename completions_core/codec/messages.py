"""Messages, tool calls, tools, cache breakpoints and bytes, to and from the wire."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, Optional

from completions_core.codec._fields import (
    _as_mapping,
    _check_keys,
    _int,
    _join,
    _kind,
    _list,
    _object,
    _str,
)
from completions_core.errors import InvalidRequestError
from completions_core.limits import DEFAULT_LIMITS, check_json
from completions_core.types import (
    AssistantMessage,
    CacheBreakpoint,
    ConversationHistory,
    ConversationHistoryMessage,
    FunctionCall,
    FunctionDefinition,
    SystemMessage,
    ToolCall,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
)


def _short(value: Any) -> str:
    """A caller's value for an error message, cut so that a huge value is not echoed back."""
    if isinstance(value, int) and not isinstance(value, bool) and not -(10**18) < value < 10**18:
        return "a very large integer"
    text = repr(value) if isinstance(value, (str, int, float, bool)) or value is None else _kind(value)
    return text if len(text) <= 64 else f"{text[:64]}..."


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
    if len(value) > DEFAULT_LIMITS.max_string_chars:
        raise InvalidRequestError(
            f"is {len(value)} characters long, over the limit of {DEFAULT_LIMITS.max_string_chars} (max_string_chars)",
            path,
        )
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
        raise InvalidRequestError(f"ttl must be '5m' or '1h', got {_short(ttl)}", _join(path, "ttl"))
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
        raise InvalidRequestError(f"type must be 'function', got {_short(call_type)}", _join(path, "type"))
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
        index=_int(data, "index", path, minimum=0, limit="max_tool_call_index"),
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
        raise InvalidRequestError(f"type must be 'function', got {_short(tool_type)}", _join(path, "type"))
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
#: What an unknown field's message calls a message of each role.
_MESSAGE_WHAT = {role: f"a {role} message" for role in _MESSAGE_FIELDS}


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
        # isinstance first: a list or an object as the role must be a 400, not a TypeError.
        if not isinstance(raw_role, str) or raw_role not in _MESSAGE_FIELDS:
            raise InvalidRequestError(
                f"unknown role {_short(raw_role)}; expected one of user, assistant, system, tool", _join(path, "role")
            )
        role = str(raw_role)
    _check_keys(data, _MESSAGE_FIELDS[role], path, _MESSAGE_WHAT[role])
    # An absent optional field (most of them, in a conversation's every message) skips its
    # validator, which would give None for it.
    raw_cache = data.get("cache_breakpoint")
    cache = None if raw_cache is None else _cache_from_wire(raw_cache, _join(path, "cache_breakpoint"))
    vr_id = _vr_id(data, path) if "vr_id" in data else None
    extra: dict[str, Any] = {"vr_id": vr_id} if vr_id else {}
    if role == "user":
        return UserMessage(
            content=_str(data, "content", path, required=True) or "",
            name=_str(data, "name", path) if "name" in data else None,
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
    raw_calls = _list(data, "tool_calls", path, limit="max_tool_calls") if "tool_calls" in data else None
    calls = None
    if raw_calls is not None:
        calls = [tool_call_from_wire(c, f"{_join(path, 'tool_calls')}[{i}]") for i, c in enumerate(raw_calls)]
    signature = data.get("thought_signature")
    return AssistantMessage(
        content=_str(data, "content", path),
        tool_calls=calls,
        cache_breakpoint=cache,
        thought_signature=None if signature is None else bytes_from_wire(signature, _join(path, "thought_signature")),
        provider_state=_provider_state(data, path) if "provider_state" in data else None,
        **extra,
    )


def _provider_state(data: Mapping[str, Any], path: str) -> Optional[dict[str, Any]]:
    state = _object(data, "provider_state", path)
    if state is not None:
        check_json(state, _join(path, "provider_state"))
    return state


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


