"""The shared adapter contract, run for Alibaba: recorded OpenAI traffic served the way DashScope serves it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from completions_alibaba import AlibabaAdapter

from completions_core.adapter import ProviderAdapter
from completions_core.testing.contract import AdapterContract
from completions_core.testing.replay import with_prefix


class TestAlibabaContract(AdapterContract):
    # No DashScope recording exists; DashScope's compatible mode answers in OpenAI's format on
    # /compatible-mode/v1/..., so the OpenAI plugin's cassettes are served under that prefix.
    cassette_dir = Path(__file__).resolve().parents[2] / "openai" / "tests" / "cassettes"
    path_override = with_prefix("/compatible-mode")
    model = "qwen-plus"

    text_cassette = "chat_text.yaml"
    expected_text = "This is a test."
    stream_cassette = "chat_stream_text.yaml"
    expected_stream_text = '"This is a test."'
    tool_stream_cassette = "chat_stream_tool_calls.yaml"
    expected_tool_calls = (
        ("get_current_weather", {"location": "Seattle, WA"}),
        ("get_current_weather", {"location": "San Francisco, CA"}),
    )
    tool_result_interaction = ("chat_tool_calls.yaml", 1)
    structured_interaction = ("chat_structured_output.yaml", 1)
    error_cassettes = (
        ("chat_error_400_unsupported_value.yaml", "invalid_request_error", 400),
        ("chat_error_401_invalid_api_key.yaml", "authentication_error", 401),
        ("chat_error_401_invalid_api_key_stream.yaml", "authentication_error", 401),
        ("chat_error_404_model_not_found.yaml", "not_found_error", 404),
    )

    def make_adapter(self, base_url: str) -> ProviderAdapter:
        return AlibabaAdapter(base_url=base_url + "/compatible-mode/v1")

    def stream_path(self) -> Optional[str]:
        return "/compatible-mode/v1/chat/completions"

    def error_body(self, status: int, message: str) -> Any:
        # DashScope's compatible mode answers errors in OpenAI's shape, plus a request_id.
        kind = "invalid_request_error" if status < 500 else "internal_error"
        return {
            "error": {"message": message, "type": kind, "param": None, "code": None},
            "request_id": "00000000-0000-0000-0000-000000000000",
        }
