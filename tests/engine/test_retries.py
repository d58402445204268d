"""Retries: the documented defaults, the delays, auth refresh, the attempt cap, the non-streaming deadline.

The engine's waits go through ``engine.sleep`` and its jitter through ``engine.random``: these
tests inject both, so they check every delay exactly and never wait for a backoff.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Hashable
from pathlib import Path
from typing import Any, Optional

import aiohttp
import pytest
from aiohttp import web
from completions_embedded import EmbeddedAdapter
from completions_openai import OpenAIAdapter

from completions_core.adapter import Completion, Credential, ProviderAdapter
from completions_core.errors import ProviderError
from completions_core.limits import DEFAULT_LIMITS
from completions_core.plugins import ProviderRegistry
from completions_core.records import AttemptRecord
from completions_core.request import ProviderRequest, RetryPolicy
from completions_core.testing.cassettes import load_cassette
from completions_core.testing.replay import Fault, ReplayServer
from completions_core.types import AssistantMessage, UserMessage
from completions_proxy.engine import JITTER, MAX_BACKOFF, Schedule, _backoff
from completions_proxy.settings import ConfigError, Settings
from completions_proxy.testing import RunningProxy, running_proxy
from completions_proxy.turns import Target
from completions_proxy.wire import MANAGED

pytestmark = pytest.mark.anyio

CASSETTES = Path(__file__).resolve().parents[2] / "providers" / "openai" / "tests" / "cassettes"
AUTH_BODY = {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                       "param": None, "code": "invalid_api_key"}}
NO_RETRY = {"enabled": False}


class Waits:
    """Stands in for the engine's sleep: records each delay, returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def _injected(proxy: RunningProxy, rand: float = 0.0) -> Waits:
    waits = Waits()
    proxy.state.engine.sleep = waits
    proxy.state.engine.random = lambda: rand
    return waits


async def _post(proxy: RunningProxy, body: dict[str, Any]) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
    async with aiohttp.ClientSession() as session, session.post(
        proxy.url + "/v1/completions", json=body, headers={"Authorization": f"Bearer {proxy.token}"}
    ) as resp:
        text = await resp.text()
        attempts = json.loads(resp.headers.get("X-Completions-Attempts", "[]"))
        return resp.status, [json.loads(line) for line in text.splitlines() if line.strip()], attempts


def _embedded(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"provider": "embedded", "model": "m", "messages": [{"role": "user", "content": "hi"}]}
    body.update(extra)
    return body


def _failing(times: int | None = None, kind: str = "provider_error", status: int = 500) -> dict[str, Any]:
    error: dict[str, Any] = {"type": kind, "status": status, "message": "injected"}
    if times is not None:
        error |= {"times": times, "key": uuid.uuid4().hex}
    return {"embedded": {"token_delay": 0, "first_token_delay": 0, "error": error}}


def _registry(*adapters: ProviderAdapter) -> ProviderRegistry:
    registry = ProviderRegistry()
    registry.register(EmbeddedAdapter())
    for adapter in adapters:
        registry.register(adapter, "tests")
    return registry


# -- the documented defaults ------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_without_retry_the_documented_defaults_apply(stream: bool) -> None:
    async with running_proxy(_registry()) as proxy:
        waits = _injected(proxy)
        status, _, attempts = await _post(proxy, _embedded(stream=stream, provider_kwargs=_failing(times=3)))
    assert status == 200
    assert [a["outcome"] for a in attempts] == ["error", "error", "error", "ok"]
    assert waits.delays == [1.0, 2.0, 4.0]  # retry_delay 1.0, backoff_multiplier 2.0


async def test_the_client_sends_no_retry_when_the_user_set_none_and_gets_the_defaults(client_reset: None) -> None:
    from primfunctions.completions import configure, configure_provider, generate_chat_completion

    async with running_proxy(_registry()) as proxy:
        waits = _injected(proxy)
        configure(proxy.url, proxy.token)
        configure_provider("embedded", voicerun_managed=True)
        response = await generate_chat_completion(_embedded(provider_kwargs=_failing(times=2)))
    assert response.provider == "embedded" and waits.delays == [1.0, 2.0]


async def test_retries_disabled_make_one_attempt() -> None:
    async with running_proxy(_registry()) as proxy:
        waits = _injected(proxy)
        status, lines, attempts = await _post(proxy, _embedded(provider_kwargs=_failing(), retry=NO_RETRY))
    assert status == 502 and lines[0]["error"]["type"] == "provider_error"
    assert len(attempts) == 1 and waits.delays == []


