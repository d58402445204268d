"""Telemetry: log events, metrics, the overhead header and the record_completion hook."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from structlog.testing import capture_logs

from completions_core import plugins
from completions_core.hookspecs import hookimpl
from completions_core.records import CompletionRecord
from completions_core.usage import NormalizedUsage
from completions_proxy.testing import RunningProxy, running_proxy
from tests.helpers import KeyedAdapter, registry

pytestmark = pytest.mark.anyio

SECRET = "customer-key-SECRET-987654321"


def _body(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "provider": "embedded",
        "model": "emb",
        "messages": [{"role": "user", "content": "private words"}],
        "provider_kwargs": {"embedded": {"token_delay": 0, "first_token_delay": 0}},
        "credentials": {"keyed": {"api_key": SECRET}},
    }
    body.update(extra)
    return body


async def _post(proxy: RunningProxy, body: dict[str, Any], token: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.post(
        proxy.url + "/v1/completions", json=body,
        headers={"Authorization": f"Bearer {token or proxy.token}", **(headers or {})},
    ) as resp:
        return resp.status, await resp.text(), {k.lower(): v for k, v in resp.headers.items()}


async def _metrics(proxy: RunningProxy) -> str:
    async with aiohttp.ClientSession() as session, session.get(
        proxy.url + "/metrics", headers={"Authorization": f"Bearer {proxy.token}"}
    ) as resp:
        assert resp.status == 200
        return await resp.text()


NO_RETRY = {"enabled": False}  # one failure per failing request: the counts below depend on it


async def _mixed_workload(proxy: RunningProxy) -> list[tuple[int, str, dict[str, str]]]:
    failing = {"embedded": {"first_token_delay": 0, "error": {"type": "rate_limit_error", "status": 429}}}
    return [
        await _post(proxy, _body(), headers={"X-Request-ID": "req-plain"}),
        await _post(proxy, _body(stream=True, stream_options={"chunk_by_sentence": True})),
        await _post(proxy, _body(provider_kwargs=failing, retry=NO_RETRY, fallbacks=[{"provider": "keyed"}])),
        await _post(proxy, _body(stream=True, provider_kwargs=failing, retry=NO_RETRY)),
        await _post(proxy, _body(messages=[]), headers={"X-Request-ID": "req-invalid"}),
        await _post(proxy, _body(), token="wrong-token-wrong-token"),
    ]


async def test_mixed_workload_logs_one_event_per_request_without_secrets_or_content() -> None:
    async with running_proxy(registry(KeyedAdapter())) as proxy:
        with capture_logs() as logs:
            results = await _mixed_workload(proxy)
    assert [r[0] for r in results] == [200, 200, 200, 429, 400, 401]
    events = [e for e in logs if e["event"] == "completion"]
    assert len(events) == 6
    by_id = {e["request_id"]: e for e in events}
    plain = by_id["req-plain"]
    assert plain["outcome"] == "ok" and plain["provider"] == "embedded" and plain["stream"] is False
    assert plain["normalized_usage"]["output_tokens"] > 0 and plain["usage"]["completion_tokens"] > 0
    assert plain["caller"] and len(plain["caller"]) == 16
    assert plain["time_to_first_token_ms"] is None and plain["total_ms"] > 0
    streamed = next(e for e in events if e["stream"] and e["outcome"] == "ok")
    assert streamed["time_to_first_token_ms"] is not None and streamed["time_to_first_sentence_ms"] is not None
    assert streamed["sentences"] >= 2 and streamed["chunks"] > streamed["sentences"]
    assert streamed["finish_reason"] == "stop"
    fell_back = next(e for e in events if e["fallbacks"] == 1)
    assert [a["outcome"] for a in fell_back["attempts"]] == ["error", "ok"]
    assert fell_back["attempts"][0]["error_type"] == "rate_limit_error" and fell_back["provider"] == "keyed"
    failed = next(e for e in events if e["stream"] and e["outcome"] == "error")
    assert failed["status"] == 429 and failed["error_type"] == "rate_limit_error"
    assert by_id["req-invalid"]["outcome"] == "invalid_request" and by_id["req-invalid"]["status"] == 400
    assert any(e["outcome"] == "unauthorized" and e["caller"] is None for e in events)
    dumped = json.dumps(logs, default=str)
    assert SECRET not in dumped and proxy.token not in dumped
    assert "private words" not in dumped and "content" not in plain


async def test_content_is_logged_only_when_opted_in() -> None:
    async with running_proxy(registry(), env={"COMPLETIONS_LOG_CONTENT": "true"}) as proxy:
        with capture_logs() as logs:
            await _post(proxy, _body(credentials={}))
    event = next(e for e in logs if e["event"] == "completion")
    assert event["content"]["messages"][0]["content"] == "private words"
    assert "private words" in event["content"]["answer"]


async def test_metrics_count_requests_tokens_retries_fallbacks_and_latency() -> None:
    async with running_proxy(registry(KeyedAdapter())) as proxy:
        await _mixed_workload(proxy)
        text = await _metrics(proxy)
    assert 'completions_requests_total{model="emb",outcome="ok",provider="embedded",stream="false"} 1.0' in text
    assert 'completions_requests_total{model="emb",outcome="ok",provider="embedded",stream="true"} 1.0' in text
    assert 'completions_fallbacks_total{provider="keyed"} 1.0' in text
    assert 'completions_attempt_errors_total{error_type="rate_limit_error",provider="embedded"} 2.0' in text
    assert 'completions_tokens_total{kind="output",model="emb",provider="embedded"}' in text
    assert "completions_time_to_first_token_seconds_count{provider=\"embedded\"} 1.0" in text
    assert "completions_time_to_first_sentence_seconds_count{provider=\"embedded\"} 1.0" in text
    assert "completions_proxy_overhead_seconds_count 6.0" in text
    assert "completions_inflight_streams 0.0" in text
    assert "completions_sdk_clients 2.0" in text


async def test_metrics_need_the_proxy_token() -> None:
    async with running_proxy(registry()) as proxy, aiohttp.ClientSession() as session:
        async with session.get(proxy.url + "/metrics") as resp:
            assert resp.status == 401


async def test_overhead_header_is_small_next_to_provider_time() -> None:
    async with running_proxy(registry()) as proxy:
        slow = _body(credentials={}, provider_kwargs={"embedded": {"first_token_delay": 0.3, "token_delay": 0}})
        status, _, headers = await _post(proxy, slow)
        assert status == 200
        overhead = float(headers["x-completions-overhead-ms"])
        assert 0 <= overhead < 300  # the 300 ms the provider took are not the proxy's
        status, _, headers = await _post(proxy, dict(slow, stream=True))
        assert 0 <= float(headers["x-completions-overhead-ms"]) < 300


async def test_hook_record_completion_receives_every_record() -> None:
    received: list[CompletionRecord] = []

    class Collector:
        @hookimpl
        def record_completion(self, record: CompletionRecord) -> None:
            received.append(record)

    plugins.register_module(Collector(), name="collector")
    try:
        async with running_proxy(registry()) as proxy:
            await _post(proxy, _body(credentials={}), headers={"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"})
    finally:
        plugins.unregister_module("collector")
    assert len(received) == 1
    record = received[0]
    assert record.outcome == "ok" and record.provider == "embedded"
    assert record.traceparent == "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    assert isinstance(record.normalized_usage, NormalizedUsage) and record.normalized_usage.input_tokens > 0


async def test_a_failing_telemetry_plugin_does_not_break_requests() -> None:
    class Broken:
        @hookimpl
        def record_completion(self, record: CompletionRecord) -> None:
            raise RuntimeError("plugin bug")

    plugins.register_module(Broken(), name="broken")
    try:
        async with running_proxy(registry()) as proxy:
            with capture_logs() as logs:
                status, _, _ = await _post(proxy, _body(credentials={}))
    finally:
        plugins.unregister_module("broken")
    assert status == 200
    assert any(e["event"] == "telemetry_plugin_failed" for e in logs)
