"""The turn owns its telemetry record: what a route, the engine and its attempts write is what
telemetry and plugins read; the record is closed exactly once. One auth wrapper guards every
protected route, in the route's own error shape."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from completions_core import plugins
from completions_core.hookspecs import hookimpl
from completions_core.records import AttemptRecord, CompletionRecord
from completions_core.types import ChatCompletionRequest
from completions_core.usage import NormalizedUsage
from completions_proxy.testing import RunningProxy, running_proxy
from completions_proxy.turns import Turn
from tests.helpers import registry

pytestmark = pytest.mark.anyio

FAST = {"embedded": {"token_delay": 0, "first_token_delay": 0}}
BODY: dict[str, Any] = {
    "provider": "embedded",
    "model": "emb",
    "messages": [{"role": "user", "content": "hello"}],
    "provider_kwargs": FAST,
}


@pytest.fixture
def records() -> Iterator[list[CompletionRecord]]:
    received: list[CompletionRecord] = []

    class Collector:
        @hookimpl
        def record_completion(self, record: CompletionRecord) -> None:
            received.append(record)

    plugins.register_module(Collector(), name="turn-record-collector")
    try:
        yield received
    finally:
        plugins.unregister_module("turn-record-collector")


@pytest.fixture
async def proxy() -> AsyncIterator[RunningProxy]:
    async with running_proxy(registry()) as running:
        yield running


async def _post(proxy: RunningProxy, path: str, body: Any, token: str | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.post(
        proxy.url + path, json=body, headers={"Authorization": f"Bearer {token or proxy.token}"}
    ) as resp:
        return resp.status, await resp.text()


def test_a_turn_closes_its_record_once_with_the_timings_and_usage() -> None:
    turn = Turn("req-1", caller="c" * 16, trace=("00-trace", None))
    request = ChatCompletionRequest(provider="embedded", model="emb", messages=[])
    turn.asked(request, stream=True, messages=[{"role": "user", "content": "x"}])
    turn.attempts.append(AttemptRecord("embedded", "emb"))
    turn.answered("embedded", "emb")
    turn.first_chunk()
    turn.record.usage = {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
    assert turn.finish("ok", 200)
    record = turn.record
    assert (record.request_id, record.caller, record.traceparent) == ("req-1", "c" * 16, "00-trace")
    assert (record.stream, record.requested_provider, record.requested_model) == (True, "embedded", "emb")
    assert (record.provider, record.model, record.outcome, record.status) == ("embedded", "emb", "ok", 200)
    assert record.attempts is turn.attempts and len(record.attempts) == 1
    assert record.normalized_usage == NormalizedUsage(input_tokens=3, output_tokens=5)
    assert record.time_to_first_token_ms is not None and 0 <= record.time_to_first_token_ms <= record.total_ms
    assert 0 <= record.overhead_ms <= record.total_ms
    assert record.content == {"messages": [{"role": "user", "content": "x"}], "answer": None}
    # A second ending (a stream's late finish after a cancelled request) changes nothing.
    total = record.total_ms
    assert not turn.finish("client_disconnected", 499, "cancelled")
    assert (record.outcome, record.status, record.error_type, record.total_ms) == ("ok", 200, None, total)
    assert record.client_disconnected is False


async def test_a_streamed_record_says_what_the_stream_carried(
    proxy: RunningProxy, records: list[CompletionRecord]
) -> None:
    body = {**BODY, "stream": True, "stream_options": {"chunk_by_sentence": True}}
    status, text = await _post(proxy, "/v1/completions", body)
    assert status == 200
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    usage = next(line["usage"] for line in lines if line["type"] == "usage")
    [record] = records
    assert (record.stream, record.outcome, record.status) == (True, "ok", 200)
    assert (record.requested_provider, record.requested_model) == ("embedded", "emb")
    assert (record.provider, record.model, record.finish_reason) == ("embedded", "emb", "stop")
    assert record.chunks == len(lines)
    assert record.sentences == sum(1 for line in lines if line["type"] == "content_sentence") > 0
    assert record.usage == usage and record.normalized_usage.output_tokens == usage["completion_tokens"] > 0
    assert record.time_to_first_token_ms is not None and record.time_to_first_sentence_ms is not None
    assert 0 < record.time_to_first_token_ms <= record.total_ms
    assert [a.outcome for a in record.attempts] == ["ok"] and record.attempts[0].provider == "embedded"
    assert record.caller and record.content is None


async def test_a_refused_request_is_recorded_with_what_was_asked(
    proxy: RunningProxy, records: list[CompletionRecord]
) -> None:
    status, _ = await _post(proxy, "/v1/completions", {**BODY, "provider_kwargs": {"embeded": {}}})
    assert status == 400
    [record] = records
    assert (record.outcome, record.status, record.error_type) == ("invalid_request", 400, "invalid_request_error")
    assert (record.requested_provider, record.requested_model, record.provider) == ("embedded", "emb", None)
    assert record.attempts == []


async def test_both_routes_record_the_same_keyed_caller_id(
    proxy: RunningProxy, records: list[CompletionRecord]
) -> None:
    assert (await _post(proxy, "/v1/completions", BODY))[0] == 200
    openai_body = {"model": "embedded/emb", "messages": BODY["messages"], "provider_kwargs": FAST, "stream": True}
    assert (await _post(proxy, "/v1/chat/completions", openai_body))[0] == 200
    native, compatible = records
    assert native.caller is not None and native.caller == compatible.caller
    assert (compatible.stream, compatible.requested_provider, compatible.provider) == (True, "embedded", "embedded")
    assert compatible.chunks > 0 and compatible.time_to_first_token_ms is not None


NATIVE_401 = {"error": {"message": "missing or invalid proxy token: send 'Authorization: Bearer <token>'",
                        "type": "authentication_error"}}  # fmt: skip
OPENAI_401 = {"error": {"message": "missing or invalid API key: send the proxy token as the OpenAI API key "
                                   "('Authorization: Bearer <token>')",
                        "type": "authentication_error", "param": None, "code": "invalid_api_key"}}  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/v1/completions", NATIVE_401),
        ("POST", "/v1/warm", NATIVE_401),
        ("GET", "/v1/providers", NATIVE_401),
        ("GET", "/metrics", NATIVE_401),
        ("GET", "/openapi.json", NATIVE_401),
        ("POST", "/v1/chat/completions", OPENAI_401),
        ("GET", "/v1/models", OPENAI_401),
    ],
)
async def test_every_protected_route_refuses_a_wrong_token_in_its_own_shape(
    proxy: RunningProxy, records: list[CompletionRecord], method: str, path: str, expected: dict[str, Any]
) -> None:
    async with aiohttp.ClientSession() as session, session.request(
        method, proxy.url + path, json=BODY, headers={"Authorization": "Bearer wrong-token-0123456789"}
    ) as resp:
        assert resp.status == 401
        assert await resp.json() == expected
        assert resp.headers["WWW-Authenticate"] == "Bearer"
        request_id = resp.headers["X-Request-ID"]
    # Only the routes that run a completion record a refused caller; metrics and the rest do not.
    recorded = [(r.request_id, r.outcome, r.caller) for r in records]
    if path in ("/v1/completions", "/v1/chat/completions"):
        assert recorded == [(request_id, "unauthorized", None)]
    else:
        assert recorded == []
