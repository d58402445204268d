"""The adapter contract's end-to-end case: every provider's recorded answer through the proxy and the client.

The contract in :mod:`completions_core.testing.contract` tests an adapter on its own (the test kit
knows neither the proxy nor the client). This runs each contract found beside a provider or
plugin (``*/tests/test_contract.py``) once more, this time through a real proxy on loopback and
the real client, with the same recordings.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from completions_core.plugins import ProviderRegistry
from completions_core.testing.contract import TEST_API_KEY, AdapterContract
from completions_core.testing.replay import ReplayServer
from completions_proxy.testing import running_proxy
from primfunctions.completions import client as client_module
from primfunctions.completions import (
    configure,
    configure_provider,
    generate_chat_completion,
    generate_chat_completion_stream,
)

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_FILES = sorted([*ROOT.glob("providers/*/tests/test_contract.py"), *ROOT.glob("plugins/*/tests/test_contract.py")])


def _contract(path: Path) -> type[AdapterContract]:
    name = f"_e2e_contract_{path.parents[1].name}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = [v for k, v in vars(module).items() if k.startswith("Test") and isinstance(v, type)
             and issubclass(v, AdapterContract)]  # fmt: skip
    assert len(found) == 1, f"{path}: expected one AdapterContract subclass, found {found}"
    return found[0]


def test_every_built_in_provider_has_a_contract() -> None:
    owners = {path.parents[1].name for path in CONTRACT_FILES}
    assert {"openai", "alibaba", "anthropic", "anthropic_vertex", "google", "example"} <= owners


@pytest.mark.anyio
@pytest.mark.parametrize("path", CONTRACT_FILES, ids=lambda p: p.parents[1].name)
async def test_end_to_end_through_proxy_and_client(path: Path, server: ReplayServer) -> None:
    case = _contract(path)()
    server.enqueue_cassette(case.cassette(case.text_cassette), path=case._served_path())
    server.enqueue_cassette(case.cassette(case.stream_cassette), path=case._served_path())
    adapter = case.make_adapter(server.url)
    registry = ProviderRegistry()
    registry.register(adapter, "contract")
    await client_module._reset_for_tests()
    try:
        async with running_proxy(registry) as proxy:
            configure(proxy.url, proxy.token)
            configure_provider(adapter.name, api_key=TEST_API_KEY)
            body = {"provider": adapter.name, "model": case.model, "messages": [{"role": "user", "content": "Hi"}]}
            response = await generate_chat_completion(body)
            assert response.message.content == case.expected_text
            assert response.provider == adapter.name
            stream = await generate_chat_completion_stream(body)
            kinds = [chunk.type async for chunk in stream]
            assert kinds[-3:] == ["finish_reason", "usage", "response"]
            assert stream.response is not None
            assert stream.response.message.content == case.expected_stream_text
    finally:
        await client_module._reset_for_tests()
