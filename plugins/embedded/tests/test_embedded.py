"""The embedded provider: deterministic answers, scripting, and the plugin hook (the template's own tests)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from completions_embedded import EmbeddedAdapter, arguments_from_text, example_for_schema, register_providers

from completions_core.adapter import Credential, Finish, TextDelta, ToolCallDelta, UsageEvent
from completions_core.assembly import ResponseAssembler
from completions_core.errors import ProviderError
from completions_core.request import ProviderRequest
from completions_core.testing.requests import provider_request
from completions_core.types import FunctionDefinition, ToolDefinition, UserMessage

pytestmark = pytest.mark.anyio

FAST: dict[str, Any] = {"token_delay": 0, "first_token_delay": 0}



def _request(text: str = "hello", **extra: Any) -> ProviderRequest:
    kwargs = extra.pop("provider_kwargs", {"embedded": FAST})
    return provider_request("embedded", "m", [UserMessage(text)], provider_kwargs=kwargs, **extra)


async def _events(request: ProviderRequest) -> list[Any]:
    adapter = EmbeddedAdapter()
    client = adapter.create_client(adapter.client_config(request, Credential("none")))
    return [event async for event in adapter.stream(client, request)]


def test_the_hook_registers_the_adapter() -> None:
    registered: list[Any] = []
    register_providers(registered.append)
    assert [a.name for a in registered] == ["embedded"] and not registered[0].requires_key


async def test_the_answer_streams_token_by_token_and_is_deterministic() -> None:
    first, second = await _events(_request("What is up?")), await _events(_request("What is up?"))
    assert first == second
    text = "".join(e.text for e in first if isinstance(e, TextDelta))
    assert text.startswith("You said: What is up?")
    assert sum(isinstance(e, TextDelta) for e in first) > 10
    assert isinstance(first[-2], Finish) and isinstance(first[-1], UsageEvent)


async def test_a_scripted_text_and_tool_calls_come_back_as_scripted() -> None:
    script = {"embedded": {**FAST, "text": "Scripted.", "tool_calls": [{"name": "lookup", "arguments": {"id": 7}}]}}
    events = await _events(_request(provider_kwargs=script))
    assembler = ResponseAssembler()
    for event in events:
        assembler.feed(event)
    assembler.finish()
    assert assembler.text == "Scripted."
    assert [(c.function.name, c.function.arguments) for c in assembler.response.message.tool_calls or []] == [
        ("lookup", {"id": 7})
    ]
    assert sum(isinstance(e, ToolCallDelta) for e in events) > 2  # arguments arrive in fragments


async def test_a_mentioned_tool_is_called_with_arguments_that_fit_its_schema() -> None:
    tool = ToolDefinition("function", FunctionDefinition("get_weather", "", {
        "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}}}))
    events = await _events(_request("call get_weather", tools=[tool]))
    fragments = "".join(e.arguments for e in events if isinstance(e, ToolCallDelta))
    assert json.loads(fragments) == {"city": "example", "days": 1}


async def test_a_tool_call_takes_its_arguments_from_what_the_user_asked() -> None:
    tool = ToolDefinition("function", FunctionDefinition("get_weather", "", {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}))
    for city in ("Paris", "Buenos Aires"):
        events = await _events(_request(f"Please check get_weather for {city}.", tools=[tool]))
        fragments = "".join(e.arguments for e in events if isinstance(e, ToolCallDelta))
        assert json.loads(fragments) == {"city": city}


def test_arguments_come_from_named_values_numbers_and_enums_and_keep_the_schema() -> None:
    schema = {"type": "object", "properties": {
        "city": {"type": "string"},
        "country": {"type": "string"},
        "days": {"type": "integer", "minimum": 1, "maximum": 14},
        "unit": {"enum": ["celsius", "fahrenheit"]},
        "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
    }}
    said = "What will it be like in Lyon in France for 3 days, in fahrenheit?"
    assert arguments_from_text(schema, said) == {
        "city": "Lyon", "country": "France", "days": 3, "unit": "fahrenheit", "code": "example"}
    assert arguments_from_text(schema, "weather, city: Rio de Janeiro, for 40 days")["city"] == "Rio de Janeiro"
    assert arguments_from_text(schema, "for 40 days")["days"] == 1, "out of range: the example value stays"
    assert arguments_from_text({"type": "string"}, "in Paris") == {}


async def test_a_scripted_error_fails_the_first_attempts_of_a_key_then_recovers() -> None:
    script = {"embedded": {**FAST, "error": {"type": "rate_limit_error", "status": 429, "times": 2, "key": "embedded-test-1",
                                             "retry_after": 0.5}}}
    for _ in range(2):
        with pytest.raises(ProviderError) as info:
            await _events(_request(provider_kwargs=script))
        assert (info.value.error_type, info.value.status_code, info.value.retry_after) == ("rate_limit_error", 429, 0.5)
    assert any(isinstance(e, TextDelta) for e in await _events(_request(provider_kwargs=script)))


async def test_a_response_schema_is_answered_with_matching_json() -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}, "tags": {"type": "array", "items": {"enum": ["a", "b"]}}}}
    adapter = EmbeddedAdapter()
    request = _request(response_schema=schema)
    completion = await adapter.complete(adapter.create_client("embedded"), request)
    assert json.loads(completion.message.content or "") == {"ok": True, "tags": ["a"]}


def test_example_for_schema_follows_refs_and_survives_nonsense() -> None:
    schema = {"$defs": {"P": {"type": "object", "properties": {"n": {"const": 3}}}}, "$ref": "#/$defs/P"}
    assert example_for_schema(schema) == {"n": 3}
    assert example_for_schema({"type": "string", "minLength": "many"}) is None


def test_pacing_defaults_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLETIONS_EMBEDDED_TOKEN_DELAY", "0.5")
    monkeypatch.setenv("COMPLETIONS_EMBEDDED_FIRST_TOKEN_DELAY", "nonsense")
    client = EmbeddedAdapter().create_client("embedded")
    assert client.token_delay == 0.5 and client.first_token_delay == 0.1
