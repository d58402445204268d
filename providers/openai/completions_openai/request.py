"""Our request types -> Chat Completions request parameters.

Pure functions with no SDK import: they build the JSON-ready dicts the openai SDK sends as is.
Anything the provider would reject for a reason we can see up front (a schema strict mode cannot
express, a tool result that is not JSON) becomes a ``ProviderError`` of type
``invalid_request_error`` before anything is sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any, Optional

from completions_core.errors import ProviderError
from completions_core.schemas import SchemaError, Target, sanitize_schema
from completions_core.types import (
    AssistantMessage,
    ConversationHistoryMessage,
    SystemMessage,
    ToolChoice,
    ToolDefinition,
    UserMessage,
)

__all__ = ["encode_json", "map_messages", "map_response_format", "map_tool_choice", "map_tools"]

#: What a ``json_schema`` response format's name may look like (OpenAI's documented pattern).
_SCHEMA_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

SchemaTarget = Callable[[bool], Target]


def _invalid(provider: str, message: str) -> ProviderError:
    return ProviderError(message, "invalid_request_error", provider=provider, retryable=False)


def encode_json(value: Any, provider: str, where: str) -> str:
    """Compact JSON text of ``value`` (non-ASCII kept as is)."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise _invalid(provider, f"{where} is not JSON-serializable: {exc}") from None


def map_messages(messages: Sequence[ConversationHistoryMessage], provider: str) -> list[dict[str, Any]]:
    """The ``messages`` array: system/user/assistant (with tool calls)/tool, in order.

    Cache breakpoints are dropped: OpenAI caches long prompt prefixes by itself.
    """
    out: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if isinstance(message, SystemMessage):
            out.append({"role": "system", "content": message.content})
        elif isinstance(message, UserMessage):
            user: dict[str, Any] = {"role": "user", "content": message.content}
            if message.name:
                user["name"] = message.name
            out.append(user)
        elif isinstance(message, AssistantMessage):
            assistant: dict[str, Any] = {"role": "assistant", "content": message.content}
            if message.tool_calls:
                assistant["tool_calls"] = [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {
                            "name": call.function.name,
                            "arguments": encode_json(
                                call.function.arguments, provider, f"messages[{index}].tool_calls[{i}] arguments"
                            ),
                        },
                    }
                    for i, call in enumerate(message.tool_calls)
                ]
            elif message.content is None:
                # An empty assistant turn still has to carry content or tool calls.
                assistant["content"] = ""
            out.append(assistant)
        else:
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": message.tool_call_id,
                    "content": encode_json(message.content, provider, f"messages[{index}].content"),
                }
            )
    return out


def _sanitize(schema: dict[str, Any], target: Target, provider: str, where: str) -> dict[str, Any]:
    try:
        return sanitize_schema(schema, target)
    except SchemaError as exc:
        raise _invalid(provider, f"{where}: {exc}") from None


def map_tools(tools: Sequence[ToolDefinition], target: SchemaTarget, provider: str) -> list[dict[str, Any]]:
    """The ``tools`` array; ``target(strict)`` names the schema dialect for each tool's parameters."""
    out = []
    for index, tool in enumerate(tools):
        fn = tool.function
        strict = fn.strict is True
        function: dict[str, Any] = {
            "name": fn.name,
            "description": fn.description,
            "parameters": _sanitize(fn.parameters, target(strict), provider, f"tools[{index}].function.parameters"),
        }
        if fn.strict is not None:
            function["strict"] = fn.strict
        out.append({"type": "function", "function": function})
    return out


def map_tool_choice(choice: Optional[ToolChoice]) -> Any:
    """``auto``/``none``/``required`` as they are; a function name as a named tool choice."""
    if choice is None or choice in ("auto", "none", "required"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def _schema_name(schema: dict[str, Any]) -> str:
    title = schema.get("title")
    if isinstance(title, str):
        candidate = re.sub(r"[^A-Za-z0-9_-]+", "_", title.strip())[:64].strip("_")
        if candidate and _SCHEMA_NAME.match(candidate):
            return candidate
    return "response"


def map_response_format(schema: dict[str, Any], target: Target, provider: str) -> dict[str, Any]:
    """``response_schema`` as a ``json_schema`` response format: strict when the schema allows it.

    Strict mode cannot express some schemas (a map with arbitrary keys, a value of any type); the
    caller asked for structured output, not for strict mode, so those go out non-strict (OpenAI
    then follows the schema on a best-effort basis) instead of being refused.
    """
    strict = True
    try:
        sanitized = sanitize_schema(schema, target)
    except SchemaError as exc:
        if target != "strict":
            raise _invalid(provider, f"response_schema: {exc}") from None
        sanitized, strict = _sanitize(schema, "json_schema", provider, "response_schema"), False
    return {
        "type": "json_schema",
        "json_schema": {"name": _schema_name(schema), "schema": sanitized, "strict": strict},
    }
