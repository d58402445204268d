"""A third-party provider plugin in one file: any Chat Completions-compatible endpoint, no SDK.

What a plugin author writes: ``name``, ``create_client`` and ``stream``. The non-streaming answer
is the stream drained by the default ``complete``; usage, errors and schemas use core's defaults.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from completions_core.adapter import Finish, ProviderAdapter, StreamEvent, TextDelta, ToolCallDelta, UsageEvent
from completions_core.errors import status_error, transport_errors
from completions_core.hookspecs import Register, hookimpl
from completions_core.request import ProviderRequest
from completions_core.sse import sse_data
from completions_core.types import AssistantMessage, ToolResultMessage

FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_calls", "content_filter": "content_filter"}


class ExampleAdapter(ProviderAdapter):
    name = "example"

    def __init__(self, base_url: str = "http://127.0.0.1:8000/v1") -> None:
        self.base_url = base_url

    def create_client(self, config: Any) -> aiohttp.ClientSession:
        key = config.api_key.reveal() if config.api_key else ""
        return aiohttp.ClientSession(self.base_url + "/", headers={"Authorization": f"Bearer {key}"})

    async def stream(self, client: aiohttp.ClientSession, request: ProviderRequest) -> AsyncIterator[StreamEvent]:
        body: dict[str, Any] = {"model": request.model, "messages": [_message(m) for m in request.messages],
                                "stream": True, "stream_options": {"include_usage": True}}
        if request.tools:
            body["tools"] = [{"type": "function", "function": vars(t.function)} for t in request.tools]
        if request.response_schema:
            schema = {"name": "answer", "schema": request.response_schema}
            body["response_format"] = {"type": "json_schema", "json_schema": schema}
        with transport_errors(self.name):
            timeout = aiohttp.ClientTimeout(total=request.timeout)
            async with client.post("chat/completions", json=body, timeout=timeout) as response:
                if response.status >= 400:
                    message = ((await response.json(content_type=None)).get("error") or {}).get("message")
                    raise status_error(response.status, message, provider=self.name, headers=response.headers)
                if response.content_type == "application/json":  # an endpoint that answers unstreamed
                    for event in _events(await response.json(), whole=True):
                        yield event
                    return
                async for data in sse_data(response.content):
                    for event in _events(json.loads(data), whole=False):
                        yield event


def _message(m: Any) -> dict[str, Any]:
    if isinstance(m, ToolResultMessage):
        return {"role": "tool", "tool_call_id": m.tool_call_id, "content": json.dumps(m.content)}
    calls = [{"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": json.dumps(
        c.function.arguments)}} for c in (m.tool_calls if isinstance(m, AssistantMessage) else None) or []]
    return {"role": m.role, "content": m.content, **({"tool_calls": calls} if calls else {})}


def _events(chunk: dict[str, Any], whole: bool) -> list[StreamEvent]:
    events: list[StreamEvent] = []
    for choice in chunk.get("choices") or []:
        part = choice.get("message" if whole else "delta") or {}
        if part.get("content"):
            events.append(TextDelta(part["content"]))
        for i, call in enumerate(part.get("tool_calls") or []):
            function = call.get("function") or {}
            arguments = function.get("arguments") or ""
            events.append(ToolCallDelta(call.get("index", i), call.get("id"), function.get("name"), arguments))
        if choice.get("finish_reason"):
            events.append(Finish(FINISH.get(choice["finish_reason"], "stop"), choice["finish_reason"]))
    if chunk.get("usage"):
        events.append(UsageEvent(chunk["usage"]))
    return events


@hookimpl
def register_providers(register: Register) -> None:
    register(ExampleAdapter())
