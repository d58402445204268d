"""Requests, fallbacks, retry configuration and stream options, to and from the wire."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Optional, cast

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
from completions_core.codec.messages import (
    _messages_from_wire,
    message_from_wire,
    message_to_wire,
    tool_from_wire,
    tool_to_wire,
)
from completions_core.errors import InvalidRequestError
from completions_core.limits import DEFAULT_LIMITS, check_json
from completions_core.types import (
    ChatCompletionRequest,
    FallbackRequest,
    RetryConfiguration,
    StreamOptions,
)

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


def _retry_to_wire(value: Optional[RetryConfiguration]) -> Optional[dict[str, Any]]:
    return None if value is None else dataclasses.asdict(value)


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


def _provider(data: Mapping[str, Any], path: str, *, required: bool) -> Optional[str]:
    value = data.get("provider")
    if value is None:
        if required:
            raise InvalidRequestError("is required (e.g. 'openai', 'anthropic')", _join(path, "provider"))
        return None
    if not isinstance(value, str) or not value:
        raise InvalidRequestError(f"expected a provider name, got {_kind(value)}", _join(path, "provider"))
    return _str(data, "provider", path, limit="max_provider_chars")


def _common_fields(data: Mapping[str, Any], path: str, *, primary: bool) -> dict[str, Any]:
    raw_tools = _list(data, "tools", path, limit="max_tools")
    tools = None
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
                f"{tool_choice[:64]!r} is neither 'none', 'auto', 'required' nor the name of a tool in this request",
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
    model = _str(data, "model", path, required=primary, limit="max_model_chars")
    if primary and not model:
        raise InvalidRequestError("must not be empty", _join(path, "model"))
    timeout = _number(data, "timeout", path, limit="max_timeout")
    if timeout is not None and not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:
        raise InvalidRequestError(
            f"must be between {MIN_TIMEOUT:g} (min_timeout) and {MAX_TIMEOUT:g} (max_timeout) seconds, "
            f"got {timeout:g}",
            _join(path, "timeout"),
        )
    return {
        "provider": _provider(data, path, required=primary),
        "model": model,
        "messages": _messages_from_wire(data.get("messages"), _join(path, "messages"), required=primary),
        "temperature": _number(data, "temperature", path, minimum=0, limit="max_temperature"),
        "tools": tools,
        "tool_choice": tool_choice,
        "timeout": timeout,
        "max_tokens": _int(data, "max_tokens", path, minimum=1, limit="max_output_tokens"),
        "response_schema": response_schema,
        "retry": retry_from_wire(data.get("retry"), _join(path, "retry")),
        "provider_kwargs": provider_kwargs,
    }


def normalize_request(value: Any, *, wire: bool = False) -> ChatCompletionRequest:
    """Validate a request given as a dataclass or a dict, and return it with every part a dataclass.

    The result has ``messages`` as message dataclasses, ``tools`` as ``ToolDefinition``s,
    ``retry`` as ``RetryConfiguration`` and ``fallbacks`` as ``FallbackRequest``s, so that code
    downstream never has to handle both forms. ``wire``: the value is the body of a proxy
    request, whose ``stream``, ``stream_options`` and ``credentials`` were taken out before (an
    unknown field's message then lists them too).
    """
    data = _as_mapping(value, "", "a request")
    _check_keys(data, _REQUEST_FIELDS, "", "a request", listed=WIRE_ONLY_FIELDS if wire else frozenset())
    fields = _common_fields(data, "", primary=True)
    raw_fallbacks = _list(data, "fallbacks", "", limit="max_fallbacks")
    fallbacks = None
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


