"""Outages and overload through the real server: the breaker, the retry budget, admission control.

The primary is the real OpenAI plugin talking to the replay server, which injects the faults;
the fallback is the embedded provider. The breaker's clock is injected, so cool-downs pass
without waiting.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from completions_embedded import EmbeddedAdapter
from completions_openai import OpenAIAdapter
from structlog.testing import capture_logs

from completions_core.plugins import ProviderRegistry
from completions_core.testing.cassettes import load_cassette
from completions_core.testing.replay import Fault, ReplayServer, Stream
from completions_proxy.testing import RunningProxy, running_proxy
from tests.helpers import HangingAdapter, registry

pytestmark = pytest.mark.anyio

CASSETTES = Path(__file__).resolve().parents[2] / "providers" / "openai" / "tests" / "cassettes"
STREAM = load_cassette(CASSETTES / "chat_stream_text.yaml")[0].response
ERROR_BODY = {"error": {"message": "upstream trouble", "type": "server_error", "param": None, "code": None}}
FAILURES = 3
COOLDOWN = 5.0
MANAGED = {"OPENAI_API_KEY": "sk-test-managed-outage-0001"}


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def upstream() -> AsyncIterator[ReplayServer]:
    async with ReplayServer() as server:
        yield server


@pytest.fixture
async def proxy(upstream: ReplayServer) -> AsyncIterator[tuple[RunningProxy, Clock]]:
    reg = ProviderRegistry()
    reg.register(OpenAIAdapter(base_url=upstream.url + "/v1"))
    reg.register(EmbeddedAdapter())
    async with running_proxy(reg, env=MANAGED, breaker_failures=FAILURES, breaker_cooldown=COOLDOWN) as running:
        clock = Clock()
        running.state.engine.health.clock = clock
        yield running, clock


def _body(fallback: bool = True, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "provider": "openai", "model": "gpt-4o-mini", "stream": True,
        "messages": [{"role": "user", "content": "Say this is a test"}],
        "credentials": {"openai": {"voicerun_managed": True}},
        "provider_kwargs": {"embedded": {"text": "Fallback answer.", "token_delay": 0, "first_token_delay": 0}},
        "retry": {"enabled": False},  # one attempt per target, so the attempts are easy to count
        **extra,
    }
    if fallback:
        body["fallbacks"] = [{"provider": "embedded", "model": "emb"}]
    return body


async def _run(
    proxy: RunningProxy, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
    async with aiohttp.ClientSession() as session, session.post(
        proxy.url + "/v1/completions", json=body, headers={"Authorization": f"Bearer {proxy.token}", **(headers or {})}
    ) as resp:
        text = await resp.text()
        attempts = json.loads(resp.headers.get("X-Completions-Attempts", "[]"))
        return resp.status, [json.loads(line) for line in text.splitlines() if line.strip()], attempts


async def _metrics(proxy: RunningProxy) -> str:
    async with aiohttp.ClientSession() as session, session.get(
        proxy.url + "/metrics", headers={"Authorization": f"Bearer {proxy.token}"}
    ) as resp:
        return await resp.text()


def _shape(attempts: list[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    return [(a["provider"], a["outcome"], a["breaker"]) for a in attempts]


async def _open_primary(proxy: RunningProxy, upstream: ReplayServer) -> None:
    for _ in range(FAILURES):
        upstream.enqueue(Fault.status(503, ERROR_BODY))
        status, records, attempts = await _run(proxy, _body(fallback=True))
        assert status == 200 and records[-1]["response"]["provider"] == "embedded"
        assert _shape(attempts) == [("openai", "error", None), ("embedded", "ok", None)]
    assert proxy.state.engine.health.state("openai", "gpt-4o-mini") == "open"


async def test_an_open_breaker_sends_requests_straight_to_the_fallback_then_one_probe_closes_it(
    proxy: tuple[RunningProxy, Clock], upstream: ReplayServer
) -> None:
    running, clock = proxy
    await _open_primary(running, upstream)
    with capture_logs() as logs:
        status, records, attempts = await _run(running, _body())
    assert status == 200 and records[-1]["response"]["message"]["content"] == "Fallback answer."
    assert _shape(attempts) == [("openai", "breaker_skipped", "open"), ("embedded", "ok", None)]
    assert len(upstream.requests) == FAILURES  # the primary was not called
    logged = next(e for e in logs if e["event"] == "completion")
    assert [(a["outcome"], a["breaker"]) for a in logged["attempts"]] == [("breaker_skipped", "open"), ("ok", None)]
    text = await _metrics(running)
    # A model no provider has answered for is not a label value of its own (bounded label sets).
    assert 'completions_breaker_state{model="other",provider="openai"} 2.0' in text
    assert 'completions_breaker_skips_total{provider="openai",reason="open"} 1.0' in text

    clock.now += COOLDOWN  # the primary has healed; the next request probes it
    upstream.enqueue(Stream.from_response(STREAM))
    status, records, attempts = await _run(running, _body())
    assert status == 200 and records[-1]["response"]["provider"] == "openai"
    assert _shape(attempts) == [("openai", "ok", "probe")]
    assert running.state.engine.health.state("openai", "gpt-4o-mini") == "closed"
    upstream.enqueue(Stream.from_response(STREAM))
    status, records, attempts = await _run(running, _body())
    assert _shape(attempts) == [("openai", "ok", None)]
    upstream.assert_all_used()


async def test_a_failed_probe_opens_it_again(proxy: tuple[RunningProxy, Clock], upstream: ReplayServer) -> None:
    running, clock = proxy
    await _open_primary(running, upstream)
    clock.now += COOLDOWN
    upstream.enqueue(Fault.reset())
    status, records, attempts = await _run(running, _body(stream=False))
    assert status == 200 and records[0]["provider"] == "embedded"
    assert _shape(attempts) == [("openai", "error", "probe"), ("embedded", "ok", None)]
    status, records, attempts = await _run(running, _body(stream=False))
    assert _shape(attempts) == [("openai", "breaker_skipped", "open"), ("embedded", "ok", None)]
    upstream.assert_all_used()


async def test_a_hedged_request_skips_an_open_primary_and_starts_its_fallback_at_once(
    proxy: tuple[RunningProxy, Clock], upstream: ReplayServer
) -> None:
    running, _ = proxy
    await _open_primary(running, upstream)
    status, records, attempts = await _run(running, _body(), {"X-Completions-Hedge-After": "30"})
    assert status == 200 and records[-1]["response"]["provider"] == "embedded"
    assert _shape(attempts) == [("openai", "breaker_skipped", "open"), ("embedded", "ok", None)]
    upstream.assert_all_used()


async def test_without_a_fallback_the_open_target_is_still_tried_and_says_so(
    proxy: tuple[RunningProxy, Clock], upstream: ReplayServer
) -> None:
    running, _ = proxy
    await _open_primary(running, upstream)
    upstream.enqueue(Fault.status(503, ERROR_BODY))
    status, records, attempts = await _run(running, _body(fallback=False))
    assert status == 503 and records[0]["error"]["type"] == "overloaded_error"
    assert _shape(attempts) == [("openai", "error", "open")]
    upstream.enqueue(Stream.from_response(STREAM))
    status, records, attempts = await _run(running, _body(fallback=False))
    assert status == 200 and _shape(attempts) == [("openai", "ok", "open")]
    # That answer closed it: requests with a fallback use the primary again.
    assert running.state.engine.health.state("openai", "gpt-4o-mini") == "closed"
    upstream.assert_all_used()


async def test_a_429_with_retry_after_on_the_managed_key_cools_the_target_for_every_request(
    proxy: tuple[RunningProxy, Clock], upstream: ReplayServer
) -> None:
    running, clock = proxy
    upstream.enqueue(Fault.status(429, ERROR_BODY, retry_after=2))
    _, _, attempts = await _run(running, _body())
    assert _shape(attempts) == [("openai", "error", None), ("embedded", "ok", None)]
    _, _, attempts = await _run(running, _body())
    assert _shape(attempts) == [("openai", "breaker_skipped", "rate_limited"), ("embedded", "ok", None)]
    clock.now += 2
    upstream.enqueue(Stream.from_response(STREAM))
    _, _, attempts = await _run(running, _body())
    assert _shape(attempts) == [("openai", "ok", None)]
    upstream.assert_all_used()


async def test_retry_storm_upstream_calls_stay_within_the_budget(upstream: ReplayServer) -> None:
    reg = ProviderRegistry()
    reg.register(OpenAIAdapter(base_url=upstream.url + "/v1"))
    reg.register(EmbeddedAdapter())
    requests = 10
    for _ in range(requests * 4):
        upstream.enqueue(Fault.status(503, ERROR_BODY))
    retry = {"max_retries": 3, "retry_delay": 0.001, "backoff_multiplier": 1.0}
    async with running_proxy(reg, env=MANAGED, retry_budget_floor=2, retry_budget_ratio=0.2) as running:
        running.state.engine.health.clock = Clock()  # one window for the whole test
        for _ in range(requests):
            status, records, _ = await _run(running, _body(fallback=False, retry=retry))
            assert status == 503, records
        text = await _metrics(running)
    calls = len(upstream.requests)
    assert requests < calls <= requests + 2 + 0.2 * requests  # without the budget: 40
    assert 'completions_retry_budget_denied_total{provider="openai"}' in text


async def test_admission_refuses_beyond_the_limit_with_503_and_readiness_false() -> None:
    hanging = HangingAdapter()
    async with running_proxy(registry(hanging), max_inflight=1) as running, aiohttp.ClientSession() as session:
        auth = {"Authorization": f"Bearer {running.token}"}
        body = {"provider": "hanging", "model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        first = await session.post(running.url + "/v1/completions", json=body, headers=auth)
        await first.content.readline()
        await hanging.started.wait()
        async with session.post(running.url + "/v1/completions", json=body,
                                headers={**auth, "X-Request-ID": "req-over"}) as refused:
            assert refused.status == 503
            assert refused.headers["Retry-After"] == "1" and refused.headers["X-Request-ID"] == "req-over"
            error = (await refused.json())["error"]
        assert error["type"] == "overloaded_error" and "COMPLETIONS_MAX_INFLIGHT" in error["message"]
        assert "provider" not in error
        # The OpenAI-compatible route shares the count and answers in the OpenAI shape.
        chat = {"model": "hanging/m", "messages": [{"role": "user", "content": "hi"}]}
        async with session.post(running.url + "/v1/chat/completions", json=chat, headers=auth) as refused_chat:
            assert refused_chat.status == 503 and refused_chat.headers["Retry-After"] == "1"
            chat_error = (await refused_chat.json())["error"]
        assert chat_error["code"] == "overloaded_error" and set(chat_error) == {"message", "type", "param", "code"}
        async with session.get(running.url + "/readyz") as ready:
            assert ready.status == 503 and (await ready.json())["reason"] == "saturated"
        async with session.get(running.url + "/healthz") as live:
            assert live.status == 200
        text = await _metrics(running)
        assert "completions_admission_rejected_total 2.0" in text and "completions_inflight_requests 1.0" in text
        first.close()
        await hanging.closed.wait()
        with anyio.fail_after(5):
            while running.state.admission.inflight:  # noqa: ASYNC110 - the server finishes the cut stream
                await anyio.sleep(0.01)
        async with session.get(running.url + "/readyz") as ready:
            assert ready.status == 200
        embedded = {**body, "provider": "embedded", "provider_kwargs": {"embedded": {"token_delay": 0}}}
        async with session.post(running.url + "/v1/completions", json=embedded, headers=auth) as ok:
            assert ok.status == 200
