"""Every answer a provider's SDK cannot decode is ``invalid_response_error`` (502), retryable.

For every provider, on the non-streaming and the streaming path, a status-200 answer that is an
HTML page, malformed JSON, truncated JSON, plain text, an empty body or JSON of the wrong shape
becomes a :class:`ProviderError` the engine retries (docs/reliability.md: "malformed responses"),
never an ``internal_error``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from completions_core.errors import ProviderError
from completions_core.testing.replay import Body, Fault, ReplayServer
from tests.adapters.harness import PROVIDERS, Case, run

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

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
}


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