async def test_the_defaults_run_out_after_three_retries() -> None:
    async with running_proxy(_registry()) as proxy:
        _injected(proxy)
        status, _, attempts = await _post(proxy, _embedded(provider_kwargs=_failing()))
    assert status == 502 and len(attempts) == 4


# -- delays -----------------------------------------------------------------------------------


async def test_a_retry_never_waits_less_than_the_documented_delay_and_jitter_stays_bounded() -> None:
    retry = {"max_retries": 3, "retry_delay": 0.5, "backoff_multiplier": 3.0}
    async with running_proxy(_registry()) as proxy:
        low = _injected(proxy, rand=0.0)
        await _post(proxy, _embedded(provider_kwargs=_failing(times=3), retry=retry))
        high = _injected(proxy, rand=0.999999)
        await _post(proxy, _embedded(provider_kwargs=_failing(times=3), retry=retry))
    assert low.delays == [0.5, 1.5, 4.5]
    for delay, nominal in zip(high.delays, [0.5, 1.5, 4.5], strict=True):
        assert nominal < delay <= nominal * (1 + JITTER)


async def test_a_zero_retry_delay_still_waits_the_floor() -> None:
    async with running_proxy(_registry()) as proxy:
        waits = _injected(proxy)
        await _post(proxy, _embedded(provider_kwargs=_failing(times=2), retry={"retry_delay": 0}))
        assert waits.delays == [proxy.state.settings.retry_min_delay] * 2
    assert proxy.state.settings.retry_min_delay == 0.05


def test_backoff_bounds_with_an_injected_random() -> None:
    retry = RetryPolicy(retry_delay=1.0, backoff_multiplier=2.0)
    assert _backoff(retry, 2, None, rand=lambda: 0.0) == 4.0
    assert _backoff(retry, 2, None, rand=lambda: 1.0) == 4.0 * (1 + JITTER)
    assert _backoff(RetryPolicy(retry_delay=0.0), 0, None, floor=0.05, rand=lambda: 0.0) == 0.05
    # A huge exponent or multiplier neither overflows nor sleeps forever.
    assert _backoff(RetryPolicy(backoff_multiplier=1e10), 10**6, None, rand=lambda: 1.0) == MAX_BACKOFF
    assert _backoff(RetryPolicy(retry_delay=1e300), 3, None, rand=lambda: 0.5) == MAX_BACKOFF
    # The provider's Retry-After raises the delay (capped), never lowers it.
    assert _backoff(retry, 0, 7.0, rand=lambda: 0.0) == 7.0
    assert _backoff(retry, 3, 0.5, rand=lambda: 0.0) == 8.0


# -- the schedule -----------------------------------------------------------------------------


def _target(name: str, retry: Optional[RetryPolicy]) -> Target:
    request = ProviderRequest(provider="embedded", model=name, messages=(UserMessage("x"),), retry=retry)
    return Target(adapter=EmbeddedAdapter(), request=request, credential=MANAGED)


def _walk(schedule: Schedule, error: ProviderError) -> list[tuple[int, int, bool]]:
    """Run the schedule with every attempt failing with ``error``."""
    steps = []
    for step in schedule:
        steps.append((step.index, step.retry, step.refresh))
        schedule.attempts.append(AttemptRecord(step.target.provider, step.target.request.model, target=step.index))
        schedule.last = error
    return steps


def test_the_schedule_is_lazy_and_capped_whatever_max_retries_says() -> None:
    huge = RetryPolicy(max_retries=10**18)
    schedule = Schedule([_target("a", huge), _target("b", huge)], [], max_attempts=8)
    steps = _walk(schedule, ProviderError("down", "overloaded_error"))
    assert steps == [(0, n, False) for n in range(8)]
    assert schedule.capped


def test_a_failure_that_is_not_retryable_moves_on_at_once_even_with_huge_max_retries() -> None:
    huge = RetryPolicy(max_retries=10**18)
    schedule = Schedule([_target("a", huge), _target("b", huge)], [], max_attempts=8)
    assert _walk(schedule, ProviderError("bad", "invalid_request_error")) == [(0, 0, False), (1, 0, False)]
    assert not schedule.capped


def test_an_auth_error_gets_one_refreshed_retry_per_target() -> None:
    retry = RetryPolicy(max_retries=3)
    schedule = Schedule([_target("a", retry), _target("b", retry)], [], max_attempts=8)
    steps = _walk(schedule, ProviderError("401", "authentication_error"))
    assert steps == [(0, 0, False), (0, 1, True), (1, 0, False), (1, 1, True)]


