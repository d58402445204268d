"""How a normalized request becomes the keyword arguments of ``messages.create``.

Everything here is pure data mapping: no SDK client, no network. Problems the caller can fix
(too many cache breakpoints, a malformed thinking config, a tool schema we cannot send) are
raised as :class:`~completions_core.errors.ProviderError` ``invalid_request_error`` before
anything leaves the process.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from completions_core.errors import ProviderError
from completions_core.request import ProviderRequest
from completions_core.types import (
    AssistantMessage,
    CacheBreakpoint,
    ConversationHistoryMessage,
    SystemMessage,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
)

__all__ = [
    "ANSWER_TOOL_NAME",
    "DEFAULT_MAX_TOKENS",
    "MAX_CACHE_BREAKPOINTS",
    "Plan",
    "build_request",
    "cache_control",
    "model_family",
]

#: Anthropic's documented limit of ``cache_control`` breakpoints in one request.
MAX_CACHE_BREAKPOINTS = 4
#: ``max_tokens`` sent when the request sets none (Anthropic requires the field). With thinking
#: enabled the default is ``budget_tokens + DEFAULT_MAX_TOKENS``, so the answer keeps this room.
DEFAULT_MAX_TOKENS = 4096
#: Name of the tool that carries a structured answer on models without native structured output.
ANSWER_TOOL_NAME = "structured_output"
_ANSWER_TOOL_DESCRIPTION = (
    "Give your final answer by calling this tool. Its input is the answer and must match the schema exactly."
)
_THINKING_BLOCK_FIELDS = {"thinking": ("thinking", "signature"), "redacted_thinking": ("data",)}


@dataclass
class Plan:
    """What to send, and how to read the answer back.

    ``params`` are keyword arguments for ``messages.create``. ``answer_tool`` names the forced
    tool whose input is the structured answer (None when the answer is plain text or native
    structured output); ``answer_wrapped`` says the schema was not an object and sits under the
    tool input's ``"value"`` key.
    """

    params: dict[str, Any]
    answer_tool: Optional[str] = None
    answer_wrapped: bool = False
    thinking: bool = False
    extra_body: dict[str, Any] = field(default_factory=dict)


def _invalid(message: str, provider: str) -> ProviderError:
    return ProviderError(message, "invalid_request_error", provider=provider, retryable=False)


def model_family(model: str) -> str:
    """The model id without a Vertex ``@version`` suffix (``claude-sonnet-4-5@20250929``)."""
    return model.split("@", 1)[0].strip().lower()


def cache_control(breakpoint: CacheBreakpoint) -> dict[str, str]:
    """Anthropic's ``cache_control`` for a breakpoint (ttl "5m" or "1h")."""
    return {"type": "ephemeral", "ttl": breakpoint.ttl}


def _options(request: ProviderRequest, provider: str, allowed: frozenset[str]) -> dict[str, Any]:
    options = request.provider_kwargs.get(provider) or {}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise _invalid(
            f"provider_kwargs.{provider}: unknown option {unknown[0]!r}; supported: {', '.join(sorted(allowed))}",
            provider,
        )
    return dict(options)


def _thinking(options: Mapping[str, Any], provider: str) -> Optional[dict[str, Any]]:
    thinking = options.get("thinking")
    if thinking is None:
        return None
    if not isinstance(thinking, Mapping) or not isinstance(thinking.get("type"), str):
        raise _invalid(
            f'provider_kwargs.{provider}.thinking must be an object with a "type", e.g. '
            '{"type": "enabled", "budget_tokens": 2048}',
            provider,
        )
    if thinking["type"] == "enabled":
        budget = thinking.get("budget_tokens")
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise _invalid(
                f"provider_kwargs.{provider}.thinking.budget_tokens must be a positive integer when thinking "
                "is enabled",
                provider,
            )
    return dict(thinking)


def _max_tokens(request: ProviderRequest, thinking: Optional[dict[str, Any]], default: int, provider: str) -> int:
    budget = thinking.get("budget_tokens") if thinking and thinking.get("type") == "enabled" else None
    if request.max_tokens is None:
        return default + budget if isinstance(budget, int) else default
    if isinstance(budget, int) and request.max_tokens <= budget:
        raise _invalid(
            f"max_tokens ({request.max_tokens}) must be greater than "
            f"provider_kwargs.{provider}.thinking.budget_tokens ({budget})",
            provider,
        )
    return request.max_tokens


