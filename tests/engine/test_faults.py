"""The fault matrix: every upstream fault x streaming or not x without or with a fallback.

The primary is the real OpenAI plugin talking to the replay server, which injects the fault;
the fallback is the embedded provider. For each case the test asserts what the client saw,
which provider answered and how many attempts the engine made.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import aiohttp
import pytest
from completions_embedded import EmbeddedAdapter
from completions_openai import OpenAIAdapter

from completions_core.plugins import ProviderRegistry
from completions_core.testing.cassettes import load_cassette
from completions_core.testing.replay import Fault, ReplayServer, Reply, Stream
from completions_core.testing.replies import refusing_port
from completions_proxy.testing import RunningProxy, running_proxy

pytestmark = pytest.mark.anyio

CASSETTES = Path(__file__).resolve().parents[2] / "providers" / "openai" / "tests" / "cassettes"
TEXT = load_cassette(CASSETTES / "chat_text.yaml")[0].response
STREAM = load_cassette(CASSETTES / "chat_stream_text.yaml")[0].response
STREAM_EVENTS = STREAM.sse_events()
ERROR_BODY = {"error": {"message": "upstream trouble", "type": "server_error", "param": None, "code": None}}


@dataclass(frozen=True)
class Case:
    name: str
    fault: Callable[[bool], Optional[Reply]]  # stream? -> reply (None: connection refused)
    error_type: str  # what the caller sees without a fallback
    status: int  # HTTP status without a fallback (streaming: before the first chunk)
    mid_stream: bool = False  # the stream fails after content was sent: no fallback possible


CASES = [
    Case("429 with Retry-After", lambda s: Fault.status(429, ERROR_BODY, retry_after=1), "rate_limit_error", 429),
    Case("429 without Retry-After", lambda s: Fault.status(429, ERROR_BODY), "rate_limit_error", 429),
    Case("500", lambda s: Fault.status(500, ERROR_BODY), "provider_error", 502),
    Case("503", lambda s: Fault.status(503, ERROR_BODY), "overloaded_error", 503),
    Case("529", lambda s: Fault.status(529, ERROR_BODY), "overloaded_error", 503),
    Case("connection refused", lambda s: None, "connection_error", 502),
    Case("reset before headers", lambda s: Fault.reset(), "connection_error", 502),
    Case("hang before headers", lambda s: Fault.hang(), "timeout_error", 504),
    Case("hang before first token", lambda s: Fault.hang_after_headers() if s else Fault.hang(), "timeout_error", 504),
    Case("hang mid-stream", lambda s: Stream(STREAM_EVENTS).then_hang(after_events=3) if s else Fault.hang(),
         "timeout_error", 504, mid_stream=True),
    Case("reset mid-stream", lambda s: Stream(STREAM_EVENTS).then_reset(after_events=3) if s else Fault.reset(),
         "connection_error", 502, mid_stream=True),
    Case("malformed SSE event", lambda s: Fault.malformed_sse(STREAM_EVENTS[:3]) if s else Fault.truncated_json(json.loads(TEXT.body)),
         "invalid_response_error", 502, mid_stream=True),
    Case("truncated JSON body", lambda s: Fault.truncated_json(json.loads(TEXT.body)), "invalid_response_error", 502),
    Case("wrong content type", lambda s: Fault.wrong_content_type(), "invalid_response_error", 502),
]


@pytest.fixture
async def upstream() -> AsyncIterator[ReplayServer]:
    async with ReplayServer() as server:
        yield server


async def _run(proxy: RunningProxy, body: dict[str, Any]) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
    async with aiohttp.ClientSession() as session, session.post(
        proxy.url + "/v1/completions", json=body, headers={"Authorization": f"Bearer {proxy.token}"}
    ) as resp:
        text = await resp.text()
        attempts = json.loads(resp.headers.get("X-Completions-Attempts", "[]"))
        if resp.headers.get("Content-Type", "").startswith("application/x-ndjson"):
            return resp.status, [json.loads(line) for line in text.splitlines() if line.strip()], attempts
        return resp.status, [json.loads(text)], attempts


#: The request's timeout: short where a hang must hit it, generous where nothing should. A hang
#: before any content times out the same way with any deadline; a mid-stream hang's deadline
#: leaves time for the events it sends first.
HANG_TIMEOUT, MID_STREAM_HANG_TIMEOUT, TIMEOUT = 0.1, 0.3, 5.0


def _body(stream: bool, fallback: bool, timeout: float = TIMEOUT) -> dict[str, Any]:
    body: dict[str, Any] = {
        "provider": "openai", "model": "gpt-4o-mini", "stream": stream, "timeout": timeout,
        "messages": [{"role": "user", "content": "Say this is a test"}],
        "credentials": {"openai": {"api_key": "sk-test-fault-matrix-0001"}},
        # One fault, one failed attempt: this matrix is about how each fault is seen and where the
        # turn goes next; retries of the same faults are the matrix below.
        "retry": {"enabled": False},
    }
    if fallback:
        # provider_kwargs keys must be installed providers: the embedded one is only there as a fallback.
        body["provider_kwargs"] = {"embedded": {"text": "Fallback answer.", "token_delay": 0, "first_token_delay": 0}}
        body["fallbacks"] = [{"provider": "embedded", "model": "emb"}]
    return body


@pytest.mark.parametrize("fallback", [False, True], ids=["no-fallback", "fallback"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_fault(case: Case, stream: bool, fallback: bool, upstream: ReplayServer) -> None:
    reply = case.fault(stream)
    with refusing_port() as closed:
        base = upstream.url if reply is not None else f"http://127.0.0.1:{closed}"
        if reply is not None:
            upstream.enqueue(reply)
        registry = ProviderRegistry()
        registry.register(OpenAIAdapter(base_url=base + "/v1"))
        registry.register(EmbeddedAdapter())
        async with running_proxy(registry) as proxy:
            timeout = TIMEOUT
            if "hang" in case.name:
                timeout = MID_STREAM_HANG_TIMEOUT if stream and case.mid_stream else HANG_TIMEOUT
            status, records, attempts = await _run(proxy, _body(stream, fallback, timeout))
    mid_stream = stream and case.mid_stream
    if mid_stream:
        # Content reached the client: the turn stays with OpenAI and ends with an error record.
        assert status == 200
        kinds = [r["type"] for r in records]
        assert kinds[0] == "content_delta" and kinds[-1] == "error", kinds
        assert "response" not in kinds
        assert records[-1]["error_type"] == case.error_type
        assert "Fallback answer." not in json.dumps(records)
        assert [a["provider"] for a in attempts] == ["openai"]
    elif fallback:
        assert status == 200
        final = records[-1]["response"] if stream else records[0]
        assert final["provider"] == "embedded" and final["message"]["content"] == "Fallback answer."
        assert [(a["provider"], a["outcome"]) for a in attempts] == [("openai", "error"), ("embedded", "ok")]
        assert attempts[0]["error_type"] == case.error_type
    else:
        assert status == case.status
        assert records[0]["error"]["type"] == case.error_type
        assert [(a["provider"], a["outcome"]) for a in attempts] == [("openai", "error")]
    assert "sk-test-fault-matrix-0001" not in json.dumps(records)


class _NoWait:
    """The engine's sleep, recording each delay instead of waiting it."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


