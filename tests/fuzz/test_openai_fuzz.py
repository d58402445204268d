"""schemathesis against ``POST /v1/chat/completions`` on the real server: no 5xx, no traceback,
every error in the OpenAI shape, with every generated request aimed at the embedded provider."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from completions_proxy.openapi import OPENAPI
from tests.fuzz.test_openapi_fuzz import TOKEN, server

__all__ = ["server"]

# Fuzzing (schemathesis): slow, run by ./dev.sh test-all, tox -e slow and CI.
pytestmark = pytest.mark.slow

schema = schemathesis.openapi.from_dict(OPENAPI)


@schema.include(operation_id="chat_completions").parametrize()
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_chat_completions_request_makes_the_server_fail(case: schemathesis.Case, server: str) -> None:
    if isinstance(case.body, dict):
        case.body["model"] = "embedded/embedded-1"
        # Fallbacks to other providers and provider_kwargs (which script the embedded provider to
        # fail on purpose) end in documented 502/503/504s, not in bugs.
        case.body.pop("fallbacks", None)
        case.body.pop("provider_kwargs", None)
    response = case.call(base_url=server, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=20)
    case.validate_response(response, checks=[not_a_server_error])
    assert "Traceback" not in response.text
    content_type = str((response.headers.get("content-type") or [""])[0])
    if response.status_code >= 400 and content_type.startswith("application/json"):
        error = response.json()["error"]
        assert set(error) >= {"message", "type", "param", "code"}
        assert error["message"]
