"""A new SDK client (a new customer key) does not load the CA bundle again on the event loop."""

from __future__ import annotations

import ssl
from typing import Any

import pytest

from completions_core.adapter import Credential
from completions_core.plugins import get_providers
from completions_core.redaction import Secret
from completions_core.testing.requests import provider_request
from completions_core.tls import shared_ssl_context
from completions_core.types import UserMessage


def test_the_shared_context_verifies_certificates_and_hostnames() -> None:
    context = shared_ssl_context()
    assert context is shared_ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.parametrize(("provider", "model"), [
    ("openai", "gpt-4o-mini"), ("anthropic", "claude-haiku-4-5"), ("google", "gemini-2.5-flash"),
    ("alibaba", "qwen-plus"),
])  # fmt: skip
def test_building_a_client_for_a_new_key_loads_no_ca_bundle(
    provider: str, model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = get_providers().get(provider)
    assert adapter is not None
    request = provider_request(provider, model, [UserMessage("hi")])

    def build(key: str) -> Any:
        return adapter.create_client(adapter.client_config(request, Credential("customer", Secret(key))))

    build("sk-first-key-0123456789abcdef")  # imports the SDK and builds the shared context
    loads: list[Any] = []
    original = ssl.SSLContext.load_verify_locations

    def counted(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(args)
        original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    for i in range(3):
        build(f"sk-new-customer-key-{i}-0123456789abcdef")
    assert loads == [], f"{provider}: {len(loads)} CA bundle loads for 3 new clients"
