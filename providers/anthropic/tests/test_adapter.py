"""Adapter-level behaviour outside the mapping: warming the connection."""

from __future__ import annotations

import pytest
from completions_anthropic import AnthropicAdapter

from completions_core.adapter import Credential
from completions_core.redaction import Secret
from completions_core.testing.replay import ReplayServer
from completions_core.testing.requests import provider_request
from completions_core.types import UserMessage


@pytest.mark.anyio
async def test_warm_opens_the_connection_with_a_one_model_listing_and_never_fails(server: ReplayServer) -> None:
    server.enqueue_json(200, {"data": [], "has_more": False, "first_id": None, "last_id": None}, path="/v1/models")
    server.enqueue_json(529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
                        path="/v1/models")
    adapter = AnthropicAdapter(base_url=server.url)
    request = provider_request(provider="anthropic", model="claude-haiku-4-5", messages=[UserMessage("x")])
    client = adapter.create_client(adapter.client_config(request, Credential("customer", Secret("sk-ant-test-warm-01"))))
    try:
        await adapter.warm(client)
        await adapter.warm(client)  # a failing warm-up is silent
    finally:
        await adapter.close_client(client)
    assert [r.path for r in server.requests] == ["/v1/models", "/v1/models"]
    assert server.requests[0].query.get("limit") == "1"
