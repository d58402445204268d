"""An OpenAI Chat Completions request, translated into the proxy's own request.

The translation builds the native wire form (docs/protocol.md) and hands it to
:func:`~completions_core.codec.decode_request`, so every bound and check of the native route
(message and tool counts, JSON depth and size, timeouts, retry and fallback limits) applies
unchanged; only the OpenAI-specific shape is checked here. Message indexes are kept one to one,
so a path such as ``messages[2].content`` in an error names the caller's own message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from completions_core.adapter import Credential
from completions_core.codec import decode_request, stream_options_from_wire
from completions_core.errors import InvalidRequestError
from completions_core.jsonutil import loads
from completions_core.limits import DEFAULT_LIMITS, check_json
from completions_core.redaction import Secret
from completions_core.request import ProviderRequest
from completions_core.types import StreamOptions
from completions_proxy.openai_compat.models import resolve_model
from completions_proxy.wire import MANAGED

__all__ = [
    "OpenAIRequest",
    "UnsupportedParameter",
    "translate_request",
]

#: Chat Completions fields this front door has no equivalent for (a 400 names the field).
_UNSUPPORTED = frozenset(
    {
        "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs", "metadata",
        "modalities", "prediction", "presence_penalty", "prompt_cache_key", "reasoning_effort",
        "safety_identifier", "seed", "service_tier", "stop", "store", "top_logprobs", "top_p", "verbosity",
        "web_search_options",
    }
)
_OPENAI_FIELDS = frozenset(
    {
        "model", "messages", "tools", "tool_choice", "response_format", "temperature", "max_tokens",
        "max_completion_tokens", "stream", "stream_options", "n", "parallel_tool_calls", "user",
    }
)
#: The proxy's own features, sent by the OpenAI SDKs through ``extra_body``.
_EXTENSIONS = frozenset({"fallbacks", "retry", "provider_kwargs", "timeout", "sentences"})
_FALLBACK_FIELDS = frozenset(
    {"model", "messages", "temperature", "max_tokens", "max_completion_tokens", "timeout", "retry", "provider_kwargs"}
)
_SENTENCE_FIELDS = frozenset({"clean_sentences", "min_sentence_length", "punctuation_marks", "punctuation_language"})
#: Longest customer key accepted in a header (provider keys are well under 300 characters).
_MAX_KEY_CHARS = 1024
KEY_HEADER = "x-provider-api-key"


class UnsupportedParameter(InvalidRequestError):
    """A Chat Completions field (or value) this front door does not support: a 400, never ignored."""


@dataclass
class OpenAIRequest:
    """What the Chat Completions route needs to run a request through the engine."""

    #: The decoded request: the primary, then each fallback (see ``decode_request``).
    requests: tuple[ProviderRequest, ...]
    credentials: dict[str, Credential]
    stream: bool = False
    include_usage: bool = False
    options: StreamOptions = field(default_factory=StreamOptions)
    model: str = ""


# --- messages ----------------------------------------------------------------------------


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _cache(part: Mapping[str, Any], path: str) -> Optional[dict[str, Any]]:
    """``cache_control: {"type": "ephemeral", "ttl"?}`` (the Anthropic spelling) as a breakpoint."""
    control = part.get("cache_control")
    if control is None:
        return None
    if not isinstance(control, Mapping) or control.get("type", "ephemeral") != "ephemeral":
        raise InvalidRequestError('expected {"type": "ephemeral", "ttl": "5m" | "1h"}', f"{path}.cache_control")
    return {"ttl": control.get("ttl", "5m")}


def _text(content: Any, path: str, *, allow_null: bool = False) -> tuple[Optional[str], Optional[dict[str, Any]]]:
    """Text content and the cache breakpoint of its parts: a string, or an array of text parts."""
    if content is None and allow_null:
        return None, None
    if isinstance(content, str):
        return content, None
    if not isinstance(content, list):
        raise InvalidRequestError(f"expected a string or an array of text parts, got {_kind(content)}", path)
    if len(content) > DEFAULT_LIMITS.max_messages:
        raise DEFAULT_LIMITS.too_many("content parts", len(content), "max_messages", path)
    texts: list[str] = []
    breakpoint_: Optional[dict[str, Any]] = None
    for i, part in enumerate(content):
        ppath = f"{path}[{i}]"
        if not isinstance(part, Mapping):
            raise InvalidRequestError(f"expected a content part object, got {_kind(part)}", ppath)
        kind = part.get("type")
        if kind in ("text", "refusal"):
            value = part.get(kind)
            if not isinstance(value, str):
                raise InvalidRequestError(f"expected a string, got {_kind(value)}", f"{ppath}.{kind}")
            texts.append(value)
            breakpoint_ = _cache(part, ppath) or breakpoint_
            continue
        raise UnsupportedParameter(
            f"content parts of type {kind!r} are not supported by this proxy; only 'text' parts are",
            f"{ppath}.type",
        )
    return "\n".join(texts), breakpoint_


def _breakpoint(message: Mapping[str, Any], path: str, from_parts: Optional[dict[str, Any]]) -> Optional[Any]:
    given = message.get("cache_breakpoint")
    if given is not None:
        return given
    return _cache(message, path) or from_parts


_MESSAGE_KEYS = {
    "system": frozenset({"role", "content", "name", "cache_breakpoint", "cache_control"}),
    "user": frozenset({"role", "content", "name", "cache_breakpoint", "cache_control"}),
    "assistant": frozenset({"role", "content", "name", "tool_calls", "refusal", "cache_breakpoint", "cache_control"}),
    "tool": frozenset({"role", "content", "tool_call_id", "cache_breakpoint", "cache_control"}),
}


def _check(data: Mapping[str, Any], allowed: frozenset[str], path: str, what: str) -> None:
    for key in data:
        if key not in allowed:
            raise UnsupportedParameter(
                f"{key!r} is not supported in {what}; supported fields: {', '.join(sorted(allowed))}",
                f"{path}.{key}" if path else str(key),
            )


def _tool_call(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidRequestError(f"expected a tool call object, got {_kind(value)}", path)
    _check(value, frozenset({"id", "type", "function"}), path, "a tool call")
    if value.get("type", "function") != "function":
        raise UnsupportedParameter("only tool calls of type 'function' are supported", f"{path}.type")
    function = value.get("function")
    if not isinstance(function, Mapping):
        raise InvalidRequestError(f"expected an object, got {_kind(function)}", f"{path}.function")
    _check(function, frozenset({"name", "arguments"}), f"{path}.function", "a function call")
    arguments = function.get("arguments")
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        arguments = {}
    call = {"name": function.get("name"), "arguments": arguments}
    return {"id": value.get("id"), "type": "function", "function": call}


def _tool_result(content: Optional[str]) -> Any:
    """A tool message's text: a JSON object as itself, anything else as ``{"result": text}``."""
    text = content or ""
    if text.lstrip().startswith("{"):
        try:
            parsed = loads(text)  # orjson: a hostile nesting depth is a ValueError, not a RecursionError
            check_json(parsed, "content")
        except (ValueError, InvalidRequestError):
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    return {"result": text}


