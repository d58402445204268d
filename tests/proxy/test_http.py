"""The proxy's HTTP surface, spoken to directly (no client library)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from completions_core.plugins import ProviderRegistry
from completions_proxy.testing import RunningProxy, running_proxy
from tests.helpers import FAST, KeyedAdapter, registry

pytestmark = pytest.mark.anyio

BODY = {"provider": "embedded", "model": "m", "messages": [{"role": "user", "content": "hi"}], "provider_kwargs": FAST}


@pytest.fixture
async def proxy() -> AsyncIterator[RunningProxy]:
    async with running_proxy(registry(KeyedAdapter()), max_body_bytes=4096) as running:
        yield running


async def _post(proxy: RunningProxy, body: object, *, token: str | None = None, raw: bytes | None = None,
                path: str = "/v1/completions", headers: dict[str, str] | None = None) -> tuple[int, dict, dict]:  # type: ignore[type-arg]
    async with aiohttp.ClientSession() as session:
        hdrs = {"Authorization": f"Bearer {token if token is not None else proxy.token}", **(headers or {})}
        data = raw if raw is not None else json.dumps(body).encode()
        async with session.post(proxy.url + path, data=data, headers=hdrs) as resp:
            text = await resp.text()
            is_json = resp.headers.get("Content-Type", "").startswith("application/json")
            return resp.status, (json.loads(text) if is_json else {"raw": text}), dict(resp.headers)


async def test_missing_or_wrong_token_is_401_on_every_protected_route(proxy: RunningProxy) -> None:
    for path in ("/v1/completions", "/v1/warm"):
        status, body, headers = await _post(proxy, BODY, token="wrong-token-0123456789", path=path)
        assert status == 401
        assert body["error"]["type"] == "authentication_error"
        assert headers["WWW-Authenticate"] == "Bearer"
    async with aiohttp.ClientSession() as session:
        async with session.post(proxy.url + "/v1/completions", json=BODY) as resp:
            assert resp.status == 401
        async with session.get(proxy.url + "/v1/providers") as resp:
            assert resp.status == 401


async def test_auth_is_decided_on_the_routed_path_not_the_host_or_a_prefix(proxy: RunningProxy) -> None:
    async with aiohttp.ClientSession() as session:
        for path in ("/v1/completions/", "/v1/completions%2F", "/V1/completions", "/healthz/../v1/completions"):
            async with session.post(proxy.url + path, json=BODY) as resp:
                assert resp.status in (401, 404, 405), path


async def test_health_needs_no_token_and_readiness_lists_providers(proxy: RunningProxy) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(proxy.url + "/healthz") as resp:
            assert resp.status == 200
        async with session.get(proxy.url + "/readyz") as resp:
            assert resp.status == 200
            assert (await resp.json())["providers"] == ["embedded", "keyed"]


async def test_readiness_is_false_without_any_provider() -> None:
    async with running_proxy(ProviderRegistry()) as empty, aiohttp.ClientSession() as session:
        async with session.get(empty.url + "/readyz") as resp:
            assert resp.status == 503
            assert (await resp.json())["reason"] == "no provider plugin loaded"


async def test_body_over_the_limit_is_413_naming_the_limit(proxy: RunningProxy) -> None:
    big = dict(BODY, messages=[{"role": "user", "content": "x" * 5000}])
    status, body, _ = await _post(proxy, big)
    assert status == 413
    assert body["error"]["type"] == "request_too_large_error"
    assert "4096" in body["error"]["message"]


async def test_invalid_json_and_non_object_bodies_are_400(proxy: RunningProxy) -> None:
    status, body, _ = await _post(proxy, None, raw=b"{not json")
    assert status == 400 and "not valid JSON" in body["error"]["message"]
    status, body, _ = await _post(proxy, [1, 2])
    assert status == 400 and "JSON object" in body["error"]["message"]
    status, body, _ = await _post(proxy, None, raw=b"")
    assert status == 400 and "empty" in body["error"]["message"]


async def test_request_for_unregistered_provider_is_400(proxy: RunningProxy) -> None:
    status, body, _ = await _post(proxy, dict(BODY, provider="keyed"))
    assert status == 400
    assert body["error"]["type"] == "provider_not_configured_error"


async def test_credentials_must_be_exactly_one_kind(proxy: RunningProxy) -> None:
    status, body, _ = await _post(proxy, dict(BODY, credentials={"keyed": {"voicerun_managed": True, "api_key": "k"}}))
    assert status == 400 and "exactly one" in body["error"]["message"]


async def test_request_id_is_taken_from_the_caller_or_generated(proxy: RunningProxy) -> None:
    status, body, headers = await _post(proxy, BODY, headers={"X-Request-ID": "trace-abc.123"})
    assert status == 200
    assert headers["X-Request-ID"] == "trace-abc.123" and body["request_id"] == "trace-abc.123"
    status, body, headers = await _post(proxy, BODY, headers={"X-Request-ID": "bad id with spaces"})
    assert headers["X-Request-ID"] != "bad id with spaces" and len(headers["X-Request-ID"]) == 32


async def test_stream_is_ndjson_one_object_per_line(proxy: RunningProxy) -> None:
    status, body, headers = await _post(proxy, dict(BODY, stream=True))
    assert status == 200
    assert headers["Content-Type"].startswith("application/x-ndjson")
    lines = body["raw"].splitlines()
    records = [json.loads(line) for line in lines]
    assert records[-1]["type"] == "response"
    assert {r["type"] for r in records} == {"content_delta", "finish_reason", "usage", "response"}


async def test_warm_opens_the_provider_client(proxy: RunningProxy) -> None:
    status, body, _ = await _post(proxy, {"provider": "embedded"}, path="/v1/warm")
    assert status == 202 and body == {"provider": "embedded", "warm": True}
    assert len(proxy.state.clients) == 1
    status, body, _ = await _post(proxy, {"provider": "nope"}, path="/v1/warm")
    assert status == 404


async def test_error_bodies_never_contain_the_customer_key(proxy: RunningProxy) -> None:
    key = "sk-customer-SECRET-0011223344"
    bad = dict(BODY, provider="keyed", credentials={"keyed": {"api_key": key}}, temperature="hot")
    status, body, _ = await _post(proxy, bad)
    assert status == 400 and key not in json.dumps(body)


async def test_a_model_name_with_any_characters_still_gives_valid_headers(proxy: RunningProxy) -> None:
    for stream in (False, True):
        status, _, headers = await _post(proxy, dict(BODY, model="x\u0099\U0010fc2c\u00c6 模型", stream=stream))
        assert status == 200
        attempts = {k.lower(): v for k, v in headers.items()}["x-completions-attempts"]
        assert json.loads(attempts)[0]["model"] == "x\u0099\U0010fc2c\u00c6 模型"