def _thinking_blocks(message: AssistantMessage, provider: str, position: int) -> list[dict[str, Any]]:
    """The signed thinking blocks an earlier turn returned, validated, to send back first."""
    state = (message.provider_state or {}).get(provider)
    if state is None:
        return []
    blocks = state.get("thinking") if isinstance(state, Mapping) else None
    if not isinstance(blocks, list):
        raise _invalid(f"messages[{position}].provider_state.{provider}.thinking must be a list of blocks", provider)
    out = []
    for i, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, Mapping) else None
        fields = _THINKING_BLOCK_FIELDS.get(kind) if isinstance(kind, str) else None
        if fields is None or not all(isinstance(block.get(name), str) for name in fields):
            raise _invalid(
                f"messages[{position}].provider_state.{provider}.thinking[{i}] is not a thinking or "
                "redacted_thinking block",
                provider,
            )
        out.append({"type": kind, **{name: block[name] for name in fields}})
    return out


def _message_blocks(
    message: UserMessage | ToolResultMessage | AssistantMessage, provider: str, position: int
) -> tuple[str, list[dict[str, Any]]]:
    if isinstance(message, UserMessage):
        return "user", [{"type": "text", "text": message.content}]
    if isinstance(message, ToolResultMessage):
        # The result goes back as JSON text: Anthropic reads it as the tool's output verbatim.
        text = json.dumps(message.content, ensure_ascii=False)
        return "user", [{"type": "tool_result", "tool_use_id": message.tool_call_id, "content": text}]
    # An assistant turn. Anthropic wants its thinking blocks (with signatures) first in the turn.
    blocks = _thinking_blocks(message, provider, position)
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls or []:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.function.name, "input": call.function.arguments}
        )
    return "assistant", blocks


