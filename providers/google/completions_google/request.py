"""How to talk, outbound: a :class:`~completions_core.request.ProviderRequest` as ``generate_content`` arguments.

- System messages are collapsed into ``system_instruction`` (Gemini has exactly one).
- User, assistant and tool turns become ``contents`` with roles ``user`` / ``model``; turns of
  the same role in a row are merged into one content, so tool results answering one model turn
  travel together in a single user turn.
- A tool result becomes a ``function_response`` part, which Gemini needs the function name for:
  ``ToolResultMessage.name``, else the name of the earlier tool call with that ``tool_call_id``.
- Thought signatures go back on the part they came from: a tool call's on its ``function_call``
  part, the message's on its text part.
- Tool parameters and ``response_schema`` are rewritten by
  ``completions_core.schemas.sanitize_schema(schema, "openapi")`` and sent as ``parameters`` /
  ``response_schema`` (the OpenAPI subset every Gemini model accepts; see README.md for why not
  ``parameters_json_schema`` / ``response_json_schema``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import quote

from completions_core.errors import InvalidRequestError
from completions_core.request import ProviderRequest
from completions_core.types import (
    AssistantMessage,
    ConversationHistoryMessage,
    SystemMessage,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
)

from .errors import invalid_request

if TYPE_CHECKING:
    from google.genai import types

__all__ = [
    "MODEL_PATTERN",
    "MODEL_RULE",
    "OPTION_KEYS",
    "GeminiCall",
    "build_contents",
    "build_request",
    "build_tools",
    "check_model",
]

#: The keys ``provider_kwargs["google"]`` may hold.
OPTION_KEYS: frozenset[str] = frozenset({"thinking_config"})
#: A bare Gemini model id: it becomes one URL path segment (``models/{model}:generateContent``).
MODEL_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MODEL_RULE = (
    "a Gemini model id such as gemini-2.5-flash: 1-128 letters, digits and . _ - "
    "(no models/, tunedModels/ or cachedContents/ prefix)"
)


def check_model(model: str) -> None:
    """Refuse a model name outside :data:`MODEL_PATTERN` (a 400 naming the rule, the name not echoed)."""
    if not isinstance(model, str) or not MODEL_PATTERN.fullmatch(model):
        raise InvalidRequestError(f"is not a google model name: use {MODEL_RULE}", "model")


@dataclass
class GeminiCall:
    """The arguments of one ``client.aio.models.generate_content[_stream]`` call."""

    model: str
    contents: list[types.Content]
    config: types.GenerateContentConfig


def build_request(request: ProviderRequest) -> GeminiCall:
    """Map ``request``; a request Gemini cannot take raises an ``invalid_request_error``."""
    from google.genai import types

    check_model(request.model)

    system, contents = build_contents(request.messages)
    if not contents:
        raise invalid_request("Gemini needs at least one user, assistant or tool message besides the system prompt")
    fields: dict[str, Any] = {
        # Tools are declarations here, never Python callables: the SDK must not run a tool loop.
        "automatic_function_calling": types.AutomaticFunctionCallingConfig(disable=True),
    }
    if system is not None:
        fields["system_instruction"] = types.Content(role="user", parts=[types.Part(text=system)])
    tools = request.tools
    if tools:
        fields["tools"] = [build_tools(tools)]
    tool_config = _tool_config(request.tool_choice, tools)
    if tool_config is not None:
        fields["tool_config"] = tool_config
    if request.temperature is not None:
        fields["temperature"] = request.temperature
    if request.max_tokens is not None:
        fields["max_output_tokens"] = request.max_tokens
    if request.response_schema is not None:
        fields["response_mime_type"] = "application/json"
        fields["response_schema"] = _sanitized(request.response_schema, "response_schema")
    thinking = _thinking_config(request.provider_kwargs.get("google"))
    if thinking is not None:
        fields["thinking_config"] = thinking
    if request.timeout is not None:
        # HttpOptions.timeout is in milliseconds (an int); per request it overrides the client's.
        fields["http_options"] = types.HttpOptions(timeout=max(1, math.ceil(request.timeout * 1000)))
    try:
        config = types.GenerateContentConfig(**fields)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise invalid_request(f"Gemini cannot take this request: {_first_line(exc)}") from None
    # Escaped where it enters the URL path (a no-op for every name check_model lets through).
    return GeminiCall(model=quote(request.model, safe=""), contents=contents, config=config)


def build_contents(
    messages: Sequence[ConversationHistoryMessage],
) -> tuple[Optional[str], list[types.Content]]:
    """(system instruction, contents) for a conversation."""
    from google.genai import types

    system: list[str] = []
    contents: list[types.Content] = []
    names: dict[str, str] = {}

    def add(role: str, parts: list[types.Part]) -> None:
        last = contents[-1] if contents else None
        if last is not None and last.role == role and last.parts is not None:
            last.parts.extend(parts)
        else:
            contents.append(types.Content(role=role, parts=parts))

    for position, message in enumerate(messages):
        if isinstance(message, SystemMessage):
            system.append(message.content)
        elif isinstance(message, UserMessage):
            add("user", [types.Part(text=message.content)])
        elif isinstance(message, AssistantMessage):
            for call in message.tool_calls or ():
                if call.id:
                    names[call.id] = call.function.name
            parts = _assistant_parts(message)
            if parts:
                add("model", parts)
        elif isinstance(message, ToolResultMessage):
            name = message.name or names.get(message.tool_call_id)
            if not name:
                raise invalid_request(
                    f"messages[{position}]: Gemini needs the function name of every tool result; this one has no "
                    f"name and no earlier assistant message has a tool call with id {message.tool_call_id!r}"
                )
            response = types.FunctionResponse(id=message.tool_call_id or None, name=name, response=message.content)
            add("user", [types.Part(function_response=response)])
    return ("\n\n".join(system) if system else None), contents


def _assistant_parts(message: AssistantMessage) -> list[types.Part]:
    from google.genai import types

    parts: list[types.Part] = []
    if message.content:
        # The message's signature came on a text part, so it goes back on the text part.
        parts.append(types.Part(text=message.content, thought_signature=message.thought_signature))
    # A signature with no text to ride on is dropped: Gemini refuses an empty text part, and only
    # function-call signatures are validated (those travel on their own parts below).
    for call in message.tool_calls or ():
        function_call = types.FunctionCall(id=call.id or None, name=call.function.name, args=call.function.arguments)
        parts.append(types.Part(function_call=function_call, thought_signature=call.thought_signature))
    return parts


def build_tools(tools: Sequence[ToolDefinition]) -> types.Tool:
    """One Gemini tool holding a function declaration per tool, parameters sanitized."""
    from google.genai import types

    declarations = []
    for position, tool in enumerate(tools):
        function = tool.function
        parameters = _sanitized(function.parameters, f"tools[{position}].function.parameters")
        fields: dict[str, Any] = {"name": function.name, "description": function.description}
        # A function without arguments is declared without parameters: older Gemini models refuse an
        # OBJECT with no properties ("should be non-empty for OBJECT type").
        if parameters and not (set(parameters) <= {"type"} and parameters.get("type") == "object"):
            fields["parameters"] = parameters
        try:
            declarations.append(types.FunctionDeclaration(**fields))
        except ValueError as exc:
            raise invalid_request(
                f"tools[{position}] ({function.name!r}) cannot be declared to Gemini: {_first_line(exc)}"
            ) from None
    return types.Tool(function_declarations=declarations)


def _tool_config(choice: Any, tools: Sequence[ToolDefinition]) -> Optional[types.ToolConfig]:
    from google.genai import types

    if choice is None:
        return None
    if not isinstance(choice, str):
        raise invalid_request(f"tool_choice must be 'none', 'auto', 'required' or a tool name, got {choice!r}")
    if not tools:
        if choice in ("none", "auto"):
            return None
        raise invalid_request(f"tool_choice is {choice!r}, but the request offers no tools")
    mode = types.FunctionCallingConfigMode
    if choice == "auto":
        config = types.FunctionCallingConfig(mode=mode.AUTO)
    elif choice == "none":
        config = types.FunctionCallingConfig(mode=mode.NONE)
    elif choice == "required":
        config = types.FunctionCallingConfig(mode=mode.ANY)
    else:
        if choice not in {tool.function.name for tool in tools}:
            raise invalid_request(f"tool_choice {choice!r} is not the name of a tool in this request")
        config = types.FunctionCallingConfig(mode=mode.ANY, allowed_function_names=[choice])
    return types.ToolConfig(function_calling_config=config)


def _thinking_config(options: Optional[Mapping[str, Any]]) -> Optional[types.ThinkingConfig]:
    from google.genai import types

    if not options:
        return None
    unknown = sorted(set(options) - OPTION_KEYS)
    if unknown:
        supported = ", ".join(sorted(OPTION_KEYS))
        listed = ", ".join(unknown)
        raise invalid_request(f"provider_kwargs.google has unknown option(s) {listed}; supported: {supported}")
    raw = options.get("thinking_config")
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise invalid_request("provider_kwargs.google.thinking_config must be an object")
    try:
        # snake_case (thinking_budget) and camelCase (thinkingBudget) are both accepted.
        return types.ThinkingConfig.model_validate(dict(raw))
    except ValueError as exc:
        raise invalid_request(f"provider_kwargs.google.thinking_config: {_first_line(exc)}") from None


def _sanitized(schema: Mapping[str, Any], where: str) -> dict[str, Any]:
    from completions_core.schemas import SchemaError, sanitize_schema

    try:
        return sanitize_schema(dict(schema), "openapi")
    except (SchemaError, ValueError) as exc:
        raise invalid_request(f"{where} cannot be expressed for Gemini: {exc}") from None


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(lines[:3]) if lines else type(exc).__name__
