"""A stream request built straight from a plain-text request (sending.py ``stream_call``; bench/README.md,
"Gemini's stream path against OpenAI's"): on random requests, the same model segment, timeout and
body bytes as :func:`build_request` and :func:`request_body` give, or the same error; and the
headers as google-genai sends them, whether made for the first stream of a client or a later one."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from completions_google import GoogleAdapter, GoogleClient
from completions_google.request import build_request
from completions_google.sending import (
    StreamCall,
    _headers,
    _plain_call,
    _seconds,
    _timeout,
    _user_agent,
    request_body,
    stream_call,
)

from completions_core.adapter import TextDelta
from completions_core.errors import InvalidRequestError, ProviderError
from completions_core.jsonutil import dumps
from completions_core.request import ProviderRequest
from completions_core.testing.replies import Stream
from completions_core.types import (
    AssistantMessage,
    FunctionCall,
    FunctionDefinition,
    SystemMessage,
    ToolCall,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
)

from .conftest import KEY, collect, make_request

_RNG = random.Random(20261207)
_TOOL = ToolDefinition(type="function", function=FunctionDefinition(name="f", description="d", parameters={}))
_CALL = ToolCall(id="c1", type="function", function=FunctionCall(name="f", arguments={}), index=0)
_TEXTS = ("Hi", "", "é😀\n", "two\n\nlines", " ", '"quoted" \\ back')


def _message() -> Any:
    roll = _RNG.random()
    if roll < 0.3:
        return SystemMessage(_RNG.choice(_TEXTS))
    if roll < 0.7:
        return UserMessage(_RNG.choice(_TEXTS))
    if roll < 0.95:
        return AssistantMessage(
            content=_RNG.choice((*_TEXTS, None)),
            tool_calls=[_CALL] if _RNG.random() < 0.05 else None,
            thought_signature=b"sig" if _RNG.random() < 0.05 else None,
        )
    return ToolResultMessage(tool_call_id="c1", content="{}", name="f")


def _request() -> ProviderRequest:
    options: dict[str, Any] = {}
    if _RNG.random() < 0.3:
        options["temperature"] = _RNG.choice((0, 1, 2, 0.0, 0.7, 1.5, -1, 2**60, float("nan"), float("inf")))
    if _RNG.random() < 0.3:
        options["max_tokens"] = _RNG.choice((1, 256, 0, -5, 2**40))
    if _RNG.random() < 0.3:
        options["timeout"] = _RNG.choice((0.2, 1, 30, 600, 600.0, 0.0001, 1e-9, 12.3456))
    if _RNG.random() < 0.05:
        options["tools"] = (_TOOL,)
    if _RNG.random() < 0.1:
        options["tool_choice"] = _RNG.choice(("none", "auto", "required", "f"))
    if _RNG.random() < 0.05:
        options["response_schema"] = {"type": "object", "properties": {"a": {"type": "string"}}}
    if _RNG.random() < 0.05:
        options["provider_kwargs"] = _RNG.choice(
            ({"google": {}}, {"google": {"thinking_config": {"thinking_budget": 0}}}, {"openai": {"x": 1}})
        )
    model = _RNG.choice(("gemini-2.5-flash", "gemini-2.5-flash", "models/gemini", "bad name", "g.1_a-b"))
    messages = tuple(_message() for _ in range(_RNG.randrange(0, 6)))
    return ProviderRequest(provider="google", model=model, messages=messages, **options)


def _outcome(make: Any, request: ProviderRequest) -> Any:
    try:
        call = make(request)
    except (InvalidRequestError, ProviderError) as exc:
        return ("error", type(exc).__name__, str(exc))
    except (OverflowError, ValueError) as exc:
        return ("error", type(exc).__name__)
    return (call.model, call.seconds, dumps(call.body))


def _general(request: ProviderRequest) -> StreamCall:
    call = build_request(request)
    return StreamCall(call.model, request_body(call), _seconds(call))


@pytest.mark.parametrize("seed", range(4))
def test_a_plain_request_is_sent_as_build_request_would_send_it(seed: int) -> None:
    _RNG.seed(seed)
    plain = 0
    for _ in range(600):
        request = _request()
        assert _outcome(stream_call, request) == _outcome(_general, request), request
        try:
            plain += _plain_call(request) is not None
        except (InvalidRequestError, OverflowError, ValueError):
            plain += 1
    assert plain > 150  # the plain case is common among the random requests


def test_a_request_with_tools_or_options_goes_the_general_way() -> None:
    user = (UserMessage("Hi"),)
    assert _plain_call(ProviderRequest(provider="google", model="gemini-2.5-flash", messages=user)) is not None
    for options in (
        {"tools": (_TOOL,)},
        {"response_schema": {"type": "string"}},
        {"provider_kwargs": {"google": {"thinking_config": {"thinking_budget": 0}}}},
        {"tool_choice": "required"},
    ):
        request = ProviderRequest(provider="google", model="gemini-2.5-flash", messages=user, **options)
        assert _plain_call(request) is None, options
    signed = (UserMessage("Hi"), AssistantMessage(content="Yes", thought_signature=b"s"), UserMessage("And?"))
    assert _plain_call(ProviderRequest(provider="google", model="gemini-2.5-flash", messages=signed)) is None


@pytest.mark.anyio
async def test_the_headers_are_the_sdks_on_every_stream_of_a_client() -> None:
    adapter = GoogleAdapter(base_url="http://127.0.0.1:9")
    request = ProviderRequest(provider="google", model="gemini-2.5-flash", messages=(UserMessage("Hi"),))
    from completions_core.adapter import Credential
    from completions_core.redaction import Secret

    client: GoogleClient = adapter.create_client(adapter.client_config(request, Credential("customer", Secret(KEY))))
    try:
        agent = _user_agent()
        for seconds in (600.0, 0.2, 600.0, 12.5):
            headers = _headers(client, seconds)
            assert list(headers.items()) == [
                ("Content-Type", "application/json"),
                ("x-goog-api-key", KEY),
                ("user-agent", agent),
                ("x-goog-api-client", agent),
                ("X-Server-Timeout", str(math.ceil(seconds))),
            ]
            headers["X-Server-Timeout"] = "0"  # the caller's copy: the next stream's are not touched
            limits = _timeout(client, seconds)
            assert (limits.total, limits.sock_connect, limits.sock_read) == (None, seconds, seconds)
        assert _timeout(client, 600.0) is _timeout(client, 600.0)
        assert _timeout(client, 0.2) is not _timeout(client, 0.2)  # a request's own: never kept
        assert KEY not in repr(client)
    finally:
        await adapter.close_client(client)


@pytest.mark.anyio
async def test_a_stream_read_to_its_end_gives_its_connection_back(server: Any, adapter: GoogleAdapter, client: GoogleClient) -> None:
    # Closed without a cancel scope (nothing to wait for): the connection still goes back to the
    # pool, and the next stream is sent on it.
    events = [
        'data: {"candidates": [{"content": {"parts": [{"text": "Hi"}], "role": "model"}, "finishReason": "STOP"}]}\r\n\r\n'
    ]
    for _ in range(2):
        server.enqueue(Stream(events), path="/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
    for _ in range(2):
        _, got = await collect(adapter, client, make_request())
        assert [event.text for event in got if isinstance(event, TextDelta)] == ["Hi"]
        session = client.aiohttp_session()
        assert session is not None
        idle = session.connector._conns  # type: ignore[union-attr]
        assert sum(len(held) for held in idle.values()) == 1