def _messages(value: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise InvalidRequestError(f"expected an array of messages, got {_kind(value)}", path)
    if len(value) > DEFAULT_LIMITS.max_messages:
        raise DEFAULT_LIMITS.too_many("messages", len(value), "max_messages", path)
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for i, message in enumerate(value):
        mpath = f"{path}[{i}]"
        if not isinstance(message, Mapping):
            raise InvalidRequestError(f"expected a message object, got {_kind(message)}", mpath)
        role = message.get("role")
        if role == "developer":
            role = "system"
        if not isinstance(role, str) or role not in _MESSAGE_KEYS:
            raise UnsupportedParameter(
                f"unsupported role {role!r}; expected system, developer, user, assistant or tool", f"{mpath}.role"
            )
        _check(message, _MESSAGE_KEYS[role], mpath, f"a {role} message")
        text, part_cache = _text(message.get("content"), f"{mpath}.content", allow_null=role == "assistant")
        native: dict[str, Any] = {"role": role, "content": text}
        if role == "user" and message.get("name") is not None:
            native["name"] = message["name"]
        if role == "assistant":
            if message.get("refusal") is not None and text is None:
                native["content"] = message["refusal"]
            calls = message.get("tool_calls")
            if calls is not None:
                if not isinstance(calls, list):
                    raise InvalidRequestError(f"expected an array, got {_kind(calls)}", f"{mpath}.tool_calls")
                native["tool_calls"] = [_tool_call(c, f"{mpath}.tool_calls[{j}]") for j, c in enumerate(calls)]
                for call in native["tool_calls"]:
                    if isinstance(call["id"], str) and isinstance(call["function"]["name"], str):
                        names[call["id"]] = call["function"]["name"]
        if role == "tool":
            call_id = message.get("tool_call_id")
            native["tool_call_id"] = call_id
            native["content"] = _tool_result(text)
            if isinstance(call_id, str) and call_id in names:
                native["name"] = names[call_id]
        cache = _breakpoint(message, mpath, part_cache)
        if cache is not None:
            native["cache_breakpoint"] = cache
        out.append(native)
    return out


# --- tools and formats ---------------------------------------------------------------------


def _tools(value: Any) -> Optional[list[dict[str, Any]]]:
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidRequestError(f"expected an array of tools, got {_kind(value)}", "tools")
    if len(value) > DEFAULT_LIMITS.max_tools:
        raise DEFAULT_LIMITS.too_many("tools", len(value), "max_tools", "tools")
    out = []
    for i, tool in enumerate(value):
        path = f"tools[{i}]"
        if not isinstance(tool, Mapping):
            raise InvalidRequestError(f"expected a tool object, got {_kind(tool)}", path)
        if tool.get("type") != "function":
            raise UnsupportedParameter(
                f"tools of type {tool.get('type')!r} are not supported; only 'function' tools are", f"{path}.type"
            )
        _check(tool, frozenset({"type", "function", "cache_breakpoint", "cache_control"}), path, "a tool")
        native: dict[str, Any] = {"type": "function", "function": tool.get("function")}
        cache = _breakpoint(tool, path, None)
        if cache is not None:
            native["cache_breakpoint"] = cache
        out.append(native)
    return out


def _tool_choice(value: Any) -> Optional[str]:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping) and value.get("type") == "function":
        function = value.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            return str(function["name"])
        raise InvalidRequestError('expected {"type": "function", "function": {"name": "..."}}', "tool_choice")
    raise UnsupportedParameter(
        "expected 'auto', 'none', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}", "tool_choice"
    )