def test_with_retries_off_an_auth_error_is_not_retried() -> None:
    schedule = Schedule([_target("a", None)], [], max_attempts=8)
    assert _walk(schedule, ProviderError("401", "authentication_error")) == [(0, 0, False)]


# -- the attempt cap --------------------------------------------------------------------------


@pytest.fixture
async def always_503() -> AsyncIterator[tuple[list[int], str]]:
    calls: list[int] = []

    async def handle(request: web.Request) -> web.Response:
        calls.append(1)
        return web.json_response({"error": {"message": "overloaded", "type": "server_error"}}, status=503)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handle)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield calls, f"http://127.0.0.1:{port}/v1"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_an_upstream_failing_everything_gets_at_most_the_cap_of_calls(
    stream: bool, always_503: tuple[list[int], str]
) -> None:
    calls, url = always_503
    registry = ProviderRegistry()
    registry.register(OpenAIAdapter(base_url=url))
    # The largest max_retries the codec takes (10 if the codec names no such limit).
    most = int(getattr(DEFAULT_LIMITS, "max_retries", 10))
    retry = {"max_retries": most, "retry_delay": 0, "backoff_multiplier": 1}
    body = {"provider": "openai", "model": "gpt-4o-mini", "stream": stream, "retry": retry,
            "messages": [{"role": "user", "content": "x"}],
            "credentials": {"openai": {"api_key": "sk-test-cap-0000000000"}},
            "fallbacks": [{"model": "gpt-4o"}, {"model": "gpt-4.1"}]}
    # The circuit breaker off: it would skip gpt-4o-mini after five 503s in a row (tests/engine/test_outage.py).
    async with running_proxy(registry, breaker_failures=0) as proxy:
        waits = _injected(proxy)
        status, lines, attempts = await _post(proxy, body)
        cap = proxy.state.settings.max_attempts
    assert cap == 8
    assert status == 503 and lines[0]["error"]["type"] == "overloaded_error"
    assert len(calls) == cap and len(attempts) == cap
    assert waits.delays and min(waits.delays) >= 0.05  # the floor, although retry_delay is 0


async def test_the_cap_is_an_operator_setting(always_503: tuple[list[int], str]) -> None:
    calls, url = always_503
    registry = ProviderRegistry()
    registry.register(OpenAIAdapter(base_url=url))
    body = {"provider": "openai", "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}],
            "credentials": {"openai": {"api_key": "sk-test-cap-0000000000"}}, "fallbacks": [{"model": "gpt-4o"}]}
    async with running_proxy(registry, env={"COMPLETIONS_MAX_ATTEMPTS": "3"}) as proxy:
        _injected(proxy)
        status, _, attempts = await _post(proxy, body)
    assert status == 503 and len(calls) == 3 and len(attempts) == 3


def test_new_settings_are_read_and_checked() -> None:
    env = {"COMPLETIONS_PROXY_TOKENS": "proxy-token-0123456789abcdef"}
    defaults = Settings.from_env(env)
    assert (defaults.max_attempts, defaults.retry_min_delay, defaults.complete_timeout) == (8, 0.05, 120.0)
    custom = Settings.from_env(env | {"COMPLETIONS_MAX_ATTEMPTS": "4", "COMPLETIONS_RETRY_MIN_DELAY": "0.2",
                                      "COMPLETIONS_COMPLETE_TIMEOUT": "0"})
    assert (custom.max_attempts, custom.retry_min_delay, custom.complete_timeout) == (4, 0.2, None)
    with pytest.raises(ConfigError, match="COMPLETIONS_MAX_ATTEMPTS must be >= 1"):
        Settings.from_env(env | {"COMPLETIONS_MAX_ATTEMPTS": "0"})
    with pytest.raises(ConfigError, match="COMPLETIONS_COMPLETE_TIMEOUT"):
        Settings.from_env(env | {"COMPLETIONS_COMPLETE_TIMEOUT": "forever"})


# -- the non-streaming deadline ---------------------------------------------------------------


async def test_a_non_streaming_call_without_timeout_gets_the_operator_deadline() -> None:
    async with running_proxy(_registry(), env={"COMPLETIONS_COMPLETE_TIMEOUT": "0.2"}) as proxy:
        body = _embedded(retry=NO_RETRY, provider_kwargs={"embedded": {"first_token_delay": 30}})
        status, lines, _ = await _post(proxy, body)
    assert status == 504 and lines[0]["error"]["type"] == "timeout_error"
    assert "default deadline" in lines[0]["error"]["message"]


