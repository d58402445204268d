"""The internal request: decoded once by the codec, frozen, strict, with fallbacks and retries resolved."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from completions_core.codec import decode_request, request_to_wire
from completions_core.request import DEFAULT_RETRY, ProviderRequest, RetryPolicy
from completions_core.testing.requests import provider_request
from completions_core.types import (
    ChatCompletionRequest,
    CompletionsProvider,
    FallbackRequest,
    FunctionDefinition,
    RetryConfiguration,
    SystemMessage,
    ToolDefinition,
    UserMessage,
)

TOOL = {"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}}


def _body(**extra: Any) -> dict[str, Any]:
    return {"provider": "openai", "model": "m", "messages": [{"role": "user", "content": "hi"}], **extra}


def test_wire_dicts_become_dataclasses_in_tuples_and_the_provider_a_plain_string() -> None:
    (request,) = decode_request(
        _body(provider=CompletionsProvider.GOOGLE, messages=[{"role": "system", "content": "s"}, UserMessage("u")],
              tools=[TOOL])
    )
    assert type(request.provider) is str and request.provider == "google"
    assert type(request.messages) is tuple
    assert [type(m) for m in request.messages] == [SystemMessage, UserMessage]
    assert type(request.tools) is tuple and isinstance(request.tools[0], ToolDefinition)
    assert request.provider_kwargs == {}


def test_a_public_dataclass_request_decodes_like_its_dict() -> None:
    public = ChatCompletionRequest(
        provider="openai", model="m", messages=[UserMessage("hi", vr_id="abcdefgh")], tools=[TOOL],
        retry=RetryConfiguration(max_retries=1), fallbacks=[FallbackRequest(model="n")],
    )
    as_dict = _body(messages=[{"role": "user", "content": "hi", "vr_id": "abcdefgh"}], tools=[TOOL],
                    retry={"max_retries": 1}, fallbacks=[{"model": "n"}])
    assert decode_request(public) == decode_request(as_dict)


def test_the_request_is_frozen() -> None:
    (request,) = decode_request(_body())
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.model = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.retry = None  # type: ignore[misc]


@pytest.mark.parametrize(
    "fields",
    [
        {"messages": [UserMessage("a list, not a tuple")]},
        {"messages": ({"role": "user", "content": "a dict"},)},
        {"tools": (TOOL,)},
        {"tools": [ToolDefinition("function", FunctionDefinition("f", "d", {}))]},
        {"retry": RetryConfiguration()},
        {"provider": CompletionsProvider.OPENAI.value.encode()},
    ],
    ids=["message-list", "message-dict", "tool-dict", "tool-list", "public-retry", "bytes-provider"],
)
def test_a_loose_form_is_refused_by_hand_too(fields: dict[str, Any]) -> None:
    values: dict[str, Any] = {"provider": "openai", "model": "m", "messages": (UserMessage("hi"),), **fields}
    with pytest.raises(TypeError, match="ProviderRequest"):
        ProviderRequest(**values)


def test_retry_is_resolved_to_a_policy_or_none() -> None:
    assert decode_request(_body())[0].retry is DEFAULT_RETRY  # nothing said: the documented defaults
    assert decode_request(_body(retry={}))[0].retry == DEFAULT_RETRY
    assert decode_request(_body(retry={"enabled": False, "max_retries": 5}))[0].retry is None
    assert decode_request(_body(retry={"max_retries": 1, "retry_delay": 0}))[0].retry == RetryPolicy(1, 0.0, 2.0)
    assert DEFAULT_RETRY == RetryPolicy(**{k: v for k, v in vars(RetryConfiguration()).items() if k != "enabled"})


def test_each_fallback_is_its_own_request_inheriting_what_it_leaves_unset() -> None:
    primary, first, second = decode_request(
        _body(
            messages=[{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}],
            tools=[TOOL], tool_choice="auto", temperature=0.3, timeout=30, max_tokens=50,
            response_schema={"type": "object"}, retry={"max_retries": 1}, provider_kwargs={"openai": {"k": 1}},
            fallbacks=[
                {"provider": "anthropic", "model": "c"},
                {"model": "n", "tools": [], "temperature": 0.9, "retry": {"enabled": False},
                 "messages": [{"role": "user", "content": "short"}], "provider_kwargs": {}},
            ],
        )
    )
    assert (first.provider, first.model) == ("anthropic", "c")
    for field in ("messages", "tools", "tool_choice", "temperature", "timeout", "max_tokens", "response_schema",
                  "retry", "provider_kwargs"):
        assert getattr(first, field) == getattr(primary, field), field
    assert first.messages is primary.messages  # inherited, not copied: a conversation is held once
    assert (second.provider, second.model) == ("openai", "n")  # the provider is inherited too
    assert second.tools == () and second.temperature == 0.9 and second.retry is None
    assert [m.content for m in second.messages] == ["short"] and second.provider_kwargs == {}
    assert second.tool_choice == "auto" and second.timeout == 30  # and the rest is still the primary's


def test_to_the_wire_a_fallback_carries_only_what_differs_and_comes_back_the_same() -> None:
    requests = decode_request(
        _body(tools=[TOOL], retry={"enabled": False}, provider_kwargs={"openai": {"k": 1}},
              fallbacks=[{"provider": "anthropic"}, {"model": "n", "tools": [], "retry": {"max_retries": 0},
                                                     "provider_kwargs": {}}])
    )
    wire = request_to_wire(requests)
    assert wire["retry"] == {"enabled": False}
    assert wire["fallbacks"] == [
        {"provider": "anthropic"},
        {"model": "n", "tools": [], "provider_kwargs": {},
         "retry": {"enabled": True, "max_retries": 0, "retry_delay": 1.0, "backoff_multiplier": 2.0}},
    ]
    assert decode_request(wire) == requests
    assert "retry" not in request_to_wire(decode_request(_body()))  # the defaults need not travel


def test_the_test_kit_builds_requests_through_the_codec() -> None:
    request = provider_request("openai", "m", [{"role": "user", "content": "hi"}], tools=[TOOL])
    assert isinstance(request.messages[0], UserMessage) and isinstance(request.tools[0], ToolDefinition)
    with pytest.raises(TypeError, match="fallbacks"):
        provider_request("openai", fallbacks=[{"model": "n"}])
