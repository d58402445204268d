"""The attempt engine: retries, fallbacks, deadlines and the streaming commit point."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest

from completions_core.adapter import ProviderAdapter
from completions_core.request import RetryPolicy
from completions_core.types import AssistantMessage, FunctionCall, ToolCall, UserMessage
from completions_proxy.engine import JITTER, _backoff, _strip_for
from completions_proxy.testing import RunningProxy, running_proxy
from tests.helpers import KeyedAdapter, registry

pytestmark = pytest.mark.anyio

FAST_RETRY = {"max_retries": 3, "retry_delay": 0.001, "backoff_multiplier": 2.0}
NO_RETRY = {"enabled": False}


def _script(**script: object) -> dict[str, object]:
    return {"embedded": {"token_delay": 0, "first_token_delay": 0, **script}}


def _body(**extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "provider": "embedded",
        "model": "primary-model",
        "messages": [{"role": "user", "content": "hello"}],
        "credentials": {"keyed": {"api_key": "customer-key-1"}},
    }
    body.update(extra)
    return body


def _failing(kind: str = "provider_error", status: int = 500, times: int | None = None, **more: object) -> dict[str, object]:
    error: dict[str, object] = {"type": kind, "status": status, "message": f"{kind} injected", **more}
    if times is not None:
        error["times"] = times
        error["key"] = uuid.uuid4().hex
    return _script(error=error)


@pytest.fixture
async def proxy() -> AsyncIterator[RunningProxy]:
    async with running_proxy(registry(KeyedAdapter())) as running:
        yield running


async def _call(proxy: RunningProxy, body: dict[str, object], headers: dict[str, str] | None = None) -> tuple[int, list[dict], dict[str, str]]:  # type: ignore[type-arg]
    async with aiohttp.ClientSession() as session:
        async with session.post(
            proxy.url + "/v1/completions",
            json=body,
            headers={"Authorization": f"Bearer {proxy.token}", **(headers or {})},
        ) as resp:
            text = await resp.text()
            lines = [json.loads(line) for line in text.splitlines() if line.strip()]
            return resp.status, lines, {k.lower(): v for k, v in resp.headers.items()}


def _attempts(headers: dict[str, str]) -> list[tuple[str, str, str | None]]:
    return [(a["provider"], a["outcome"], a["error_type"]) for a in json.loads(headers["x-completions-attempts"])]


async def test_retries_until_the_provider_recovers(proxy: RunningProxy) -> None:
    status, lines, headers = await _call(proxy, _body(provider_kwargs=_failing(times=2), retry=FAST_RETRY))
    assert status == 200 and lines[0]["provider"] == "embedded"
    assert _attempts(headers) == [
        ("embedded", "error", "provider_error"),
        ("embedded", "error", "provider_error"),
        ("embedded", "ok", None),
    ]


async def test_with_retries_off_the_first_failure_moves_to_the_fallback(proxy: RunningProxy) -> None:
    body = _body(provider_kwargs=_failing(times=1), retry=NO_RETRY, fallbacks=[{"provider": "keyed"}])
    status, lines, headers = await _call(proxy, body)
    assert status == 200
    assert lines[0]["provider"] == "keyed" and lines[0]["model"] == "primary-model"
    assert _attempts(headers) == [("embedded", "error", "provider_error"), ("keyed", "ok", None)]


async def test_retries_are_spent_before_the_fallback_and_each_target_has_its_own(proxy: RunningProxy) -> None:
    body = _body(
        provider_kwargs=_failing(),
        retry={"max_retries": 1, "retry_delay": 0.001},
        fallbacks=[{"provider": "embedded", "model": "second", "retry": {"max_retries": 2, "retry_delay": 0.001}},
                   {"provider": "keyed", "model": "third", "retry": {"enabled": False}}],
    )
    status, lines, headers = await _call(proxy, body)
    assert status == 200 and lines[0]["model"] == "third"
    assert [a[0] for a in _attempts(headers)] == ["embedded"] * 5 + ["keyed"]


async def test_auth_errors_get_one_refreshed_retry_then_fall_back(proxy: RunningProxy) -> None:
    body = _body(provider_kwargs=_failing("authentication_error", 401), retry=FAST_RETRY, fallbacks=[{"provider": "keyed"}])
    status, lines, headers = await _call(proxy, body)
    assert status == 200 and lines[0]["provider"] == "keyed"
    assert _attempts(headers) == [
        ("embedded", "error", "authentication_error"),
        ("embedded", "error", "authentication_error"),
        ("keyed", "ok", None),
    ]


async def test_invalid_request_is_not_retried(proxy: RunningProxy) -> None:
    status, lines, headers = await _call(proxy, _body(provider_kwargs=_failing("invalid_request_error", 400), retry=FAST_RETRY))
    assert status == 400 and lines[0]["error"]["message"] == "invalid_request_error injected"
    assert len(_attempts(headers)) == 1


async def test_every_attempt_failing_returns_the_last_error_with_its_status(proxy: RunningProxy) -> None:
    body = _body(provider_kwargs=_failing("rate_limit_error", 429, retry_after=0.01), retry={"max_retries": 1, "retry_delay": 0.001})
    status, lines, headers = await _call(proxy, body)
    assert status == 429
    assert lines[0]["error"]["type"] == "rate_limit_error" and lines[0]["error"]["provider_status"] == 429
    assert headers["retry-after"] == "1"
    assert len(_attempts(headers)) == 2


async def test_stream_falls_back_before_the_first_chunk(proxy: RunningProxy) -> None:
    body = _body(stream=True, provider_kwargs=_failing("overloaded_error", 529), retry=NO_RETRY,
                 fallbacks=[{"provider": "keyed"}])
    status, lines, headers = await _call(proxy, body)
    assert status == 200
    assert lines[-1]["type"] == "response" and lines[-1]["response"]["provider"] == "keyed"
    assert _attempts(headers)[0] == ("embedded", "error", "overloaded_error")


async def test_stream_failure_after_the_first_chunk_ends_with_an_error_record_and_no_fallback_text(proxy: RunningProxy) -> None:
    body = _body(stream=True, provider_kwargs=_failing(after_tokens=2), fallbacks=[{"provider": "keyed"}])
    status, lines, headers = await _call(proxy, body)
    assert status == 200
    assert [line["type"] for line in lines] == ["content_delta", "content_delta", "error"]
    assert lines[-1]["error_type"] == "provider_error"
    assert "source=" not in json.dumps(lines)
    assert len(_attempts(headers)) == 1


async def test_first_token_deadline_fails_over_a_stalled_stream(proxy: RunningProxy) -> None:
    body = _body(stream=True, provider_kwargs={"embedded": {"first_token_delay": 30}}, retry=NO_RETRY,
                 fallbacks=[{"provider": "keyed"}])
    status, lines, headers = await _call(proxy, body, {"X-Completions-First-Token-Timeout": "0.2"})
    assert status == 200 and lines[-1]["response"]["provider"] == "keyed"
    assert _attempts(headers)[0] == ("embedded", "error", "timeout_error")


async def test_idle_deadline_ends_a_stalled_stream_with_an_error_record(proxy: RunningProxy) -> None:
    body = _body(stream=True, provider_kwargs={"embedded": {"first_token_delay": 0, "token_delay": 30}})
    status, lines, _ = await _call(proxy, body, {"X-Completions-Idle-Timeout": "0.2"})
    assert status == 200
    assert lines[0]["type"] == "content_delta"
    assert lines[-1]["type"] == "error" and lines[-1]["error_type"] == "timeout_error"
    assert "idle deadline" in lines[-1]["error"]


async def test_request_timeout_bounds_a_non_streaming_attempt(proxy: RunningProxy) -> None:
    body = _body(timeout=0.2, retry=NO_RETRY, provider_kwargs={"embedded": {"first_token_delay": 30}})
    status, lines, _ = await _call(proxy, body)
    assert status == 504 and lines[0]["error"]["type"] == "timeout_error"


async def test_keepalive_lines_are_sent_while_waiting_and_ignored_by_the_client(client_reset: None) -> None:
    from primfunctions.completions import configure, configure_provider, generate_chat_completion_stream

    async with running_proxy(registry(), env={"COMPLETIONS_KEEPALIVE_SECONDS": "0.05"}) as running:
        assert running.state.settings.keepalive_interval == 0.05
        async with aiohttp.ClientSession() as session:
            async with session.post(
                running.url + "/v1/completions",
                json=_body(stream=True, provider_kwargs={"embedded": {"first_token_delay": 0.2, "token_delay": 0}}),
                headers={"Authorization": f"Bearer {running.token}"},
            ) as resp:
                raw = await resp.text()
        assert raw.startswith("\n")
        configure(running.url, running.token)
        configure_provider("embedded", voicerun_managed=True)
        stream = await generate_chat_completion_stream(
            {"provider": "embedded", "model": "m", "messages": [{"role": "user", "content": "x"}],
             "provider_kwargs": {"embedded": {"first_token_delay": 0.2, "token_delay": 0}}}  # type: ignore[typeddict-unknown-key]
        )
        kinds = [chunk.type async for chunk in stream]
        assert kinds[-1] == "response"


def test_backoff_grows_exponentially_with_jitter_and_honours_retry_after() -> None:
    retry = RetryPolicy(retry_delay=1.0, backoff_multiplier=2.0)
    for attempt, nominal in enumerate([1.0, 2.0, 4.0]):
        delays = [_backoff(retry, attempt, None) for _ in range(200)]
        assert min(delays) >= nominal and max(delays) <= nominal * (1 + JITTER)
        assert len(set(delays)) > 100
    assert _backoff(retry, 0, 7.0) >= 7.0
    assert _backoff(retry, 0, 3600.0) == 20.0


class _Signing(ProviderAdapter):
    name = "signing"
    keeps_thought_signatures = True


class _Plain(ProviderAdapter):
    name = "plain"


def test_provider_only_fields_are_dropped_for_other_providers() -> None:
    call = ToolCall(id="c", type="function", function=FunctionCall("f", {}), thought_signature=b"sig")
    history = [UserMessage("x"), AssistantMessage(content="y", tool_calls=[call], thought_signature=b"msg",
                                                  provider_state={"plain": {"thinking": []}, "signing": {"k": 1}})]
    for_plain = _strip_for(_Plain(), history)
    message = for_plain[1]
    assert isinstance(message, AssistantMessage)
    assert message.thought_signature is None and message.tool_calls[0].thought_signature is None  # type: ignore[index]
    assert message.provider_state == {"plain": {"thinking": []}}
    for_signing = _strip_for(_Signing(), history)[1]
    assert isinstance(for_signing, AssistantMessage)
    assert for_signing.thought_signature == b"msg" and for_signing.provider_state == {"signing": {"k": 1}}
    assert for_signing.tool_calls[0].thought_signature == b"sig"  # type: ignore[index]
    assert history[1].thought_signature == b"msg"  # type: ignore[union-attr]
