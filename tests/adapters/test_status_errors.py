"""One meaning per HTTP status: every adapter maps a provider's status through core's table.

The table used to be copied into three adapters and had drifted (504 a timeout for two of them
only, 402 known to one). Now each adapter asks :func:`~completions_core.errors.status_error_type`
and may override a status its provider uses otherwise; this checks what callers see.
"""

from __future__ import annotations

import json

import pytest

from completions_core.errors import STATUS_ERROR_TYPES, ProviderError, status_error_type
from completions_core.testing.replay import Body, ReplayServer
from tests.adapters.harness import PROVIDERS, Case, run

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

STATUSES = sorted({*STATUS_ERROR_TYPES, 418, 500, 502})


def _error_body(provider: str, status: int) -> Body:
    message = f"upstream says {status}"
    if provider == "google":
        payload: dict[str, object] = {"error": {"code": status, "message": message, "status": "SOME_STATUS"}}
    elif provider in ("anthropic", "anthropic_vertex"):
        payload = {"type": "error", "error": {"type": "some_error", "message": message}}
    else:
        payload = {"error": {"message": message, "type": "some_error", "code": None}}
    return Body(json.dumps(payload), status=status, content_type="application/json")


def test_the_core_table_gives_every_status_one_type_and_overrides_win() -> None:
    assert status_error_type(504) == "timeout_error" and status_error_type(402) == "permission_error"
    assert (status_error_type(500), status_error_type(418), status_error_type(302)) == (
        "provider_error", "invalid_request_error", "invalid_response_error"
    )  # fmt: skip
    assert status_error_type(504, {504: "overloaded_error"}) == "overloaded_error"
    assert status_error_type(503, {504: "overloaded_error"}) == "overloaded_error"


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_every_adapter_gives_a_status_the_core_meaning(provider: str, status: int) -> None:
    async with ReplayServer() as server:
        case = Case(provider, server)
        case.enqueue(_error_body(provider, status), False)
        with pytest.raises(ProviderError) as info:
            await run(case, False)
        server.assert_all_used()
    error = info.value
    assert (error.error_type, error.status_code) == (status_error_type(status), status), repr(error)
    assert error.provider == provider
