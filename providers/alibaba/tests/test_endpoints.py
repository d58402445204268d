"""A request may pick a DashScope region, and nothing else: the key must never go to a host the caller chose."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from completions_alibaba import DASHSCOPE_ENDPOINTS, AlibabaAdapter, allowed_endpoint

from completions_core.adapter import Credential
from completions_core.errors import InvalidRequestError
from completions_core.redaction import Secret
from completions_core.request import ProviderRequest
from completions_core.testing.replay import Body, ReplayServer

Request = Callable[..., ProviderRequest]

SINGAPORE = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
VIRGINIA = "https://dashscope-us.aliyuncs.com/compatible-mode/v1"
BEIJING = "https://dashscope.aliyuncs.com/compatible-mode/v1"
MANAGED = Credential("managed", Secret("sk-managed-dashscope-0123456789"))
CUSTOMER = Credential("customer", Secret("sk-customer-dashscope-9876543210"))
GATEWAY = "http://127.0.0.1:9/compatible-mode/v1"


def test_the_three_documented_regions_are_the_allowlist() -> None:
    assert DASHSCOPE_ENDPOINTS == {"singapore": SINGAPORE, "virginia": VIRGINIA, "beijing": BEIJING}


def test_singapore_is_the_default_endpoint() -> None:
    assert AlibabaAdapter().base_url == SINGAPORE


def test_the_operator_can_override_the_default_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLETIONS_ALIBABA_BASE_URL", "http://127.0.0.1:9/compatible-mode/v1")
    assert AlibabaAdapter().base_url == "http://127.0.0.1:9/compatible-mode/v1"


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        (SINGAPORE, SINGAPORE),
        (VIRGINIA, VIRGINIA),
        (BEIJING, BEIJING),
        (BEIJING + "/", BEIJING),
        # Scheme and host names are case-insensitive (RFC 3986, DNS): normalized, then compared.
        ("HTTPS://DashScope.AliyunCS.com/compatible-mode/v1", BEIJING),
        # The default port of https, written out, is the same origin.
        ("https://dashscope-us.aliyuncs.com:443/compatible-mode/v1", VIRGINIA),
    ],
)
def test_an_allowlisted_endpoint_is_accepted_in_its_canonical_form(given: str, canonical: str) -> None:
    assert allowed_endpoint(given) == canonical


TRICKY = [
    # another host, or an allowlisted name used as a decoy
    "https://evil.example.com/compatible-mode/v1",
    "https://dashscope.aliyuncs.com.evil.example.com/compatible-mode/v1",
    "https://evil.example.com/dashscope.aliyuncs.com/compatible-mode/v1",
    "https://evildashscope.aliyuncs.com/compatible-mode/v1",
    "https://aliyuncs.com/compatible-mode/v1",
    "https://cn-hongkong.dashscope.aliyuncs.com/compatible-mode/v1",
    # userinfo
    "https://dashscope.aliyuncs.com@evil.example.com/compatible-mode/v1",
    "https://user:pass@dashscope.aliyuncs.com/compatible-mode/v1",
    "https://dashscope.aliyuncs.com:443@evil.example.com/compatible-mode/v1",
    # IDN homographs (Cyrillic a and dze), punycode, full-width dots
    "https://dashscope.\u0430liyuncs.com/compatible-mode/v1",
    "https://da\u0455hscope.aliyuncs.com/compatible-mode/v1",
    "https://xn--dashcope-4xf.aliyuncs.com/compatible-mode/v1",
    "https://dashscope\uff0ealiyuncs\uff0ecom/compatible-mode/v1",
    # ports
    "https://dashscope.aliyuncs.com:8443/compatible-mode/v1",
    "https://dashscope.aliyuncs.com:0443/compatible-mode/v1",
    "https://dashscope.aliyuncs.com:/compatible-mode/v1",
    "https://dashscope.aliyuncs.com:443:80/compatible-mode/v1",
    # trailing dots
    "https://dashscope.aliyuncs.com./compatible-mode/v1",
    "https://dashscope.aliyuncs.com../compatible-mode/v1",
    # addresses: public, loopback, private, link-local (cloud metadata), IPv6, decimal
    "https://47.88.1.1/compatible-mode/v1",
    "https://127.0.0.1/compatible-mode/v1",
    "https://localhost/compatible-mode/v1",
    "https://10.0.0.8/compatible-mode/v1",
    "https://192.168.1.20/compatible-mode/v1",
    "https://169.254.169.254/compatible-mode/v1",
    "https://[::1]/compatible-mode/v1",
    "https://2130706433/compatible-mode/v1",
    # schemes
    "http://dashscope.aliyuncs.com/compatible-mode/v1",
    "ftp://dashscope.aliyuncs.com/compatible-mode/v1",
    "//dashscope.aliyuncs.com/compatible-mode/v1",
    "dashscope.aliyuncs.com/compatible-mode/v1",
    "https:/dashscope.aliyuncs.com/compatible-mode/v1",
    "https:dashscope.aliyuncs.com/compatible-mode/v1",
    # paths: other, traversal, doubled, encoded, case
    "https://dashscope.aliyuncs.com",
    "https://dashscope.aliyuncs.com/",
    "https://dashscope.aliyuncs.com/api/v1",
    "https://dashscope.aliyuncs.com/compatible-mode/v1/../../redirect",
    "https://dashscope.aliyuncs.com/compatible-mode/v1/./",
    "https://dashscope.aliyuncs.com/compatible-mode/v1//",
    "https://dashscope.aliyuncs.com//compatible-mode/v1",
    "https://dashscope.aliyuncs.com/compatible-mode/%76%31",
    "https://dashscope.aliyuncs.com/compatible-mode%2Fv1",
    "https://dashscope%2ealiyuncs.com/compatible-mode/v1",
    "https://dashscope.aliyuncs.com/Compatible-Mode/V1",
    "https://dashscope.aliyuncs.com/compatible-mode/v1;params",
    "https://dashscope.aliyuncs.com\\@evil.example.com/compatible-mode/v1",
    # query, fragment (even empty ones)
    "https://dashscope.aliyuncs.com/compatible-mode/v1?next=https://evil.example.com",
    "https://dashscope.aliyuncs.com/compatible-mode/v1?",
    "https://dashscope.aliyuncs.com/compatible-mode/v1#frag",
    # whitespace and control characters
    " https://dashscope.aliyuncs.com/compatible-mode/v1",
    "https://dashscope.aliyuncs.com/compatible-mode/v1\n",
    "https://dashscope.aliyuncs.com/compatible-mode/v1\x00",
    "https://dashscope.aliyuncs.com\t/compatible-mode/v1",
    # empty and oversized
    "",
    "https://dashscope.aliyuncs.com/compatible-mode/v1/" + "a" * 300,
]


@pytest.mark.parametrize("url", TRICKY)
def test_anything_but_an_allowlisted_endpoint_is_a_400_that_lists_the_allowed_ones(url: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        allowed_endpoint(url)
    error = info.value
    assert (error.status_code, error.error_type) == (400, "invalid_request_error")
    assert error.path == "provider_kwargs.alibaba.base_url"
    assert all(endpoint in error.message for endpoint in (SINGAPORE, VIRGINIA, BEIJING))


def test_the_refused_url_is_not_echoed_back() -> None:
    with pytest.raises(InvalidRequestError) as info:
        allowed_endpoint("https://user:s3cret-token@evil.example.com/compatible-mode/v1")
    assert "s3cret-token" not in info.value.message and "evil" not in info.value.message


@pytest.mark.parametrize("value", [42, ["https://dashscope.aliyuncs.com/compatible-mode/v1"], {"url": BEIJING}, True])
def test_a_base_url_that_is_not_a_string_is_refused(value: Any) -> None:
    with pytest.raises(InvalidRequestError) as info:
        allowed_endpoint(value)
    assert info.value.status_code == 400 and "expected a string" in info.value.message


def test_a_request_picks_its_region_through_client_config(make_request: Request) -> None:
    adapter = AlibabaAdapter(base_url=GATEWAY)
    request = make_request(
        provider_kwargs={"alibaba": {"base_url": "https://DASHSCOPE-US.aliyuncs.com/compatible-mode/v1/"}}
    )
    assert adapter.client_config(request, CUSTOMER).base_url == VIRGINIA


def test_without_an_operator_endpoint_a_managed_key_request_may_pick_a_region(make_request: Request) -> None:
    request = make_request(provider_kwargs={"alibaba": {"base_url": BEIJING}})
    assert AlibabaAdapter().client_config(request, MANAGED).base_url == BEIJING


@pytest.mark.parametrize("region", [SINGAPORE, VIRGINIA, BEIJING])
@pytest.mark.parametrize("from_env", [True, False], ids=["env", "argument"])
def test_the_operators_endpoint_wins_for_the_managed_key(
    make_request: Request, monkeypatch: pytest.MonkeyPatch, region: str, from_env: bool
) -> None:
    if from_env:
        monkeypatch.setenv("COMPLETIONS_ALIBABA_BASE_URL", GATEWAY)
    adapter = AlibabaAdapter() if from_env else AlibabaAdapter(base_url=GATEWAY)
    request = make_request(provider_kwargs={"alibaba": {"base_url": region}})
    assert adapter.client_config(request, MANAGED).base_url == GATEWAY
    # A customer's own key may still go to the region it is for.
    assert adapter.client_config(request, CUSTOMER).base_url == region
    # A hostile value is still refused, managed key or not.
    hostile = make_request(provider_kwargs={"alibaba": {"base_url": "https://evil.example.com/compatible-mode/v1"}})
    with pytest.raises(InvalidRequestError):
        adapter.client_config(hostile, MANAGED)


@pytest.mark.anyio
async def test_the_managed_key_reaches_only_the_operators_gateway(
    server: ReplayServer, make_request: Request, monkeypatch: pytest.MonkeyPatch
) -> None:
    # End to end through the real SDK: the gateway (the replay server) gets the call and the key.
    monkeypatch.setenv("COMPLETIONS_ALIBABA_BASE_URL", server.url + "/compatible-mode/v1")
    adapter = AlibabaAdapter()
    request = make_request(provider_kwargs={"alibaba": {"base_url": VIRGINIA}})
    client = adapter.create_client(adapter.client_config(request, MANAGED))
    try:
        server.enqueue_json(
            200,
            {"id": "c", "object": "chat.completion", "created": 1, "model": request.model,
             "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]},
            method="POST",
            path="/compatible-mode/v1/chat/completions",
        )  # fmt: skip
        completion = await adapter.complete(client, request)
    finally:
        await adapter.close_client(client)
    server.assert_all_used()
    assert completion.message.content == "ok"
    assert server.requests[0].headers["authorization"] == "Bearer sk-managed-dashscope-0123456789"


def test_without_a_region_the_operators_endpoint_is_used(make_request: Request) -> None:
    adapter = AlibabaAdapter(base_url="http://127.0.0.1:9/compatible-mode/v1")
    assert adapter.client_config(make_request(), MANAGED).base_url == "http://127.0.0.1:9/compatible-mode/v1"
    other = make_request(provider_kwargs={"alibaba": {"enable_search": True}, "openai": {"base_url": "https://x"}})
    assert adapter.client_config(other, MANAGED).base_url == "http://127.0.0.1:9/compatible-mode/v1"


def test_a_hostile_region_is_refused_before_any_client_exists(make_request: Request) -> None:
    adapter = AlibabaAdapter()
    request = make_request(provider_kwargs={"alibaba": {"base_url": "https://dashscope.aliyuncs.com@127.0.0.1:8080/"}})
    with pytest.raises(InvalidRequestError) as info:
        adapter.client_config(request, MANAGED)
    assert info.value.status_code == 400


def test_alibaba_options_that_are_not_an_object_are_refused(make_request: Request) -> None:
    # Refused where the request is decoded (the codec), before any adapter could see it.
    with pytest.raises(InvalidRequestError) as info:
        make_request(provider_kwargs={"alibaba": "https://evil.example.com"})
    assert info.value.path == "provider_kwargs.alibaba"


@pytest.mark.anyio
async def test_a_redirect_to_another_host_is_not_followed(
    server: ReplayServer,
    adapter: AlibabaAdapter,
    client_for: Callable[[AlibabaAdapter, ProviderRequest], Any],
    make_request: Request,
) -> None:
    from completions_core.errors import ProviderError

    async with ReplayServer() as elsewhere:
        server.enqueue(
            Body(b"", status=308, headers={"location": elsewhere.url + "/compatible-mode/v1/chat/completions"})
        )
        request = make_request()
        with pytest.raises(ProviderError) as info:
            await adapter.complete(client_for(adapter, request), request)
        assert elsewhere.requests == []
    assert (info.value.error_type, info.value.status_code) == ("invalid_response_error", 308)