# Faults a retry can get past (a hang costs the request's whole timeout: covered above; a
# refused connection stays refused).
RETRIED = [c for c in CASES if c.fault(False) is not None and "hang" not in c.name]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("case", RETRIED, ids=[c.name for c in RETRIED])
async def test_fault_then_success_with_the_default_retries(case: Case, stream: bool, upstream: ReplayServer) -> None:
    """No ``retry`` in the request: the documented defaults retry the fault, unless content was sent."""
    reply = case.fault(stream)
    assert reply is not None
    upstream.enqueue(reply)
    upstream.enqueue(Stream.from_response(STREAM) if stream else Fault.truncated_json(json.loads(TEXT.body), keep=10**9))
    registry = ProviderRegistry()
    registry.register(OpenAIAdapter(base_url=upstream.url + "/v1"))
    async with running_proxy(registry) as proxy:
        waits = _NoWait()
        proxy.state.engine.sleep = waits
        body = _body(stream, False)
        del body["retry"]
        status, records, attempts = await _run(proxy, body)
    assert status == 200
    if stream and case.mid_stream:
        # Content reached the client: no retry (the header went out with the first chunk).
        assert records[-1]["type"] == "error" and len(attempts) == 1
        assert waits.delays == [] and len(upstream.requests) == 1
        return
    final = records[-1]["response"] if stream else records[0]
    assert final["provider"] == "openai" and final["message"]["content"]
    assert [(a["outcome"], a["error_type"]) for a in attempts] == [("error", case.error_type), ("ok", None)]
    assert len(waits.delays) == 1 and waits.delays[0] >= 1.0  # the documented retry_delay, at least


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_retry_recovers_after_a_429_and_a_500(stream: bool, upstream: ReplayServer) -> None:
    upstream.enqueue(Fault.status(429, ERROR_BODY, retry_after_ms=10))
    upstream.enqueue(Fault.status(500, ERROR_BODY))
    upstream.enqueue(Stream.from_response(STREAM) if stream else Fault.truncated_json(json.loads(TEXT.body), keep=10**9))
    registry = ProviderRegistry()
    registry.register(OpenAIAdapter(base_url=upstream.url + "/v1"))
    async with running_proxy(registry) as proxy:
        body = _body(stream, False) | {"retry": {"max_retries": 3, "retry_delay": 0.01}}
        status, _records, attempts = await _run(proxy, body)
    assert status == 200
    assert [a["outcome"] for a in attempts] == ["error", "error", "ok"]
    assert [a["error_type"] for a in attempts[:2]] == ["rate_limit_error", "provider_error"]
    assert len(upstream.requests) == 3
