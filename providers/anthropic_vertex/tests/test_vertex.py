"""Anthropic on Vertex: credentials, token caching, destination checks, and the shared mapping.

Everything runs against one loopback ReplayServer playing both Google's token endpoint
(``POST /token``) and Vertex (``.../publishers/anthropic/models/{model}:rawPredict``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import anyio
import pytest
from completions_anthropic.response import normalize_usage
from completions_anthropic.sending import prepared_post
from completions_anthropic_vertex import (
    VERTEX_ANTHROPIC_VERSION,
    AnthropicVertexAdapter,
    VertexClientConfig,
    vertex_base_url,
)

from completions_core.adapter import Credential
from completions_core.errors import InvalidRequestError, ProviderError
from completions_core.redaction import Secret
from completions_core.request import ProviderRequest
from completions_core.testing.cassettes import Cassette
from completions_core.testing.contract import collect
from completions_core.testing.replay import Fault, ReplayServer
from completions_core.testing.requests import provider_request
from completions_core.types import (
    AssistantMessage,
    CacheBreakpoint,
    FunctionDefinition,
    SystemMessage,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
)

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
]

ClientFor = Callable[[ProviderRequest, Credential], Any]
PROJECT = "voicerun-test-1"
REGION = "us-east5"
TOKEN = "ya29.c.TEST-ACCESS-TOKEN-9f8e7d6c"
MODEL = "claude-haiku-4-5@20251001"


def vertex_path(model: str, stream: bool, project: str = PROJECT, region: str = REGION) -> str:
    """The path AsyncAnthropicVertex posts a Messages request to."""
    verb = "streamRawPredict" if stream else "rawPredict"
    return f"/v1/projects/{project}/locations/{region}/publishers/anthropic/models/{model}:{verb}"


def token_reply(token: str = TOKEN, expires_in: int = 3600) -> dict[str, Any]:
    """Google's token endpoint answer to the JWT-bearer grant."""
    return {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}


@pytest.fixture
def service_account(private_key_pem: str) -> dict[str, Any]:
    """A parsed service-account key; its token_uri points somewhere the adapter must not go."""
    return {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": private_key_pem,
        "client_email": "completions@voicerun-test-1.iam.gserviceaccount.com",
        "client_id": "123456789012345678901",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "http://169.254.169.254/computeMetadata/v1/token",
        "universe_domain": "googleapis.com",
    }


@pytest.fixture
def adapter(server: ReplayServer) -> AnthropicVertexAdapter:
    return AnthropicVertexAdapter(
        base_url=server.url + "/v1", project_id=PROJECT, region=REGION, token_uri=server.url + "/token"
    )


@pytest.fixture
async def client_for(adapter: AnthropicVertexAdapter) -> AsyncIterator[ClientFor]:
    made: list[Any] = []

    def build(request: ProviderRequest, credential: Credential) -> Any:
        client = adapter.create_client(adapter.client_config(request, credential))
        made.append(client)
        return client

    yield build
    for client in made:
        await adapter.close_client(client)

MANAGED_NOTHING = Credential("managed", Secret("/nonexistent/never-read.json"))


def request(service_account: dict[str, Any] | None = None, **fields: Any) -> ProviderRequest:
    options: dict[str, Any] = {}
    if service_account is not None:
        options["service_account_credentials"] = service_account
    options.update(fields.pop("vertex", {}))
    values: dict[str, Any] = {
        "provider": "anthropic_vertex",
        "model": MODEL,
        "messages": [UserMessage("Tell me a joke about OpenTelemetry")],
        "provider_kwargs": {"anthropic_vertex": options} if options else None,
    }
    values.update(fields)
    return provider_request(**values)


def serve_text(server: ReplayServer, cassette: Callable[[str], Cassette], times: int = 1) -> None:
    for _ in range(times):
        server.enqueue_cassette(cassette("messages_text.yaml"), path=vertex_path(MODEL, stream=False))


