"""The shared adapter contract, on real recorded Gemini traffic."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from completions_google import GoogleAdapter

from completions_core.testing.cassettes import Interaction
from completions_core.testing.contract import AdapterContract

CASSETTES = Path(__file__).parent / "cassettes"
MODEL = "gemini-2.5-flash"
_MODEL_IN_PATH = re.compile(r"/models/[^/:]+:")


def _as_contract_model(interaction: Interaction) -> str:
    # Each recording names its own model in the path; the contract sends one model for all.
    return _MODEL_IN_PATH.sub(f"/models/{MODEL}:", interaction.request.match_path)


_STATUS = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


class TestGoogleContract(AdapterContract):
    cassette_dir = CASSETTES
    model = MODEL
    path_override = staticmethod(_as_contract_model)

    text_cassette = "generate_text.yaml"
    expected_text = "Hello! How can I help you today?"
    stream_cassette = "stream_text.yaml"
    expected_stream_text = "The capital of France is Paris.\n"
    tool_stream_cassette = "stream_function_call_thought_signature.yaml"
    expected_tool_calls = (("get_country", {}),)
    tool_result_interaction = ("stream_function_call_thought_signature.yaml", 1)
    structured_interaction = ("structured_output_response_schema.yaml", 0)
    error_cassettes = (
        ("error_400_api_key_invalid.yaml", "authentication_error", 400),
        ("error_400_api_key_invalid_stream.yaml", "authentication_error", 400),
        ("error_404_model_not_found.yaml", "not_found_error", 404),
    )

    def make_adapter(self, base_url: str) -> GoogleAdapter:
        return GoogleAdapter(base_url=base_url)

    def error_body(self, status: int, message: str) -> Any:
        # Gemini's documented error shape (google.rpc.Status).
        return {"error": {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}}
