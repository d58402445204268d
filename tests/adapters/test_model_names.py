"""Model names are checked per provider before any client exists, and never change a URL path.

A name outside a provider's declared pattern is a 400 ``invalid_request_error`` on ``model``
naming the rule (without echoing the name); a valid name reaches the provider on exactly the
path its SDK is expected to use.
"""

from __future__ import annotations

import pytest

from completions_core.errors import InvalidRequestError
from completions_core.testing.replay import Body, ReplayServer
from tests.adapters.harness import PROVIDERS, Case, run

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

# Names that would end, extend or leave a URL path segment, or smuggle a header or a query.
HOSTILE = [
    "m1#frag",
    "../x",
    "..%2Fx",
    "a/../../b",
    "m?alt=json",
    "m&key=x",
    "m\r\nX-Injected: 1",
    "m\nx",
    "m x",
    "m\x00",
    "models/../../v1/files",
    "%2e%2e",
    "",
    "-leading-dash",
    "é-model",
    "m" * 129,
]
# Names that must be refused where the model enters a URL path (Gemini, Vertex), even though an
# API that takes the model in a JSON body could accept them.
PATH_ONLY = ["ft:gpt-4o-mini:org:custom:abc", "meta-llama/Llama-3", "cachedContents/abc", "tunedModels/x", "models/x"]
PATH_PROVIDERS = ("anthropic_vertex", "google")


@pytest.mark.parametrize("model", HOSTILE)
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_hostile_model_name_is_refused_before_any_client(provider: str, model: str) -> None:
    async with ReplayServer() as server:
        case = Case(provider, server)
        adapter = case.adapter()
        built: list[object] = []
        adapter.create_client = built.append  # type: ignore[method-assign,assignment]
        with pytest.raises(InvalidRequestError) as info:
            adapter.client_config(case.request(model=model), case.credential())
    error = info.value
    assert (error.status_code, error.error_type, error.path) == (400, "invalid_request_error", "model")
    assert "letters, digits" in error.message  # the rule is named
    if len(model) > 3:
        assert model not in error.message  # never echoed (it may be a megabyte long)
    assert built == [] and server.requests == []


@pytest.mark.parametrize("model", PATH_ONLY)
@pytest.mark.parametrize("provider", PATH_PROVIDERS)
async def test_path_providers_refuse_names_with_path_characters(provider: str, model: str) -> None:
    async with ReplayServer() as server:
        case = Case(provider, server)
        with pytest.raises(InvalidRequestError):
            case.adapter().client_config(case.request(model=model), case.credential())


@pytest.mark.parametrize("model", PATH_ONLY)
@pytest.mark.parametrize("provider", ["openai", "alibaba"])
async def test_body_providers_accept_fine_tuned_and_namespaced_names(provider: str, model: str) -> None:
    async with ReplayServer() as server:
        case = Case(provider, server)
        case.adapter().client_config(case.request(model=model), case.credential())


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("google", "gemini-2.5-flash"),
        ("google", "gemma-3-27b-it"),
        ("google", "gemini-2.0-flash-001"),
        ("anthropic_vertex", "claude-haiku-4-5@20251001"),
        ("anthropic_vertex", "claude-3-5-sonnet-v2@20241022"),
    ],
)
async def test_a_valid_name_reaches_exactly_its_path(provider: str, model: str, stream: bool) -> None:
    async with ReplayServer() as server:
        case = Case(provider, server, model=model)
        # Any answer will do: the test is about the path the SDK asked for.
        case.enqueue(Body.from_json({"error": {"code": 404, "message": "nope"}}, status=404), stream)
        with pytest.raises(Exception):  # noqa: B017 - a 404 of any mapped kind
            await run(case, stream)
        server.assert_all_used()  # a request on any other path would be a mismatch
        assert server.requests[-1].match_path == case.path(stream)


@pytest.mark.parametrize("model", ["m1#frag", "../x", "tunedModels/x", "m?x", "m\r\nx"])
async def test_gemini_build_request_refuses_a_bad_model_on_its_own(model: str) -> None:
    # The adapter checks again where the path is built, in case a caller skips client_config.
    from completions_google.request import build_request

    async with ReplayServer() as server:
        with pytest.raises(InvalidRequestError):
            build_request(Case("google", server).request(model=model))


@pytest.mark.parametrize("model", ["m1#frag", "../x", "tunedModels/x", "cachedContents/abc", "m?alt=json"])
async def test_through_the_proxy_a_bad_gemini_model_is_a_400_and_nothing_is_sent(model: str) -> None:
    import aiohttp

    from completions_core.plugins import ProviderRegistry
    from completions_proxy.testing import running_proxy

    async with ReplayServer() as server:
        case = Case("google", server)
        registry = ProviderRegistry()
        registry.register(case.adapter())
        body = {"provider": "google", "model": model, "stream": False, "messages": [{"role": "user", "content": "hi"}],
                "credentials": {"google": {"api_key": "cust-gemini-key-0123456789"}}}  # fmt: skip
        async with running_proxy(registry) as proxy, aiohttp.ClientSession() as session:
            async with session.post(
                proxy.url + "/v1/completions", json=body, headers={"Authorization": f"Bearer {proxy.token}"}
            ) as response:
                status, payload = response.status, await response.json()
        assert server.requests == []
    assert status == 400
    assert payload["error"]["type"] == "invalid_request_error"
    assert "Gemini model id" in payload["error"]["message"]