def _response_schema(value: Any) -> Optional[dict[str, Any]]:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidRequestError(f"expected an object, got {_kind(value)}", "response_format")
    kind = value.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "object"}
    if kind == "json_schema":
        spec = value.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        if not isinstance(schema, Mapping):
            raise InvalidRequestError("expected a JSON Schema object", "response_format.json_schema.schema")
        return dict(schema)
    raise UnsupportedParameter(
        f"unsupported type {kind!r}; expected 'text', 'json_object' or 'json_schema'", "response_format.type"
    )


def _max_tokens(data: Mapping[str, Any], path: str = "") -> Any:
    given = [k for k in ("max_completion_tokens", "max_tokens") if data.get(k) is not None]
    if len(given) == 2 and data["max_tokens"] != data["max_completion_tokens"]:
        where = f"{path}.max_tokens" if path else "max_tokens"
        raise InvalidRequestError("max_tokens and max_completion_tokens differ; send one of them", where)
    return data[given[0]] if given else None


# --- the request -------------------------------------------------------------------------


def _fallbacks(value: Any, model_map: Mapping[str, tuple[str, str]]) -> Optional[list[dict[str, Any]]]:
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidRequestError(f"expected an array of fallbacks, got {_kind(value)}", "fallbacks")
    if len(value) > DEFAULT_LIMITS.max_fallbacks:
        raise DEFAULT_LIMITS.too_many("fallbacks", len(value), "max_fallbacks", "fallbacks")
    out = []
    for i, item in enumerate(value):
        path = f"fallbacks[{i}]"
        if isinstance(item, str):
            item = {"model": item}
        if not isinstance(item, Mapping):
            raise InvalidRequestError(f"expected 'provider/model' or an object, got {_kind(item)}", path)
        _check(item, _FALLBACK_FIELDS, path, "a fallback")
        provider, model = resolve_model(item.get("model"), model_map, f"{path}.model")
        native: dict[str, Any] = {"provider": provider, "model": model}
        if item.get("messages") is not None:
            native["messages"] = _messages(item["messages"], f"{path}.messages")
        for key in ("temperature", "timeout", "retry", "provider_kwargs"):
            if item.get(key) is not None:
                native[key] = item[key]
        max_tokens = _max_tokens(item, path)
        if max_tokens is not None:
            native["max_tokens"] = max_tokens
        out.append(native)
    return out


def _sentences(value: Any) -> StreamOptions:
    if value is None or value is False:
        return StreamOptions()
    if value is True:
        value = {}
    if not isinstance(value, Mapping):
        raise InvalidRequestError(f"expected true or an object of sentence options, got {_kind(value)}", "sentences")
    _check(value, _SENTENCE_FIELDS, "sentences", "sentence options")
    options, _ = stream_options_from_wire({**value, "chunk_by_sentence": True}, "sentences")
    return options


