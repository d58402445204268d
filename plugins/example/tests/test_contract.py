"""The third-party example passes the same contract as the built-in providers, on OpenAI's recordings."""

from __future__ import annotations

import sys
from pathlib import Path

from completions_core.adapter import ProviderAdapter
from completions_core.testing.contract import AdapterContract

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # not installed: see conftest.py

from completions_example import ExampleAdapter, register_providers


class TestExampleContract(AdapterContract):
    cassette_dir = Path(__file__).resolve().parents[3] / "providers" / "openai" / "tests" / "cassettes"
    model = "gpt-4o-mini"

    text_cassette = "chat_text.yaml"
    expected_text = "This is a test."
    stream_cassette = "chat_stream_text.yaml"
    expected_stream_text = '"This is a test."'
    tool_stream_cassette = "chat_stream_tool_calls.yaml"
    expected_tool_calls = (
        ("get_current_weather", {"location": "Seattle, WA"}),
        ("get_current_weather", {"location": "San Francisco, CA"}),
    )
    tool_result_interaction = ("chat_stream_tool_then_text.yaml", 1)
    structured_interaction = ("chat_structured_output.yaml", 1)
    error_cassettes = (
        ("chat_error_400_unsupported_value.yaml", "invalid_request_error", 400),
        ("chat_error_401_invalid_api_key.yaml", "authentication_error", 401),
        ("chat_error_401_invalid_api_key_stream.yaml", "authentication_error", 401),
        ("chat_error_404_model_not_found.yaml", "not_found_error", 404),
    )

    def make_adapter(self, base_url: str) -> ProviderAdapter:
        return ExampleAdapter(base_url=base_url + "/v1")


def test_the_plugin_is_small_and_registers_one_adapter() -> None:
    source = Path(sys.modules[ExampleAdapter.__module__].__file__ or "").read_text()
    code = [line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(code) <= 70, len(code)
    registered: list[ProviderAdapter] = []
    register_providers(registered.append)
    assert [type(a) for a in registered] == [ExampleAdapter]
    assert "complete" not in vars(ExampleAdapter)  # the default drains the stream