def _conversation(
    history: Sequence[ConversationHistoryMessage], provider: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """(system blocks, alternating turns, breakpoints used)."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    breakpoints = 0
    for position, message in enumerate(history):
        if isinstance(message, SystemMessage):
            # Every system message, wherever it stands, joins the one top-level system prompt.
            if message.content:
                block: dict[str, Any] = {"type": "text", "text": message.content}
                if message.cache_breakpoint is not None:
                    block["cache_control"] = cache_control(message.cache_breakpoint)
                    breakpoints += 1
                system.append(block)
            continue
        role, blocks = _message_blocks(message, provider, position)
        if not blocks:
            continue
        if message.cache_breakpoint is not None:
            blocks[-1]["cache_control"] = cache_control(message.cache_breakpoint)
            breakpoints += 1
        if turns and turns[-1]["role"] == role:
            # Anthropic needs alternating roles: consecutive tool results (and a user message
            # after them) become one user turn.
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        if turn["role"] == "user" and len(turn["content"]) > 1:
            # tool_result blocks must lead their user turn; the sort is stable (one block: nothing to sort).
            turn["content"].sort(key=lambda b: b.get("type") != "tool_result")
    return system, turns, breakpoints


def _input_schema(schema: Mapping[str, Any], where: str, provider: str) -> dict[str, Any]:
    from completions_core.schemas import SchemaError, sanitize_schema

    try:
        clean = sanitize_schema(dict(schema), "json_schema")
    except SchemaError as exc:
        raise _invalid(f"{where}: {exc}", provider) from None
    if "type" not in clean and not clean.get("properties"):
        clean = {"type": "object", "properties": {}, **clean}
    return clean


def _tools(tools: Sequence[ToolDefinition], provider: str, strict_ok: bool) -> tuple[list[dict[str, Any]], int]:
    out: list[dict[str, Any]] = []
    breakpoints = 0
    for i, tool in enumerate(tools):
        fn = tool.function
        entry: dict[str, Any] = {
            "name": fn.name,
            "description": fn.description,
            "input_schema": _input_schema(fn.parameters, f"tools[{i}].function.parameters", provider),
        }
        if fn.strict and strict_ok:
            entry["strict"] = True
        if tool.cache_breakpoint is not None:
            entry["cache_control"] = cache_control(tool.cache_breakpoint)
            breakpoints += 1
        out.append(entry)
    return out, breakpoints


def _tool_choice(choice: Optional[str], tool_names: Sequence[str], provider: str) -> Optional[dict[str, Any]]:
    if choice is None or not tool_names:
        return None
    if choice == "auto":
        return {"type": "auto"}
    if choice == "none":
        return {"type": "none"}
    if choice == "required":
        return {"type": "any"}
    if choice not in tool_names:
        raise _invalid(f"tool_choice names {choice!r}, which is not one of the request's tools", provider)
    return {"type": "tool", "name": choice}


def _has_open_object(schema: Any) -> bool:
    """Whether the schema explicitly allows extra properties somewhere (a map/dict type)."""
    if isinstance(schema, dict):
        extra = schema.get("additionalProperties")
        if extra is True or isinstance(extra, dict):
            return True
        return any(_has_open_object(value) for value in schema.values())
    if isinstance(schema, list):
        return any(_has_open_object(value) for value in schema)
    return False


def _native_format(schema: Mapping[str, Any], provider: str) -> Optional[dict[str, Any]]:
    """The ``output_config.format`` for ``schema``, or None when native output cannot express it.

    Native structured output closes every object (``additionalProperties: false``), so a schema
    that explicitly allows extra properties goes through the forced tool instead.
    """
    from anthropic import transform_schema

    clean = _input_schema(schema, "response_schema", provider)
    if _has_open_object(clean):
        return None
    try:
        strict = transform_schema(clean)
    except (ValueError, TypeError):
        return None
    return {"type": "json_schema", "schema": strict}


def build_request(
    request: ProviderRequest,
    *,
    provider: str,
    allowed_options: frozenset[str],
    native_structured_output: bool,
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
) -> Plan:
    """Map ``request`` onto Messages API parameters (see the module docstring for the errors)."""
    options = _options(request, provider, allowed_options)
    thinking = _thinking(options, provider)
    system, messages, breakpoints = _conversation(request.messages, provider)
    tools, tool_breakpoints = _tools(request.tools, provider, strict_ok=native_structured_output)
    breakpoints += tool_breakpoints
    if breakpoints > MAX_CACHE_BREAKPOINTS:
        raise _invalid(
            f"the request has {breakpoints} cache breakpoints; Anthropic allows at most {MAX_CACHE_BREAKPOINTS} "
            "(counting system messages, messages and tool definitions)",
            provider,
        )
    params: dict[str, Any] = {
        "model": request.model,
        "messages": messages,
        "max_tokens": _max_tokens(request, thinking, default_max_tokens, provider),
    }
    plan = Plan(params=params, thinking=bool(thinking and thinking.get("type") != "disabled"))
    if system:
        params["system"] = system
    if thinking is not None:
        params["thinking"] = thinking
    if request.temperature is not None and not plan.thinking:
        # anthropic 2.12 takes temperature only through extra_body; Anthropic refuses any
        # temperature other than the default while thinking, so it is not sent then.
        plan.extra_body["temperature"] = request.temperature
    tool_names = [tool["name"] for tool in tools]
    choice = _tool_choice(request.tool_choice, tool_names, provider)
    if request.response_schema is not None:
        native = _native_format(request.response_schema, provider) if native_structured_output else None
        if native is not None:
            params["output_config"] = {"format": native}
        else:
            choice = _add_answer_tool(plan, tools, tool_names, request, choice, provider)
    if tools:
        params["tools"] = tools
    if choice is not None:
        params["tool_choice"] = choice
    return plan


def _add_answer_tool(
    plan: Plan,
    tools: list[dict[str, Any]],
    tool_names: list[str],
    request: ProviderRequest,
    choice: Optional[dict[str, Any]],
    provider: str,
) -> Optional[dict[str, Any]]:
    """Offer the structured answer as a tool and force a tool call; return the new tool_choice."""
    assert request.response_schema is not None
    if plan.thinking:
        raise _invalid(
            f"response_schema with thinking needs a model with native structured output; {request.model!r} "
            "would need a forced tool call, which Anthropic does not allow while thinking",
            provider,
        )
    name = ANSWER_TOOL_NAME
    while name in tool_names:
        name += "_"
    schema = _input_schema(request.response_schema, "response_schema", provider)
    if schema.get("type") != "object":
        # A tool input is always an object: a list or scalar answer travels under "value".
        schema = {"type": "object", "properties": {"value": schema}, "required": ["value"]}
        plan.answer_wrapped = True
    tools.append({"name": name, "description": _ANSWER_TOOL_DESCRIPTION, "input_schema": schema})
    plan.answer_tool = name
    if choice is not None and choice["type"] == "tool":
        return choice  # the caller forced one of its own tools for this turn
    if tool_names and request.tool_choice != "none":
        return {"type": "any"}  # a real tool call, or the answer
    return {"type": "tool", "name": name}