def paths(server: ReplayServer) -> list[str]:
    return [r.path for r in server.requests]


async def test_a_service_account_from_provider_kwargs_fetches_one_token_for_two_requests(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: AnthropicVertexAdapter,
    client_for: ClientFor,
    service_account: dict[str, Any],
) -> None:
    server.enqueue_json(200, token_reply(), path="/token")
    serve_text(server, cassette, times=2)
    req = request(service_account)
    client = client_for(req, MANAGED_NOTHING)
    first = await adapter.complete(client, req)
    second = await adapter.complete(client, req)
    assert first.message.content == second.message.content and first.message.content
    assert paths(server) == ["/token", vertex_path(MODEL, False), vertex_path(MODEL, False)]
    grant = parse_qs(server.requests[0].body.decode())
    assert grant["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert grant["assertion"][0].count(".") == 2  # a signed JWT
    for sent in server.requests[1:]:
        assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    body = server.requests[-1].json()
    assert body["anthropic_version"] == VERTEX_ANTHROPIC_VERSION
    assert "model" not in body  # Vertex takes the model from the path
    server.assert_all_used()


async def test_concurrent_requests_on_a_cold_client_fetch_one_token(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: AnthropicVertexAdapter,
    client_for: ClientFor,
    service_account: dict[str, Any],
) -> None:
    server.enqueue_json(200, token_reply(), path="/token")
    serve_text(server, cassette, times=3)
    req = request(service_account)
    client = client_for(req, MANAGED_NOTHING)
    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(adapter.complete, client, req)
    assert paths(server).count("/token") == 1
    assert len(server.requests) == 4
    server.assert_all_used()


async def test_an_expired_token_is_refreshed_once_and_the_new_one_reused(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: AnthropicVertexAdapter,
    client_for: ClientFor,
    service_account: dict[str, Any],
) -> None:
    server.enqueue_json(200, token_reply("ya29.first"), path="/token")
    serve_text(server, cassette)
    server.enqueue_json(200, token_reply("ya29.second"), path="/token")
    serve_text(server, cassette, times=2)
    req = request(service_account)
    client = client_for(req, MANAGED_NOTHING)
    await adapter.complete(client, req)
    # An hour later: the cached token has expired.
    client.credentials.expiry -= timedelta(hours=2)
    assert client.credentials.expired
    await adapter.complete(client, req)
    await adapter.complete(client, req)
    assert paths(server).count("/token") == 2
    bearer = [r.headers["authorization"] for r in server.requests if r.path != "/token"]
    assert bearer == ["Bearer ya29.first", "Bearer ya29.second", "Bearer ya29.second"]
    server.assert_all_used()


async def test_the_token_uri_in_a_key_is_replaced_by_the_operators(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: AnthropicVertexAdapter,
    client_for: ClientFor,
    service_account: dict[str, Any],
) -> None:
    assert service_account["token_uri"].startswith("http://169.254.169.254")
    server.enqueue_json(200, token_reply(), path="/token")
    serve_text(server, cassette)
    req = request(service_account)
    await adapter.complete(client_for(req, MANAGED_NOTHING), req)
    assert paths(server)[0] == "/token"  # the loopback endpoint the operator configured


async def test_streaming_goes_to_stream_raw_predict(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: AnthropicVertexAdapter,
    client_for: ClientFor,
    service_account: dict[str, Any],
) -> None:
    server.enqueue_json(200, token_reply(), path="/token")
    server.enqueue_cassette(cassette("messages_stream_text.yaml"), path=vertex_path(MODEL, stream=True))
    req = request(service_account)
    client = client_for(req, MANAGED_NOTHING)
    # Its token is minted and refreshed per request: a Vertex client keeps the SDK's own sending.
    assert prepared_post(client) is None
    result = await collect(adapter, client, req)
    assert result.text == "- Captain\n- Scoop"
    assert result.response.finish_reason == "stop"
    assert server.requests[-1].json()["stream"] is True
    assert normalize_usage(result.usage).output_tokens == 10


async def test_project_and_region_from_provider_kwargs_pick_the_path(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: AnthropicVertexAdapter,
    client_for: ClientFor,
) -> None:
    server.enqueue_cassette(
        cassette("messages_text.yaml"), path=vertex_path(MODEL, False, project="other-project-42", region="europe-west1")
    )
    req = request(vertex={"project_id": "other-project-42", "region": "europe-west1"})
    await adapter.complete(client_for(req, Credential("customer", Secret("ya29.caller-token"))), req)
    assert server.requests[-1].headers["authorization"] == "Bearer ya29.caller-token"
    server.assert_all_used()


@pytest.mark.parametrize(
    "region", ["attacker.example/x", "us-east5.evil.com", "localhost", "", "US-EAST5", "us-east5/../../x", 5]
)
def test_a_region_outside_the_allowlist_is_a_400_from_client_config(region: Any) -> None:
    adapter = AnthropicVertexAdapter(project_id=PROJECT, region=REGION)
    with pytest.raises(InvalidRequestError) as info:
        adapter.client_config(request(vertex={"region": region}), Credential("customer", Secret("ya29.x")))
    assert info.value.status_code == 400
    assert info.value.path == "provider_kwargs.anthropic_vertex.region"


@pytest.mark.parametrize("project", ["../../v1/x", "Upper-Case-1", "short", "a" * 31, "ends-with-", "1starts-digit", "my.project:x"])
def test_a_project_id_without_gcp_syntax_is_a_400_from_client_config(project: str) -> None:
    adapter = AnthropicVertexAdapter(project_id=PROJECT, region=REGION)
    with pytest.raises(InvalidRequestError) as info:
        adapter.client_config(request(vertex={"project_id": project}), Credential("customer", Secret("ya29.x")))
    assert info.value.path == "provider_kwargs.anthropic_vertex.project_id"


def test_the_vertex_host_follows_the_region() -> None:
    assert vertex_base_url("us-east5") == "https://us-east5-aiplatform.googleapis.com/v1"
    assert vertex_base_url("global") == "https://aiplatform.googleapis.com/v1"
    assert vertex_base_url("eu") == "https://aiplatform.eu.rep.googleapis.com/v1"
    config = AnthropicVertexAdapter(project_id=PROJECT).client_config(
        request(vertex={"region": "asia-southeast1"}), Credential("customer", Secret("ya29.x"))
    )
    assert isinstance(config, VertexClientConfig)
    assert config.base_url == "https://asia-southeast1-aiplatform.googleapis.com/v1"


def test_the_project_id_defaults_to_the_service_accounts(service_account: dict[str, Any]) -> None:
    adapter = AnthropicVertexAdapter(region=REGION)
    config = adapter.client_config(request(service_account), MANAGED_NOTHING)
    assert isinstance(config, VertexClientConfig) and config.project_id == PROJECT


async def test_a_malformed_service_account_is_a_400_that_does_not_echo_it(service_account: dict[str, Any]) -> None:
    adapter = AnthropicVertexAdapter(project_id=PROJECT, region=REGION)
    broken = {**service_account, "type": "authorized_user"}
    with pytest.raises(InvalidRequestError) as info:
        adapter.client_config(request(broken), MANAGED_NOTHING)
    assert info.value.path == "provider_kwargs.anthropic_vertex.service_account_credentials"
    assert "PRIVATE KEY" not in info.value.message and "client_email" not in info.value.message
    with pytest.raises(InvalidRequestError) as text_info:
        adapter.client_config(request(), Credential("customer", Secret('{"type": "service_account", "private_key": "-----BEGIN')))
    assert "BEGIN" not in text_info.value.message


async def test_a_bad_private_key_is_an_authentication_error(
    adapter: AnthropicVertexAdapter, service_account: dict[str, Any]
) -> None:
    broken = {**service_account, "private_key": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"}
    config = adapter.client_config(request(broken), MANAGED_NOTHING)
    with pytest.raises(ProviderError) as info:
        adapter.create_client(config)
    assert info.value.error_type == "authentication_error" and "not a key" not in info.value.message


async def test_credentials_never_appear_in_config_or_client_reprs(
    adapter: AnthropicVertexAdapter, service_account: dict[str, Any], private_key_pem: str
) -> None:
    config = adapter.client_config(request(service_account), MANAGED_NOTHING)
    key_line = private_key_pem.splitlines()[1]
    for text in (repr(config), str(config), f"{config}"):
        assert key_line not in text and "PRIVATE" not in text and "client_email" not in text
    assert hash(config) == hash(adapter.client_config(request(dict(service_account)), MANAGED_NOTHING))
    token_config = adapter.client_config(request(), Credential("customer", Secret("ya29.SECRET-token")))
    assert "SECRET" not in repr(token_config)
    client = adapter.create_client(config)
    assert key_line not in repr(client)


async def test_a_customer_key_holding_service_account_json_is_used_as_one(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: AnthropicVertexAdapter,
    client_for: ClientFor,
    service_account: dict[str, Any],
) -> None:
    server.enqueue_json(200, token_reply(), path="/token")
    serve_text(server, cassette)
    req = request()
    await adapter.complete(client_for(req, Credential("customer", Secret(json.dumps(service_account)))), req)
    assert paths(server)[0] == "/token"
    assert server.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"


async def test_a_customer_key_that_is_not_json_is_an_access_token_never_a_file_path(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicVertexAdapter, client_for: ClientFor,
    tmp_path: Path, service_account: dict[str, Any],
) -> None:
    planted = tmp_path / "sa.json"
    planted.write_text(json.dumps(service_account))
    serve_text(server, cassette)
    req = request()
    await adapter.complete(client_for(req, Credential("customer", Secret(str(planted)))), req)
    assert paths(server) == [vertex_path(MODEL, False)]  # no token fetch: the file was never read
    assert server.requests[-1].headers["authorization"] == f"Bearer {planted}"


async def test_the_managed_service_account_file_is_read_and_its_token_cached(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: AnthropicVertexAdapter,
    client_for: ClientFor,
    service_account: dict[str, Any],
    tmp_path: Path,
) -> None:
    mounted = tmp_path / "vertex-sa.json"
    mounted.write_text(json.dumps(service_account))
    server.enqueue_json(200, token_reply(), path="/token")
    serve_text(server, cassette, times=2)
    managed = Credential("managed", Secret(str(mounted)))
    req = request()
    config = adapter.client_config(req, managed)
    assert config == adapter.client_config(req, Credential("managed", Secret(json.dumps(service_account))))
    client = client_for(req, managed)
    await adapter.complete(client, req)
    await adapter.complete(client, req)
    assert paths(server).count("/token") == 1


async def test_an_unreadable_managed_file_is_an_error_that_names_no_path(adapter: AnthropicVertexAdapter, tmp_path: Path) -> None:
    missing = tmp_path / "secret-location" / "sa.json"
    with pytest.raises(ProviderError) as info:
        adapter.client_config(request(), Credential("managed", Secret(str(missing))))
    assert info.value.error_type == "authentication_error"
    assert "secret-location" not in info.value.message


async def test_a_refused_token_request_is_an_authentication_error_without_secrets(
    server: ReplayServer, adapter: AnthropicVertexAdapter, client_for: ClientFor, service_account: dict[str, Any]
) -> None:
    server.enqueue_json(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, path="/token")
    req = request(service_account)
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(req, MANAGED_NOTHING), req)
    assert info.value.error_type == "authentication_error" and not info.value.retryable
    assert "invalid_grant" in info.value.message
    assert "PRIVATE" not in info.value.message and "eyJ" not in info.value.message  # no key, no JWT
    assert paths(server) == ["/token"]


async def test_a_vertex_429_with_a_google_error_body_is_a_rate_limit(
    server: ReplayServer, adapter: AnthropicVertexAdapter, client_for: ClientFor
) -> None:
    body = [{"error": {"code": 429, "message": "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model", "status": "RESOURCE_EXHAUSTED"}}]
    server.enqueue(Fault.status(429, body, retry_after=3), path=vertex_path(MODEL, False))
    req = request()
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(req, Credential("customer", Secret("ya29.x"))), req)
    assert (info.value.error_type, info.value.retry_after, info.value.retryable) == ("rate_limit_error", 3.0, True)
    assert info.value.message.startswith("Quota exceeded")


