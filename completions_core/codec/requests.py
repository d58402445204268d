"""Requests, fallbacks, retry configuration and stream options, to and from the wire."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from completions_core.codec._fields import (
    _as_mapping,
    _bool,
    _check_keys,
    _int,
    _join,
    _kind,
    _list,
    _number,
    _object,
    _str,
)
from completions_core.codec.messages import _messages_from_wire, message_to_wire, tool_from_wire, tool_to_wire
from completions_core.errors import InvalidRequestError
from completions_core.limits import DEFAULT_LIMITS, check_json
from completions_core.request import DEFAULT_RETRY, ProviderRequest, RetryPolicy
from completions_core.types import LANGUAGES, CompletionsProvider, RetryConfiguration, StreamOptions, ToolDefinition

# --- requests --------------------------------------------------------------------------------

_RETRY_FIELDS = frozenset({"enabled", "max_retries", "retry_delay", "backoff_multiplier"})


def retry_from_wire(value: Any, path: str = "retry") -> Optional[RetryConfiguration]:
    """Decode a retry configuration (None stays None)."""
    if value is None:
        return None
    data = _as_mapping(value, path, "a retry configuration")
    _check_keys(data, _RETRY_FIELDS, path, "retry")
    default = RetryConfiguration()
    max_retries = _int(data, "max_retries", path, minimum=0, limit="max_retries")
    delay = _number(data, "retry_delay", path, minimum=0, limit="max_retry_delay")
    multiplier = _number(data, "backoff_multiplier", path, minimum=1, limit="max_backoff_multiplier")
    return RetryConfiguration(
        enabled=_bool(data, "enabled", path, default.enabled),
        max_retries=default.max_retries if max_retries is None else max_retries,
        retry_delay=default.retry_delay if delay is None else delay,
        backoff_multiplier=default.backoff_multiplier if multiplier is None else multiplier,
    )


#: Bounds of ``timeout``: below 10 ms no provider can answer; above an hour nobody is waiting.
MIN_TIMEOUT, MAX_TIMEOUT = DEFAULT_LIMITS.min_timeout, DEFAULT_LIMITS.max_timeout

_COMMON_FIELDS = (
    "provider", "model", "messages", "temperature", "tools", "tool_choice", "timeout", "max_tokens",
    "response_schema", "retry", "provider_kwargs",
)
_REQUEST_FIELDS = frozenset((*_COMMON_FIELDS, "fallbacks"))
#: Top-level fields of the wire request that the proxy takes out before the codec sees the rest.
WIRE_ONLY_FIELDS = frozenset({"stream", "stream_options", "credentials"})
_FALLBACK_FIELDS = frozenset(_COMMON_FIELDS)


_EXAMPLE_PROVIDERS = ", ".join(repr(str(p)) for p in list(CompletionsProvider)[:2])


def _provider(data: Mapping[str, Any], path: str, *, required: bool) -> Optional[str]:
    value = data.get("provider")
    if value is None:
        if required:
            raise InvalidRequestError(f"is required (e.g. {_EXAMPLE_PROVIDERS})", _join(path, "provider"))
        return None
    if not isinstance(value, str) or not value:
        raise InvalidRequestError(f"expected a provider name, got {_kind(value)}", _join(path, "provider"))
    name = _str(data, "provider", path, limit="max_provider_chars")
    return None if name is None else str(name)  # a CompletionsProvider becomes its plain value


def _common_fields(data: Mapping[str, Any], path: str, *, primary: bool) -> dict[str, Any]:
    # Absent optional fields (most of them, in most requests) are not looked at again: each
    # validator below gives None for a field that is not there.
    raw_tools = _list(data, "tools", path, limit="max_tools") if "tools" in data else None
    tools = None
    if raw_tools is not None:
        tools = [tool_from_wire(t, f"{_join(path, 'tools')}[{i}]") for i, t in enumerate(raw_tools)]
        names = [t.function.name for t in tools]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InvalidRequestError(f"duplicate tool name {dupes[0]!r}", _join(path, "tools"))
    tool_choice = _str(data, "tool_choice", path) if "tool_choice" in data else None
    if tool_choice is not None and tool_choice not in ("none", "auto", "required"):
        if tools is not None and tool_choice not in {t.function.name for t in tools}:
            raise InvalidRequestError(
                f"{tool_choice[:64]!r} is neither 'none', 'auto', 'required' nor the name of a tool in this request",
                _join(path, "tool_choice"),
            )
    provider_kwargs = _object(data, "provider_kwargs", path) if "provider_kwargs" in data else None
    if provider_kwargs is not None:
        check_json(provider_kwargs, _join(path, "provider_kwargs"))
        for key, value in provider_kwargs.items():
            if not isinstance(value, Mapping):
                raise InvalidRequestError(
                    f"expected an object of {key} options, got {_kind(value)}", _join(path, f"provider_kwargs.{key}")
                )
    response_schema = _object(data, "response_schema", path) if "response_schema" in data else None
    if response_schema is not None:
        check_json(response_schema, _join(path, "response_schema"))
    model = _str(data, "model", path, required=primary, limit="max_model_chars")
    if primary and not model:
        raise InvalidRequestError("must not be empty", _join(path, "model"))
    timeout = _number(data, "timeout", path, limit="max_timeout") if "timeout" in data else None
    if timeout is not None and not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:
        raise InvalidRequestError(
            f"must be between {MIN_TIMEOUT:g} (min_timeout) and {MAX_TIMEOUT:g} (max_timeout) seconds, "
            f"got {timeout:g}",
            _join(path, "timeout"),
        )
    provider = _provider(data, path, required=primary)
    messages = _messages_from_wire(data.get("messages"), _join(path, "messages"), required=primary)
    return {
        "provider": provider,
        "model": model,
        "messages": None if messages is None else tuple(messages),
        "temperature": (
            _number(data, "temperature", path, minimum=0, limit="max_temperature") if "temperature" in data else None
        ),
        "tools": None if tools is None else tuple(tools),
        "tool_choice": tool_choice,
        "timeout": timeout,
        "max_tokens": (
            _int(data, "max_tokens", path, minimum=1, limit="max_output_tokens") if "max_tokens" in data else None
        ),
        "response_schema": response_schema,
        "retry": retry_from_wire(data["retry"], _join(path, "retry")) if "retry" in data else None,
        "provider_kwargs": provider_kwargs,
    }


def decode_request(value: Any, *, wire: bool = False) -> tuple[ProviderRequest, ...]:
    """Validate a request (a ``ChatCompletionRequest``, or its dict form at any level) and resolve it.

    The result holds one :class:`~completions_core.request.ProviderRequest` per provider to try:
    the primary first, then each fallback with every field it leaves unset inherited from the
    primary. Messages and tools become dataclasses, the provider a plain string, ``retry`` a
    :class:`~completions_core.request.RetryPolicy` (the documented defaults when the request says
    nothing; None when it turns retries off). ``wire``: the value is the body of a proxy request,
    whose ``stream``, ``stream_options`` and ``credentials`` were taken out before (an unknown
    field's message then lists them too).
    """
    data = _as_mapping(value, "", "a request")
    _check_keys(data, _REQUEST_FIELDS, "", "a request", listed=WIRE_ONLY_FIELDS if wire else frozenset())
    primary = _common_fields(data, "", primary=True)
    out = [_provider_request(primary)]
    raw_fallbacks = _list(data, "fallbacks", "", limit="max_fallbacks")
    for i, raw in enumerate(raw_fallbacks or ()):
        fpath = f"fallbacks[{i}]"
        fdata = _as_mapping(raw, fpath, "a fallback request")
        _check_keys(fdata, _FALLBACK_FIELDS, fpath, "a fallback request")
        fields = _common_fields(fdata, fpath, primary=False)
        # Every field a fallback leaves unset is the primary's (the documented inheritance).
        out.append(_provider_request({k: primary[k] if v is None else v for k, v in fields.items()}))
    return tuple(out)


def _provider_request(fields: Mapping[str, Any]) -> ProviderRequest:
    retry: Optional[RetryConfiguration] = fields["retry"]
    tools: Optional[tuple[ToolDefinition, ...]] = fields["tools"]
    kwargs: Optional[dict[str, Any]] = fields["provider_kwargs"]
    return ProviderRequest(
        provider=fields["provider"],
        model=fields["model"],
        messages=fields["messages"],
        temperature=fields["temperature"],
        tools=() if tools is None else tools,
        tool_choice=fields["tool_choice"],
        timeout=fields["timeout"],
        max_tokens=fields["max_tokens"],
        response_schema=fields["response_schema"],
        retry=_policy(retry),
        provider_kwargs={} if kwargs is None else kwargs,
    )


def _policy(retry: Optional[RetryConfiguration]) -> Optional[RetryPolicy]:
    """No ``retry`` means the documented defaults; ``{"enabled": false}`` turns retries off."""
    if retry is None:
        return DEFAULT_RETRY
    if not retry.enabled:
        return None
    policy = RetryPolicy(retry.max_retries, retry.retry_delay, retry.backoff_multiplier)
    return DEFAULT_RETRY if policy == DEFAULT_RETRY else policy


def _retry_to_wire(policy: Optional[RetryPolicy]) -> dict[str, Any]:
    if policy is None:
        return {"enabled": False}
    return {"enabled": True, **dataclasses.asdict(policy)}


def _fields_to_wire(request: ProviderRequest, primary: Optional[ProviderRequest]) -> dict[str, Any]:
    """``request``'s fields; for a fallback (``primary`` given) only those that differ from the primary's."""

    def differs(name: str) -> bool:
        mine = getattr(request, name)
        if primary is None:
            return mine is not None
        theirs = getattr(primary, name)
        # Inherited values are the primary's own objects: the identity test spares comparing them.
        return mine is not theirs and mine != theirs

    out: dict[str, Any] = {}
    if differs("provider"):
        out["provider"] = request.provider
    if differs("model"):
        out["model"] = request.model
    if differs("messages"):
        out["messages"] = [message_to_wire(m) for m in request.messages]
    for key in ("temperature", "tool_choice", "timeout", "max_tokens"):
        if differs(key):
            out[key] = getattr(request, key)
    if request.response_schema is not None and differs("response_schema"):
        out["response_schema"] = dict(request.response_schema)
    # An empty list and a missing one mean the same to a primary, not to a fallback (no inheritance).
    if (request.tools or primary is not None) and differs("tools"):
        out["tools"] = [tool_to_wire(t) for t in request.tools]
    if (request.provider_kwargs or primary is not None) and differs("provider_kwargs"):
        out["provider_kwargs"] = {name: dict(options) for name, options in request.provider_kwargs.items()}
    retry, base = request.retry, DEFAULT_RETRY if primary is None else primary.retry
    if retry is not base and retry != base:
        out["retry"] = _retry_to_wire(retry)
    return out


def request_to_wire(requests: Sequence[ProviderRequest]) -> dict[str, Any]:
    """Encode what :func:`decode_request` returned as a JSON-ready request dict.

    Each fallback carries only the fields in which it differs from the primary (the others are
    inherited on the way back in), so a conversation travels once however many fallbacks there are.
    """
    primary, *fallbacks = requests
    out = _fields_to_wire(primary, None)
    if fallbacks:
        out["fallbacks"] = [_fields_to_wire(fallback, primary) for fallback in fallbacks]
    return out


# --- stream options --------------------------------------------------------------------------

_STREAM_OPTION_FIELDS = frozenset(
    {"chunk_by_sentence", "clean_sentences", "min_sentence_length", "punctuation_marks", "punctuation_language",
     "stream_sentences"}
)


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
    marks = _list(data, "punctuation_marks", path, limit="max_punctuation_marks")
    if marks is not None:
        most = DEFAULT_LIMITS.max_punctuation_mark_chars
        for i, mark in enumerate(marks):
            if not isinstance(mark, str) or not mark:
                raise InvalidRequestError("expected a non-empty string", f"{path}.punctuation_marks[{i}]")
            if len(mark) > most:
                raise InvalidRequestError(
                    f"is {len(mark)} characters long, over the limit of {most} (max_punctuation_mark_chars)",
                    f"{path}.punctuation_marks[{i}]",
                )
    language = _str(data, "punctuation_language", path, limit="max_provider_chars")
    if language is not None and language not in LANGUAGES:
        raise InvalidRequestError(
            f"unsupported language {language[:16]!r}; expected one of {', '.join(LANGUAGES)}",
            f"{path}.punctuation_language",
        )
    min_len = _int(data, "min_sentence_length", path, minimum=0, limit="max_min_sentence_length")
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


