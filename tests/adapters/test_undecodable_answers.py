"""Every answer a provider's SDK cannot decode is ``invalid_response_error`` (502), retryable.

For every provider, on the non-streaming and the streaming path, a status-200 answer that is an
HTML page, malformed JSON, truncated JSON, plain text, an empty body, JSON of the wrong shape or a
body whose content-encoding does not decode
becomes a :class:`ProviderError` the engine retries (docs/reliability.md: "malformed responses"),
never an ``internal_error``.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable

import pytest

from completions_core.errors import ProviderError
from completions_core.testing.replay import Body, Fault, ReplayServer
from tests.adapters.harness import PROVIDERS, Case, run

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

def _gzip(text: str) -> bytes:
    compressor = zlib.compressobj(wbits=31)
    return compressor.compress(text.encode()) + compressor.flush()


def _corrupt_gzip(text: str) -> bytes:
    data = _gzip(text)
    return data[:10] + bytes(byte ^ 0x5A for byte in data[10:])  # the header kept, the deflate data not


FAULTS: dict[str, Callable[[Case], Body]] = {
    "html": lambda case: Fault.wrong_content_type(),
    "html_as_json": lambda case: Body("<html><body>502 Bad Gateway</body></html>", content_type="application/json"),
    "malformed_json": lambda case: Body('{"id": "x", "choices": [', content_type="application/json"),
    "truncated_json": lambda case: Fault.truncated_json(case.good_body()),
    "plain_text": lambda case: Body("upstream says hello", content_type="text/plain"),
    "empty_body": lambda case: Body(b"", content_type="application/json"),
    "empty_no_type": lambda case: Body(b""),
    "json_scalar": lambda case: Body.from_json("hello"),
    "json_list": lambda case: Body.from_json([1, 2, 3]),
    "wrong_shape": lambda case: Body.from_json({"unexpected": {"nested": True}}),
    # Compressed in a way that does not decode: a corrupt gzip body, a coding nothing here knows.
    "corrupt_gzip": lambda case: Body(_corrupt_gzip(json.dumps(case.good_body())), content_type="application/json",
                                      encoding="gzip", encoded=True),
    "unknown_encoding": lambda case: Body(_gzip(json.dumps(case.good_body())), content_type="application/json",
                                          encoding="x-snappy"),
}  # fmt: skip


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_undecodable_answer_is_a_retryable_invalid_response(provider: str, fault: str, stream: bool) -> None:
    async with ReplayServer() as server:
        case = Case(provider, server)
        case.enqueue(FAULTS[fault](case), stream)
        with pytest.raises(ProviderError) as info:
            await run(case, stream)
        server.assert_all_used()
    error = info.value
    assert (error.error_type, error.retryable, error.http_status) == ("invalid_response_error", True, 502), repr(error)
    assert error.provider == provider


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_the_good_body_of_the_matrix_is_a_real_answer(provider: str) -> None:
    # The truncated-JSON fault cuts this body: whole, it must be an answer, or the fault proves nothing.
    async with ReplayServer() as server:
        case = Case(provider, server)
        case.enqueue(Body(json.dumps(case.good_body()), content_type="application/json"), False)
        completion = await run(case, False)
        server.assert_all_used()
    assert completion.message.content == "Hello there."  # type: ignore[union-attr]


@pytest.mark.parametrize("fault", ["html", "malformed_json", "truncated_json"])
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_through_the_proxy_an_undecodable_answer_is_retried(provider: str, fault: str) -> None:
    # The cases (Anthropic HTML, Gemini malformed/truncated JSON) used to end as a 500
    # internal_error with no retry; the retry now gets the good answer.
    import aiohttp

    from completions_core.plugins import ProviderRegistry
    from completions_proxy.testing import running_proxy

    async with ReplayServer() as server:
        case = Case(provider, server)
        registry = ProviderRegistry()
        registry.register(case.adapter())
        case.enqueue(FAULTS[fault](case), False)
        server.enqueue(Body(json.dumps(case.good_body()), content_type="application/json"),
                       method="POST", path=case.path(False))  # fmt: skip
        credentials = {provider: {"api_key": case.credential().api_key.reveal()}}  # type: ignore[union-attr]
        body = {"provider": provider, "model": case.model, "stream": False, "credentials": credentials,
                "messages": [{"role": "user", "content": "hi"}], "retry": {"max_retries": 1, "retry_delay": 0}}  # fmt: skip
        async with running_proxy(registry) as proxy, aiohttp.ClientSession() as session:
            async with session.post(
                proxy.url + "/v1/completions", json=body, headers={"Authorization": f"Bearer {proxy.token}"}
            ) as response:
                status, text = response.status, await response.text()
                attempts = json.loads(response.headers["X-Completions-Attempts"])
        server.assert_all_used()
    assert status == 200, text
    assert "Hello there." in text
    assert [a.get("error_type") for a in attempts][:1] == ["invalid_response_error"] and len(attempts) == 2