async def test_cache_breakpoints_and_cache_usage_work_on_vertex(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicVertexAdapter, client_for: ClientFor
) -> None:
    recording = cassette("messages_prompt_cache.yaml")
    server.enqueue_cassette(recording, only=[0], path=vertex_path(MODEL, False))
    recorded = recording[0].request.json()
    req = request(
        messages=[
            SystemMessage(recorded["system"][0]["text"], cache_breakpoint=CacheBreakpoint(ttl="1h")),
            UserMessage(recorded["messages"][0]["content"][0]["text"], cache_breakpoint=CacheBreakpoint()),
        ]
    )
    completion = await adapter.complete(client_for(req, Credential("customer", Secret("ya29.x"))), req)
    body = server.requests[-1].json()
    assert body["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert body["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral", "ttl": "5m"}
    assert adapter.normalize_usage(completion.usage).input_tokens == 4 + 1163


async def test_thinking_blocks_come_back_under_the_vertex_provider_key(
    server: ReplayServer, cassette: Callable[[str], Cassette], adapter: AnthropicVertexAdapter, client_for: ClientFor
) -> None:
    recording = cassette("messages_stream_thinking_tool_use.yaml")
    server.enqueue_cassette(recording, path=vertex_path(MODEL, True))
    tool = ToolDefinition(type="function", function=FunctionDefinition("fixed_version", "Return a fixed test version string", {"type": "object", "properties": {}}))
    question = UserMessage("Use the fixed_version tool. Then tell me the version and make one short joke about it. Think about it first.")
    thinking = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    first = request(messages=[question], tools=[tool], vertex=thinking)
    client = client_for(first, Credential("customer", Secret("ya29.x")))
    turn1 = await collect(adapter, client, first)
    reply = turn1.response.message
    assert reply.provider_state is not None and set(reply.provider_state) == {"anthropic_vertex"}
    (call,) = reply.tool_calls or []
    second = request(
        messages=[question, reply, ToolResultMessage(tool_call_id=call.id, content={"version": "0.32a0"})],
        tools=[tool],
        vertex=thinking,
    )
    await collect(adapter, client, second)
    sent_turn = server.requests[-1].json()["messages"][1]["content"]
    assert sent_turn[0] == recording[1].request.json()["messages"][1]["content"][0]
    assert isinstance(reply, AssistantMessage)


async def test_structured_output_uses_the_forced_tool_unless_the_operator_enables_native(
    server: ReplayServer, cassette: Callable[[str], Cassette], client_for: ClientFor
) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    default = AnthropicVertexAdapter(project_id=PROJECT, region=REGION)
    assert "output_config" not in default.build_request(request(model="claude-sonnet-4-6", response_schema=schema)).params
    native = AnthropicVertexAdapter(
        base_url=server.url + "/v1", project_id=PROJECT, region=REGION, native_structured_output=True
    )
    server.enqueue_cassette(cassette("synthesized_structured_output.yaml"), only=[0], path=vertex_path("claude-sonnet-4-6", False))
    req = request(model="claude-sonnet-4-6", response_schema=schema)
    client = native.create_client(native.client_config(req, Credential("customer", Secret("ya29.x"))))
    try:
        completion = await native.complete(client, req)
    finally:
        await native.close_client(client)
    assert server.requests[-1].json()["output_config"]["format"]["type"] == "json_schema"
    assert json.loads(completion.message.content or "") == {"city": "Paris"}


def test_unknown_vertex_options_are_refused_before_sending() -> None:
    adapter = AnthropicVertexAdapter(project_id=PROJECT, region=REGION)
    with pytest.raises(ProviderError) as info:
        adapter.build_request(request(vertex={"location": "us-east5"}))
    assert "unknown option 'location'" in info.value.message


async def test_warming_mints_the_token_so_the_first_request_does_not_wait_for_it(
    server: ReplayServer,
    cassette: Callable[[str], Cassette],
    adapter: AnthropicVertexAdapter,
    client_for: ClientFor,
    service_account: dict[str, Any],
) -> None:
    server.enqueue_json(200, token_reply(), path="/token")
    serve_text(server, cassette)
    req = request(service_account)
    client = client_for(req, MANAGED_NOTHING)
    await adapter.warm(client)
    assert paths(server) == ["/token"]
    await adapter.complete(client, req)
    assert paths(server) == ["/token", vertex_path(MODEL, False)]


async def test_a_failed_warm_up_is_ignored(
    server: ReplayServer, adapter: AnthropicVertexAdapter, client_for: ClientFor, service_account: dict[str, Any]
) -> None:
    server.enqueue_json(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, path="/token")
    req = request(service_account)
    await adapter.warm(client_for(req, MANAGED_NOTHING))
    assert paths(server) == ["/token"]


@pytest.mark.parametrize(("status", "expected"), [(503, "provider_error"), (429, "rate_limit_error")])
async def test_a_token_endpoint_outage_fails_the_attempt_at_once_without_google_auth_retries(
    status: int,
    expected: str,
    server: ReplayServer,
    adapter: AnthropicVertexAdapter,
    client_for: ClientFor,
    service_account: dict[str, Any],
) -> None:
    server.enqueue_json(status, {"error": "internal_failure"}, path="/token")
    req = request(service_account)
    with pytest.raises(ProviderError) as info:
        await adapter.complete(client_for(req, MANAGED_NOTHING), req)
    assert (info.value.error_type, info.value.retryable) == (expected, True)
    assert info.value.message == f"Google's token endpoint answered HTTP {status}"
    assert paths(server) == ["/token"]  # one request: the engine, not google-auth, retries


async def test_through_the_proxy_a_401_mints_a_new_token_before_its_one_retry(
    server: ReplayServer, cassette: Callable[[str], Cassette], service_account: dict[str, Any], tmp_path: Path
) -> None:
    """The engine drops the cached client on an auth error, so the retry's client mints a new token."""
    import aiohttp

    from completions_core.plugins import ProviderRegistry
    from completions_proxy.testing import running_proxy

    (tmp_path / "anthropic_vertex").write_text(json.dumps(service_account))
    server.enqueue_json(200, token_reply("ya29.revoked-token"), path="/token")
    unauthorized = {"type": "error", "error": {"type": "authentication_error", "message": "invalid token"}}
    server.enqueue(Fault.status(401, unauthorized), path=vertex_path(MODEL, stream=False))
    server.enqueue_json(200, token_reply("ya29.fresh-token"), path="/token")
    serve_text(server, cassette)
    registry = ProviderRegistry()
    registry.register(AnthropicVertexAdapter(
        base_url=server.url + "/v1", project_id=PROJECT, region=REGION, token_uri=server.url + "/token"
    ))
    body = {"provider": "anthropic_vertex", "model": MODEL, "messages": [{"role": "user", "content": "Hi"}],
            "credentials": {"anthropic_vertex": {"voicerun_managed": True}}}
    async with running_proxy(registry, env={"COMPLETIONS_SECRETS_DIR": str(tmp_path)}) as proxy, \
            aiohttp.ClientSession() as session, session.post(
                proxy.url + "/v1/completions", json=body, headers={"Authorization": f"Bearer {proxy.token}"}
            ) as resp:
        answer = await resp.json()
        attempts = json.loads(resp.headers["X-Completions-Attempts"])
    assert resp.status == 200 and answer["provider"] == "anthropic_vertex"
    assert [(a["outcome"], a["error_type"]) for a in attempts] == [("error", "authentication_error"), ("ok", None)]
    assert paths(server) == ["/token", vertex_path(MODEL, False), "/token", vertex_path(MODEL, False)]
    sent = [r.headers["authorization"] for r in server.requests if r.path != "/token"]
    assert sent == ["Bearer ya29.revoked-token", "Bearer ya29.fresh-token"]
    assert "ya29." not in json.dumps(answer)
    server.assert_all_used()


# -- issue 14, item 8: the managed service account serves only the operator's projects ------------


def _managed(service_account: dict[str, Any]) -> Credential:
    return Credential("managed", Secret(json.dumps(service_account)))


@pytest.mark.parametrize("project", ["someone-elses-project", "attacker-billing-1"])
def test_a_managed_call_to_a_project_the_operator_did_not_allow_is_refused(
    service_account: dict[str, Any], project: str
) -> None:
    adapter = AnthropicVertexAdapter(project_id=PROJECT, region=REGION)
    with pytest.raises(InvalidRequestError) as info:
        adapter.client_config(request(vertex={"project_id": project}), _managed(service_account))
    error = info.value
    assert (error.status_code, error.error_type) == (403, "permission_error")
    assert error.path == "provider_kwargs.anthropic_vertex.project_id"
    assert "managed Vertex service account" in error.message and PROJECT not in error.message


def test_the_allowed_projects_setting_lists_where_the_managed_account_may_go(
    service_account: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPLETIONS_ANTHROPIC_VERTEX_ALLOWED_PROJECTS", " team-a-prod , team-b-prod ")
    adapter = AnthropicVertexAdapter(project_id="team-a-prod", region=REGION)
    managed = _managed(service_account)
    for project in ("team-a-prod", "team-b-prod"):
        config = adapter.client_config(request(vertex={"project_id": project}), managed)
        assert isinstance(config, VertexClientConfig) and config.project_id == project
    # Listed explicitly, the setting is the whole list: the account's own project is not implied.
    for project in (PROJECT, "team-c-prod"):
        with pytest.raises(InvalidRequestError):
            adapter.client_config(request(vertex={"project_id": project}), managed)
    assert adapter.client_config(request(), managed).project_id == "team-a-prod"  # type: ignore[attr-defined]


def test_without_the_setting_the_managed_account_serves_the_default_and_its_own_project(
    service_account: dict[str, Any],
) -> None:
    adapter = AnthropicVertexAdapter(project_id="operator-default", region=REGION)
    managed = _managed(service_account)
    assert adapter.client_config(request(), managed).project_id == "operator-default"  # type: ignore[attr-defined]
    own = adapter.client_config(request(vertex={"project_id": PROJECT}), managed)
    assert own.project_id == PROJECT  # type: ignore[attr-defined]


def test_a_customer_service_account_uses_its_own_project_when_the_caller_names_none(
    service_account: dict[str, Any],
) -> None:
    # The operator's default project is for the managed account, not for a customer's key.
    adapter = AnthropicVertexAdapter(project_id="operator-default", region=REGION)
    customer = Credential("customer", Secret(json.dumps(service_account)))
    assert adapter.client_config(request(), customer).project_id == PROJECT  # type: ignore[attr-defined]
    via_kwargs = adapter.client_config(request(service_account), MANAGED_NOTHING)
    assert via_kwargs.project_id == PROJECT  # type: ignore[attr-defined]
    # A customer's own credentials may go to any project the caller names (its key, its bill).
    named = adapter.client_config(request(vertex={"project_id": "customer-other-1"}), customer)
    assert named.project_id == "customer-other-1"  # type: ignore[attr-defined]
