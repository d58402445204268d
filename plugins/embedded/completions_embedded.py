"""The embedded provider: answers without a network or a key, deterministically.

It is the proxy's keyless default, the provider the demo uses when no API key is set, and the
template a plugin author copies (see plugins/README.md). Everything a real provider plugin does
is here: a ``register_providers`` hook, a :class:`ProviderAdapter` subclass, a client, a
stream of normalized events with realistic token pacing (the non-streaming answer is the
stream drained by the default ``complete``).

Scripting: ``provider_kwargs={"embedded": {...}}`` with any of

- ``text``: the answer text (default: a reply built from the last user message);
- ``tool_calls``: ``[{"name": ..., "arguments": {...}}]`` to call instead of answering;
- ``finish_reason``: the finish reason to report;
- ``token_delay`` / ``first_token_delay``: seconds between tokens / before the first one
  (defaults from ``COMPLETIONS_EMBEDDED_TOKEN_DELAY`` and ``..._FIRST_TOKEN_DELAY``, else 0.02 / 0.1);
- ``error``: ``{"type": "rate_limit_error", "status": 429, "message": ..., "after_tokens": 0,
  "retry_after": 1.0, "times": N, "key": "..."}`` to fail (the first ``times`` attempts of
  requests with the same ``key``, or always).

Every number is bounded (a 400 naming the bound otherwise): delays and ``retry_after`` from 0 to
60 s, ``status`` from 400 to 599, ``after_tokens`` and ``times`` from 0 to 1000000.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import AsyncIterator, Hashable
from typing import Any, Optional

import anyio

from completions_core.adapter import (
    Credential,
    Finish,
    ProviderAdapter,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    UsageEvent,
)
from completions_core.errors import ERROR_STATUS, InvalidRequestError, ProviderError
from completions_core.hookspecs import Register, hookimpl
from completions_core.request import ProviderRequest
from completions_core.types import ToolResultMessage, UserMessage

__all__ = ["EmbeddedAdapter", "EmbeddedClient", "arguments_from_text", "example_for_schema", "register_providers"]

_TOKEN = re.compile(r"\S+\s*|\s+")
_failures: dict[str, int] = {}


def _env_float(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


class EmbeddedClient:
    """Stands in for an SDK client: it holds nothing but the pacing defaults."""

    def __init__(self) -> None:
        self.token_delay = _env_float("COMPLETIONS_EMBEDDED_TOKEN_DELAY", 0.02)
        self.first_token_delay = _env_float("COMPLETIONS_EMBEDDED_FIRST_TOKEN_DELAY", 0.1)
        self.closed = False

    async def close(self) -> None:
        """Nothing to release; kept so the proxy can treat every client alike."""
        self.closed = True


#: The largest array and string an example holds (a schema asking for more gets this much).
_MAX_EXAMPLE_ITEMS = 64
_MAX_EXAMPLE_CHARS = 4096


def example_for_schema(schema: Any, defs: Optional[dict[str, Any]] = None, depth: int = 0) -> Any:
    """A deterministic value that satisfies a (reasonable) JSON Schema; None for a schema it cannot read."""
    try:
        return _example(schema, defs, depth)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, RecursionError):
        return None


def _example(schema: Any, defs: Optional[dict[str, Any]] = None, depth: int = 0) -> Any:
    if not isinstance(schema, dict) or depth > 12:
        return None
    defs = {**(defs or {}), **schema.get("$defs", {}), **schema.get("definitions", {})}
    if "$ref" in schema:
        target = str(schema["$ref"]).rsplit("/", 1)[-1]
        return _example(defs.get(target, {}), defs, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            options = [s for s in schema[key] if not (isinstance(s, dict) and s.get("type") == "null")]
            return _example((options or schema[key])[0], defs, depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = _example(part, defs, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        props = schema.get("properties", {})
        return {name: _example(sub, defs, depth + 1) for name, sub in props.items()}
    if kind == "array":
        # Bounded whatever the schema says: a caller's minItems of 10**9 must not build a list on the loop.
        count = min(max(1, int(schema.get("minItems", 1))), _MAX_EXAMPLE_ITEMS)
        return [_example(schema.get("items", {"type": "string"}), defs, depth + 1) for _ in range(count)]
    if kind == "string":
        text = "example"
        min_len = min(int(schema.get("minLength", 0)), _MAX_EXAMPLE_CHARS)
        return (text * (1 + min_len // len(text)))[: max(min_len, len(text))][: schema.get("maxLength", 10**6)]
    if kind == "integer":
        return int(schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1 if "exclusiveMinimum" in schema else 1))
    if kind == "number":
        return float(schema.get("minimum", 1.5))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "example"


# A capitalised name after a preposition: "the weather in Paris", "check get_weather for New York".
_NAMED = re.compile(r"\b(?:for|in|at|to|about|of|near|from|called|named)\s+([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")


def arguments_from_text(parameters: Any, text: str) -> dict[str, Any]:
    """Tool-call arguments for ``parameters`` (a JSON Schema) taken from what the user said.

    A property named in the text (``city: Paris``, ``city=Paris``) takes that value; otherwise
    string properties take the capitalised names after a preposition ("the weather in Paris"), in
    order, number properties the numbers, enum properties the first value mentioned. Anything
    the text does not supply keeps a schema-conforming example value.
    """
    example = example_for_schema(parameters)
    arguments: dict[str, Any] = dict(example) if isinstance(example, dict) else {}
    properties = parameters.get("properties") if isinstance(parameters, dict) else None
    if not isinstance(properties, dict):
        return arguments
    names = [match.group(1) for match in _NAMED.finditer(text)]
    numbers = _NUMBER.findall(text)
    for prop, schema in properties.items():
        if not isinstance(schema, dict):
            continue
        value = _value_from_text(str(prop), schema, text, names, numbers)
        if value is not None:
            arguments[prop] = value
    return arguments


def _value_from_text(prop: str, schema: dict[str, Any], text: str, names: list[str], numbers: list[str]) -> Any:
    kind = schema.get("type")
    if isinstance(schema.get("enum"), list):
        for option in schema["enum"]:
            if isinstance(option, str) and re.search(rf"\b{re.escape(option)}\b", text, re.I):
                return option
        return None
    if kind == "string" and not {"pattern", "format", "const"} & set(schema):
        explicit = re.search(rf"\b{re.escape(prop)}\s*[:=]\s*[\"']?([^\"',.;!?]+)", text, re.I)
        value = explicit.group(1).strip() if explicit else (names.pop(0) if names else None)
        if value is None or not int(schema.get("minLength", 0)) <= len(value) <= int(schema.get("maxLength", 10**6)):
            return None
        return value
    if kind in ("integer", "number") and numbers:
        number = float(numbers.pop(0))
        if not float(schema.get("minimum", -math.inf)) <= number <= float(schema.get("maximum", math.inf)):
            return None
        if kind == "integer":
            return int(number) if number.is_integer() else None
        return number
    return None


def _last_user_text(request: ProviderRequest) -> str:
    for message in reversed(request.messages):
        if isinstance(message, UserMessage):
            return message.content
    return ""


def _script(request: ProviderRequest) -> dict[str, Any]:
    return dict(request.provider_kwargs.get("embedded") or {})


_MAX_DELAY = 60.0
_MAX_COUNT = 1_000_000


def _bounded(value: Any, low: float, high: float, path: str, *, integer: bool = False) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not low <= value <= high:
        what = "an integer" if integer else "a number"
        raise InvalidRequestError(f"must be {what} from {low:g} to {high:g} (embedded script bounds)", path)


def check_script(request: ProviderRequest) -> None:
    """Refuse a script whose numbers would make the embedded model sleep for ever or fail oddly."""
    script = _script(request)
    path = "provider_kwargs.embedded"
    for knob in ("token_delay", "first_token_delay"):
        if knob in script:
            _bounded(script[knob], 0, _MAX_DELAY, f"{path}.{knob}")
    calls = script.get("tool_calls")
    if calls is not None and not (
        isinstance(calls, list)
        and all(isinstance(c, dict) and isinstance(c.get("name"), str) and c["name"] for c in calls)
        and all(isinstance(c.get("arguments", {}), (dict, type(None))) for c in calls)
    ):
        raise InvalidRequestError('must be a list of {"name": "...", "arguments": {...}}', f"{path}.tool_calls")
    error = script.get("error")
    if not isinstance(error, dict):
        return
    kind = error.get("type", "provider_error")
    if kind not in ERROR_STATUS:
        raise InvalidRequestError("must be one of the documented error types (e.g. 'rate_limit_error')",
                                  f"{path}.error.type")
    bounds = {"status": (400, 599, True), "after_tokens": (0, _MAX_COUNT, True), "times": (0, _MAX_COUNT, True),
              "retry_after": (0, _MAX_DELAY, False)}
    for knob, (low, high, integer) in bounds.items():
        if error.get(knob) is not None:
            _bounded(error[knob], low, high, f"{path}.error.{knob}", integer=integer)


def _plan(request: ProviderRequest) -> tuple[str, list[tuple[str, dict[str, Any]]], Optional[str]]:
    """(text, tool calls, finish reason) the embedded model will produce."""
    script = _script(request)
    if "text" in script or "tool_calls" in script:
        calls = [(str(c["name"]), dict(c.get("arguments") or {})) for c in script.get("tool_calls") or []]
        return str(script.get("text") or ""), calls, script.get("finish_reason")
    if request.response_schema is not None:
        return json.dumps(_example(request.response_schema)), [], script.get("finish_reason")
    last = request.messages[-1] if request.messages else None
    if request.tools and isinstance(last, UserMessage) and request.tool_choice != "none":
        wanted = None
        for tool in request.tools:
            name = tool.function.name
            if request.tool_choice == name or name.lower() in last.content.lower():
                wanted = tool
                break
        if wanted is None and request.tool_choice == "required":
            wanted = request.tools[0]
        if wanted is not None:
            fn = wanted.function
            return "", [(fn.name, arguments_from_text(fn.parameters, last.content))], script.get("finish_reason")
    if isinstance(last, ToolResultMessage):
        return (
            f"The {last.name or 'tool'} tool returned {json.dumps(last.content, sort_keys=True)}. "
            "That is everything I needed.",
            [],
            script.get("finish_reason"),
        )
    said = _last_user_text(request).strip() or "nothing yet"
    return (
        f"You said: {said} I am the embedded model, so I answer without a network or an API key. "
        "Each sentence you see arrived token by token, and the proxy put it back together. "
        "Set a provider key in the environment to talk to a real model!",
        [],
        script.get("finish_reason"),
    )


def _maybe_fail(request: ProviderRequest, tokens_sent: int) -> None:
    error = _script(request).get("error")
    if not isinstance(error, dict) or tokens_sent != int(error.get("after_tokens", 0)):
        return
    times = error.get("times")
    if times is not None:
        key = str(error.get("key", ""))
        seen = _failures.get(key, 0)
        if seen >= int(times):
            return
        _failures[key] = seen + 1
    raise ProviderError(
        str(error.get("message", "scripted failure")),
        str(error.get("type", "provider_error")),
        provider="embedded",
        status_code=error.get("status"),
        retry_after=error.get("retry_after"),
    )


def _usage(request: ProviderRequest, completion_tokens: int) -> dict[str, Any]:
    prompt = sum(len(str(getattr(m, "content", "") or "").split()) + 3 for m in request.messages)
    return {"prompt_tokens": prompt, "completion_tokens": completion_tokens, "total_tokens": prompt + completion_tokens}


class EmbeddedAdapter(ProviderAdapter):
    """A deterministic model that needs no key; see the module docstring for scripting."""

    name = "embedded"
    requires_key = False

    def client_config(self, request: ProviderRequest, credential: Credential) -> Hashable:
        """One shared client: there is no key and no endpoint (the script is checked here, before any call)."""
        check_script(request)
        return "embedded"

    def create_client(self, config: Any) -> EmbeddedClient:
        """A new stand-in client."""
        return EmbeddedClient()

    async def stream(self, client: EmbeddedClient, request: ProviderRequest) -> AsyncIterator[StreamEvent]:
        """Token by token, then tool-call fragments, finish reason and usage."""
        script = _script(request)
        first = float(script.get("first_token_delay", client.first_token_delay))
        gap = float(script.get("token_delay", client.token_delay))
        text, calls, finish = _plan(request)
        await anyio.sleep(first)
        sent = 0
        for token in _TOKEN.findall(text):
            _maybe_fail(request, sent)
            if sent and gap:
                await anyio.sleep(gap)
            yield TextDelta(token)
            sent += 1
        _maybe_fail(request, sent)
        for index, (name, arguments) in enumerate(calls):
            encoded = json.dumps(arguments)
            yield ToolCallDelta(index=index, id=f"call_emb_{index}", name=name)
            for start in range(0, len(encoded), 7):
                yield ToolCallDelta(index=index, arguments=encoded[start : start + 7])
        yield Finish(finish or ("tool_calls" if calls else "stop"))
        yield UsageEvent(_usage(request, sent + 8 * len(calls)))


@hookimpl
def register_providers(register: Register) -> None:
    """Register the embedded provider."""
    register(EmbeddedAdapter())
