"""The real ``openai`` Python SDK against the proxy's OpenAI-compatible routes (hypercorn, loopback).

The embedded provider answers (no network, no key); ``keyed`` needs a key (managed from the
environment, or the caller's own in a header) and says which one it got, never the key itself;
``hanging`` streams one delta and then waits, to observe a disconnect reaching the provider.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import aiohttp
import anyio
import anyio.lowlevel
import openai
import pytest
from pydantic import BaseModel

from completions_proxy.testing import RunningProxy, running_proxy
from tests.helpers import FAST, HangingAdapter, KeyedAdapter, registry

pytestmark = pytest.mark.anyio

MANAGED_KEY = "managed-key-for-tests-0001"
CUSTOMER_KEY = "sk-customer-secret-value-4242"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
def hanging() -> HangingAdapter:
    return HangingAdapter()


@pytest.fixture
async def proxy(hanging: HangingAdapter) -> AsyncIterator[RunningProxy]:
    env = {"KEYED_API_KEY": MANAGED_KEY, "COMPLETIONS_OPENAI_MODEL_MAP": "fast=embedded/embedded-1"}
    async with running_proxy(registry(KeyedAdapter(), hanging), env=env, max_body_bytes=64 * 1024) as running:
        running.state.engine.sleep = _no_backoff
        yield running


async def _no_backoff(delay: float) -> None:
    """The engine's wait between retries, made instant: the proxy still retries a failure the
    default number of times (seconds of backoff per test otherwise), only without waiting."""
    await anyio.lowlevel.checkpoint()


@pytest.fixture
async def client(proxy: RunningProxy) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=proxy.token, max_retries=0) as sdk:
        yield sdk


def _user(text: str) -> list[dict[str, object]]:
    return [{"role": "user", "content": text}]


def _fail(kind: str, status: int, **extra: object) -> dict[str, object]:
    """provider_kwargs that make the embedded model fail (see completions_embedded)."""
    return {"provider_kwargs": {"embedded": {**FAST["embedded"], "error": {"type": kind, "status": status, **extra}}}}


async def test_a_plain_answer_has_the_chat_completion_shape(client: openai.AsyncOpenAI) -> None:
    answer = await client.chat.completions.create(
        model="embedded/embedded-1",
        messages=[{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "What time is it?"}],
        temperature=0.2,
        max_completion_tokens=200,
        extra_body={"provider_kwargs": FAST},
    )
    assert answer.object == "chat.completion"
    assert answer.id.startswith("chatcmpl-")
    assert answer.model == "embedded/embedded-1"
    choice = answer.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert "What time is it?" in (choice.message.content or "")
    assert answer.usage is not None
    assert answer.usage.completion_tokens > 0
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


async def test_text_content_parts_are_joined(client: openai.AsyncOpenAI) -> None:
    answer = await client.chat.completions.create(
        model="fast",
        messages=[{"role": "user", "content": [{"type": "text", "text": "first part"}, {"type": "text", "text": "second"}]}],
        extra_body={"provider_kwargs": FAST},
    )
    assert "first part\nsecond" in (answer.choices[0].message.content or "")
    assert answer.model == "embedded/embedded-1"


async def test_a_stream_has_role_deltas_finish_usage_and_done(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="embedded/embedded-1",
        messages=_user("Stream me"),
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"provider_kwargs": FAST},
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "Stream me" in text
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 5
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert {c.id for c in chunks} == {chunks[0].id}


async def test_a_stream_without_include_usage_has_no_usage_chunk(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="embedded/embedded-1", messages=_user("hi"), stream=True, extra_body={"provider_kwargs": FAST}
    )
    chunks = [chunk async for chunk in stream]
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


async def test_streamed_tool_call_arguments_accumulate_in_the_sdk_helper(client: openai.AsyncOpenAI) -> None:
    async with client.chat.completions.stream(
        model="embedded/embedded-1",
        messages=_user("check get_weather please"),
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        tool_choice="auto",
        extra_body={"provider_kwargs": FAST},
    ) as stream:
        deltas = [event async for event in stream if event.type == "tool_calls.function.arguments.delta"]
        final = await stream.get_final_completion()
    assert deltas
    message = final.choices[0].message
    assert final.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None and len(message.tool_calls) == 1
    call = message.tool_calls[0]
    assert call.id == "call_emb_0"
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "example"}  # type: ignore[union-attr]


async def test_a_tool_call_turn_and_its_result_round_trip(client: openai.AsyncOpenAI) -> None:
    first = await client.chat.completions.create(
        model="embedded/embedded-1",
        messages=_user("use get_weather"),
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        extra_body={"provider_kwargs": FAST},
    )
    message = first.choices[0].message
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    second = await client.chat.completions.create(
        model="embedded/embedded-1",
        messages=[
            {"role": "user", "content": "use get_weather"},
            message.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": call.id, "content": '{"temperature": 21}'},
        ],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        extra_body={"provider_kwargs": FAST},
    )
    # The tool message carries no name in OpenAI's shape: the proxy finds it from the call's id.
    assert second.choices[0].message.content is not None
    assert 'The get_weather tool returned {"temperature": 21}' in second.choices[0].message.content


class Weather(BaseModel):
    city: str
    temperature: int
    sunny: bool


async def test_structured_output_parses_into_the_callers_model(client: openai.AsyncOpenAI) -> None:
    parsed = await client.chat.completions.parse(
        model="embedded/embedded-1",
        messages=_user("weather in Paris as JSON"),
        response_format=Weather,
        extra_body={"provider_kwargs": FAST},
    )
    weather = parsed.choices[0].message.parsed
    assert isinstance(weather, Weather)


async def test_json_object_answers_a_json_object(client: openai.AsyncOpenAI) -> None:
    answer = await client.chat.completions.create(
        model="embedded/embedded-1",
        messages=_user("JSON please"),
        response_format={"type": "json_object"},
        extra_body={"provider_kwargs": FAST},
    )
    assert isinstance(json.loads(answer.choices[0].message.content or ""), dict)


async def test_a_wrong_api_key_is_an_authentication_error(proxy: RunningProxy) -> None:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key="wrong-token-0123456789", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError) as caught:
            await bad.chat.completions.create(model="embedded/m", messages=_user("hi"))
        with pytest.raises(openai.AuthenticationError):
            await bad.models.list()
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"


async def test_unsupported_fields_are_a_400_naming_the_field(client: openai.AsyncOpenAI) -> None:
    for extra, param in (({"n": 2}, "n"), ({"logprobs": True}, "logprobs"), ({"top_p": 0.5}, "top_p")):
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model="embedded/m", messages=_user("hi"), **extra)  # type: ignore[call-overload]
        assert caught.value.code == "unsupported_parameter"
        assert caught.value.param == param
    with pytest.raises(openai.BadRequestError) as image:
        await client.chat.completions.create(
            model="embedded/m",
            messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}],
        )
    assert image.value.param == "messages[0].content[0].type"


async def test_native_limits_apply_and_name_the_limit(client: openai.AsyncOpenAI) -> None:
    tools = [{"type": "function", "function": {"name": f"t{i}", "parameters": {"type": "object"}}} for i in range(129)]
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="embedded/m", messages=_user("hi"), tools=tools)  # type: ignore[arg-type]
    assert "max_tools" in caught.value.message
    with pytest.raises(openai.APIStatusError) as large:
        await client.chat.completions.create(model="embedded/m", messages=_user("x" * 70_000))
    assert large.value.status_code == 413
    assert "COMPLETIONS_MAX_BODY_BYTES" in large.value.message


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_deadline_header_out_of_bounds_is_an_openai_shaped_400(client: openai.AsyncOpenAI, stream: bool) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="embedded/m", messages=_user("hi"), stream=stream,
            extra_headers={"X-Completions-Hedge-After": "1e308"},
        )
    assert "X-Completions-Hedge-After" in caught.value.message
    assert set(caught.value.body) >= {"message", "type", "param", "code"}  # type: ignore[arg-type]


async def test_a_wrong_method_is_an_openai_shaped_405(proxy: RunningProxy) -> None:
    async with aiohttp.ClientSession() as session, session.put(
        proxy.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {proxy.token}"}
    ) as resp:
        body = await resp.json()
    assert resp.status == 405 and resp.headers["Allow"] == "POST"
    assert set(body["error"]) == {"message", "type", "param", "code"}


async def test_an_unknown_model_or_provider_is_a_404(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as bare:
        await client.chat.completions.create(model="gpt-4o", messages=_user("hi"))
    assert bare.value.code == "model_not_found"
    assert "fast" in bare.value.message  # the operator's mapped names are listed
    with pytest.raises(openai.NotFoundError) as provider:
        await client.chat.completions.create(model="nowhere/some-model", messages=_user("hi"))
    assert provider.value.code == "model_not_found"
    assert provider.value.param == "model"
    assert "embedded" in provider.value.message


async def test_upstream_429_and_500_keep_their_status_for_sdk_retry_logic(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as limited:
        await client.chat.completions.create(
            model="embedded/m", messages=_user("hi"), extra_body=_fail("rate_limit_error", 429, retry_after=3.0)
        )
    assert limited.value.status_code == 429
    assert limited.value.response.headers["retry-after"] == "3"
    assert limited.value.code == "rate_limit_error"
    with pytest.raises(openai.InternalServerError) as broken:
        await client.chat.completions.create(
            model="embedded/m", messages=_user("hi"), stream=True, extra_body=_fail("provider_error", 500)
        )
    assert broken.value.status_code == 502
    assert broken.value.body["provider_status"] == 500  # type: ignore[index]


async def test_the_sdk_retries_a_5xx_but_not_a_4xx(proxy: RunningProxy) -> None:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=proxy.token, max_retries=1) as sdk:
        once = _fail("provider_error", 500, times=1, key=uuid.uuid4().hex)
        answer = await sdk.chat.completions.create(model="embedded/m", messages=_user("again"), extra_body=once)
        assert "again" in (answer.choices[0].message.content or "")
        refused = _fail("invalid_request_error", 400, times=1, key=uuid.uuid4().hex)
        with pytest.raises(openai.BadRequestError):
            # A retry would have succeeded (the failure is scripted once): the SDK did not retry.
            await sdk.chat.completions.create(model="embedded/m", messages=_user("again"), extra_body=refused)


async def test_a_failure_after_the_first_chunk_raises_in_the_sdk(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="embedded/m",
        messages=_user("fail midway please"),
        stream=True,
        extra_body=_fail("provider_error", 500, after_tokens=3, message="upstream broke mid-answer"),
    )
    received: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert len(received) == 3
    assert "upstream broke mid-answer" in caught.value.message
    assert caught.value.code == "provider_error"


async def test_fallback_to_another_provider_with_the_managed_key(client: openai.AsyncOpenAI) -> None:
    answer = await client.chat.completions.create(
        model="embedded/m",
        messages=_user("hi"),
        extra_body={**_fail("overloaded_error", 503), "fallbacks": ["keyed/k-1"]},
    )
    assert answer.model == "keyed/k-1"
    assert answer.choices[0].message.content == f"source=managed key_len={len(MANAGED_KEY)}"


async def test_a_customer_key_in_a_header_is_used_for_this_request_only_and_never_logged(
    client: openai.AsyncOpenAI, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    answer = await client.chat.completions.create(
        model="keyed/k-1", messages=_user("hi"), extra_headers={"X-Provider-Api-Key": CUSTOMER_KEY}
    )
    assert answer.choices[0].message.content == f"source=customer key_len={len(CUSTOMER_KEY)}"
    streamed = await client.chat.completions.create(
        model="embedded/m",
        messages=_user("hi"),
        stream=True,
        extra_headers={"X-Provider-Api-Key-Keyed": CUSTOMER_KEY},
        extra_body={**_fail("overloaded_error", 503), "fallbacks": [{"model": "keyed/k-2", "retry": {"max_retries": 0}}]},
    )
    text = "".join([c.choices[0].delta.content or "" async for c in streamed if c.choices])
    assert text == f"source=customer key_len={len(CUSTOMER_KEY)}"
    after = await client.chat.completions.create(model="keyed/k-1", messages=_user("hi"))
    assert after.choices[0].message.content == f"source=managed key_len={len(MANAGED_KEY)}"
    captured = capsys.readouterr()
    assert CUSTOMER_KEY not in captured.out + captured.err + caplog.text


async def test_sentences_come_as_an_extra_field_on_chunks(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="embedded/m",
        messages=_user("Talk to me"),
        stream=True,
        extra_body={"provider_kwargs": FAST, "sentences": {"min_sentence_length": 4}},
    )
    chunks = [chunk async for chunk in stream]
    sentences = [c.model_extra["sentence"] for c in chunks if c.model_extra and "sentence" in c.model_extra]
    assert len(sentences) >= 3
    assert sentences[0].startswith("You said: Talk to me")
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == " ".join(sentences)


async def test_a_client_that_goes_away_mid_stream_closes_the_upstream_stream(
    client: openai.AsyncOpenAI, hanging: HangingAdapter
) -> None:
    stream = await client.chat.completions.create(model="hanging/h", messages=_user("hi"), stream=True)
    first = await stream.__anext__()
    assert first.choices[0].delta.content == "Hello. "
    await stream.close()
    with anyio.fail_after(10):
        await hanging.closed.wait()


async def test_models_lists_mapped_names_and_installed_providers(client: openai.AsyncOpenAI) -> None:
    page = await client.models.list()
    ids = [m.id for m in page.data]
    assert ids[0] == "fast"
    assert page.data[0].owned_by == "embedded"
    assert {"embedded/*", "keyed/*", "hanging/*"} <= set(ids)


async def test_errors_before_the_engine_are_openai_shaped(proxy: RunningProxy) -> None:
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {proxy.token}"}
        async with session.post(proxy.url + "/v1/chat/completions", data=b"{not json", headers=headers) as resp:
            body = await resp.json()
        assert resp.status == 400
        assert set(body["error"]) == {"message", "type", "param", "code"}
        assert body["error"]["type"] == "invalid_request_error"
        async with session.post(proxy.url + "/v1/chat/completions", json={"model": "embedded/m"}, headers=headers) as resp:
            body = await resp.json()
        assert resp.status == 400
        assert body["error"]["param"] == "messages"


async def test_keepalives_are_sse_comments_the_sdk_skips() -> None:
    from openai._streaming import SSEDecoder

    hanging = HangingAdapter()
    async with running_proxy(registry(hanging), keepalive_interval=0.05) as proxy:
        raw = b""
        async with aiohttp.ClientSession() as session:
            body = {"model": "hanging/h", "messages": _user("hi"), "stream": True}
            headers = {"Authorization": f"Bearer {proxy.token}"}
            async with session.post(proxy.url + "/v1/chat/completions", json=body, headers=headers) as resp:
                assert resp.headers["content-type"] == "text/event-stream"
                with anyio.fail_after(10):
                    while raw.count(b": keep-alive\n\n") < 2:
                        raw += await resp.content.readany()
    events = list(SSEDecoder().iter_bytes(iter([raw])))
    assert [json.loads(e.data)["choices"][0]["delta"]["content"] for e in events] == ["Hello. "]
