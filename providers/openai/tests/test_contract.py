"""The shared adapter contract, run for OpenAI on its recorded traffic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from completions_openai import OpenAIAdapter

from completions_core.adapter import ProviderAdapter
from completions_core.testing.contract import AdapterContract


class TestOpenAIContract(AdapterContract):
    cassette_dir = Path(__file__).parent / "cassettes"
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
        return OpenAIAdapter(base_url=base_url + "/v1")

    def error_body(self, status: int, message: str) -> Any:
        # OpenAI's documented error object.
        kind = "rate_limit_exceeded" if status == 429 else "server_error"
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}