def _stream_options(value: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, Mapping):
        raise InvalidRequestError(f"expected an object, got {_kind(value)}", "stream_options")
    _check(value, frozenset({"include_usage", "include_obfuscation"}), "stream_options", "stream_options")
    include = value.get("include_usage", False)
    if not isinstance(include, bool):
        raise InvalidRequestError(f"expected true or false, got {_kind(include)}", "stream_options.include_usage")
    return include


def _credentials(providers: list[str], headers: Mapping[str, str]) -> dict[str, Credential]:
    """Managed keys for every provider in the plan, unless the caller sent its own key in a header.

    ``X-Provider-Api-Key`` is the key for the primary provider; ``X-Provider-Api-Key-<provider>``
    is one for that provider (e.g. a fallback's). They apply to this request only.
    """
    out = {name: MANAGED for name in providers}
    for header, value in headers.items():
        name = header.lower()
        if not name.startswith(KEY_HEADER):
            continue
        suffix = name[len(KEY_HEADER) :]
        if suffix and not suffix.startswith("-"):
            continue
        provider = suffix[1:].replace("-", "_") if suffix else providers[0]
        key = value.strip()
        if not key or len(key) > _MAX_KEY_CHARS:
            # The value is never repeated back: it may be a real key with a stray character.
            raise InvalidRequestError(
                f"the header must hold one API key of at most {_MAX_KEY_CHARS} characters", header
            )
        out[provider] = Credential("customer", Secret(key))
    return out


def translate_request(
    data: Any, headers: Mapping[str, str], model_map: Mapping[str, tuple[str, str]]
) -> OpenAIRequest:
    """Translate a Chat Completions body (and its key headers) into the engine's request.

    Raises :class:`InvalidRequestError` (400, or 404 for an unknown model) naming the field.
    """
    if not isinstance(data, Mapping):
        raise InvalidRequestError("the request body must be a JSON object")
    for key in data:
        if data[key] is None or (key == "logprobs" and data[key] is False):
            continue  # an SDK may send an unset field as null
        if key in _UNSUPPORTED:
            raise UnsupportedParameter(f"{key!r} is not supported by this proxy; remove it", str(key))
        if key not in _OPENAI_FIELDS and key not in _EXTENSIONS:
            raise UnsupportedParameter(f"unknown field {key!r}", str(key))
    n = data.get("n")
    if n is not None and n != 1:
        raise UnsupportedParameter("only n=1 is supported (one choice per request)", "n")
    if data.get("parallel_tool_calls") is False:
        raise UnsupportedParameter("parallel_tool_calls=false is not supported; leave it unset", "parallel_tool_calls")
    user = data.get("user")
    if user is not None and not isinstance(user, str):
        raise InvalidRequestError(f"expected a string, got {_kind(user)}", "user")
    stream = data.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise InvalidRequestError(f"expected true or false, got {_kind(stream)}", "stream")
    provider, model = resolve_model(data.get("model"), model_map)
    if "messages" not in data or data["messages"] is None:
        raise InvalidRequestError("is required (an array of messages)", "messages")
    native: dict[str, Any] = {"provider": provider, "model": model, "messages": _messages(data["messages"], "messages")}
    tools = _tools(data.get("tools"))
    if tools is not None:
        native["tools"] = tools
    choice = _tool_choice(data.get("tool_choice"))
    if choice is not None:
        native["tool_choice"] = choice
    schema = _response_schema(data.get("response_format"))
    if schema is not None:
        native["response_schema"] = schema
    for key in ("temperature", "timeout", "retry", "provider_kwargs"):
        if data.get(key) is not None:
            native[key] = data[key]
    max_tokens = _max_tokens(data)
    if max_tokens is not None:
        native["max_tokens"] = max_tokens
    fallbacks = _fallbacks(data.get("fallbacks"), model_map)
    if fallbacks is not None:
        native["fallbacks"] = fallbacks
    requests = decode_request(native)
    providers = [provider] + [f["provider"] for f in fallbacks or []]
    return OpenAIRequest(
        requests=requests,
        credentials=_credentials(providers, headers),
        stream=stream,
        include_usage=_stream_options(data.get("stream_options")),
        options=_sentences(data.get("sentences")),
        model=str(data.get("model")),
    )