# -- auth errors: refresh, then retry once ----------------------------------------------------


@pytest.fixture
async def upstream() -> AsyncIterator[ReplayServer]:
    async with ReplayServer() as server:
        yield server


async def test_a_managed_key_rotated_in_place_is_reread_after_a_401(upstream: ReplayServer, tmp_path: Path) -> None:
    key = tmp_path / "openai"
    key.write_text("sk-old-managed-key-0001")
    released = asyncio.Event()
    upstream.enqueue(Fault.hang(release=released, then=Fault.status(401, AUTH_BODY)))
    upstream.enqueue_cassette(load_cassette(CASSETTES / "chat_text.yaml"))
    registry = ProviderRegistry()
    registry.register(OpenAIAdapter(base_url=upstream.url + "/v1"))
    body = {"provider": "openai", "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say this is a test"}],
            "credentials": {"openai": {"voicerun_managed": True}}}
    async with running_proxy(registry, env={"COMPLETIONS_SECRETS_DIR": str(tmp_path)}) as proxy:
        waits = _injected(proxy)
        call = asyncio.create_task(_post(proxy, body))
        await upstream.wait_for_requests(1)
        # Rotated in place while the first call is out: same size, same modification time.
        stat = key.stat()
        key.write_text("sk-new-managed-key-0002")
        os.utime(key, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        released.set()
        status, lines, attempts = await call
    assert status == 200 and lines[0]["provider"] == "openai"
    assert [(a["outcome"], a["error_type"]) for a in attempts] == [("error", "authentication_error"), ("ok", None)]
    sent = [r.headers["authorization"] for r in upstream.requests]
    assert sent == ["Bearer sk-old-managed-key-0001", "Bearer sk-new-managed-key-0002"]
    assert waits.delays == []  # the refreshed retry goes at once
    assert "sk-new-managed-key" not in json.dumps(lines) and "sk-old-managed-key" not in json.dumps(lines)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_wrong_customer_key_is_tried_twice_without_backoff_then_falls_back(
    stream: bool, upstream: ReplayServer
) -> None:
    upstream.enqueue(Fault.status(401, AUTH_BODY))
    upstream.enqueue(Fault.status(401, AUTH_BODY))
    registry = ProviderRegistry()
    registry.register(OpenAIAdapter(base_url=upstream.url + "/v1"))
    registry.register(EmbeddedAdapter())
    body = {"provider": "openai", "model": "gpt-4o-mini", "stream": stream, "messages": [{"role": "user", "content": "x"}],
            "credentials": {"openai": {"api_key": "sk-test-wrong-key-000"}},
            "provider_kwargs": {"embedded": {"token_delay": 0, "first_token_delay": 0}},
            "fallbacks": [{"provider": "embedded", "model": "emb"}]}
    async with running_proxy(registry) as proxy:
        waits = _injected(proxy)
        status, _, attempts = await _post(proxy, body)
    assert status == 200
    assert [(a["provider"], a["outcome"]) for a in attempts] == [("openai", "error"), ("openai", "error"), ("embedded", "ok")]
    assert len(upstream.requests) == 2 and waits.delays == []


class Minting(ProviderAdapter):
    """Like Vertex: each new client mints a new token; the first client's token has expired."""

    name = "minting"
    requires_key = False

    def __init__(self) -> None:
        self.minted = 0

    def client_config(self, request: ProviderRequest, credential: Credential) -> Hashable:
        return "the-service-account"

    def create_client(self, config: Any) -> Any:
        self.minted += 1
        return {"token": self.minted}

    async def close_client(self, client: Any) -> None:
        return None

    async def complete(self, client: Any, request: ProviderRequest) -> Completion:
        if client["token"] == 1:
            raise ProviderError("token expired", "authentication_error", provider=self.name, status_code=401)
        return Completion(message=AssistantMessage(content=f"token {client['token']}"), finish_reason="stop")


async def test_an_auth_error_drops_the_cached_client_so_a_new_token_is_minted() -> None:
    minting = Minting()
    async with running_proxy(_registry(minting)) as proxy:
        _injected(proxy)
        status, lines, attempts = await _post(proxy, {"provider": "minting", "model": "m",
                                                      "messages": [{"role": "user", "content": "x"}]})
    assert status == 200 and lines[0]["message"]["content"] == "token 2"
    assert minting.minted == 2 and [a["outcome"] for a in attempts] == ["error", "ok"]
