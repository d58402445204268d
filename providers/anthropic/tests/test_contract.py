"""The shared adapter contract, run on real recorded Anthropic traffic."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from completions_anthropic import AnthropicAdapter

from completions_core.adapter import ProviderAdapter
from completions_core.testing.cassettes import Interaction
from completions_core.testing.contract import AdapterContract

CASSETTES = Path(__file__).parent / "cassettes"


def plain_messages_path(interaction: Interaction) -> str:
    """Serve every recording on ``/v1/messages``: two were recorded on the beta path (``?beta=true``)."""
    return interaction.request.path


@pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")
class TestAnthropicContract(AdapterContract):
    cassette_dir = CASSETTES
    # A current model id: the SDK warns for retired ones, and native structured output applies.
    model = "claude-haiku-4-5"
    path_override = staticmethod(plain_messages_path)

    text_cassette = "messages_text.yaml"
    expected_text = (
        "Sure, here's a joke about OpenTelemetry:\n\nWhy did the developer adopt OpenTelemetry?\n"
        "Because they wanted to trace their steps and meter their progress!\n\nExplanation:\nOpenTelemetry is an "
        "open-source observability framework that provides a set of APIs, libraries, and tools to instrument, "
        "generate, collect, and export telemetry data (traces, metrics, and logs) for distributed systems. The joke "
        "plays on the words \"trace\" and \"meter,\" which are key concepts in OpenTelemetry.\n\n- \"Trace their "
        "steps\" refers to distributed tracing, which involves recording the path of a request as it travels through "
        "a system of microservices.\n- \"Meter their progress\" refers to metrics, which are quantitative "
        "measurements of a system's performance and behavior.\n\nThe joke suggests that the developer adopted "
        "OpenTelemetry to gain better visibility and understanding of their application's behavior and performance, "
        "just like how one might trace their steps and meter their progress in real life."
    )
    stream_cassette = "messages_stream_text.yaml"
    expected_stream_text = "- Captain\n- Scoop"
    tool_stream_cassette = "messages_stream_tool_use.yaml"
    expected_tool_calls: ClassVar[list[tuple[str, dict[str, Any]]]] = [
        ("get_weather", {"location": "San Francisco, CA", "unit": "celsius"}),
        ("get_time", {"timezone": "America/Los_Angeles"}),
    ]
    tool_result_interaction = ("messages_stream_thinking_tool_use.yaml", 1)
    # Synthesized (no recording exists): native structured output, the JSON text in a text block.
    structured_interaction = ("synthesized_structured_output.yaml", 0)
    error_cassettes: ClassVar[list[tuple[str, str, int]]] = [
        ("messages_error_400_invalid_request.yaml", "invalid_request_error", 400),
        ("messages_error_401_authentication.yaml", "authentication_error", 401),
        ("messages_error_401_authentication_stream.yaml", "authentication_error", 401),
        ("messages_error_404_not_found.yaml", "not_found_error", 404),
    ]

    hang_after_events = 4  # message_start, content_block_start, ping, then the first text

    def make_adapter(self, base_url: str) -> ProviderAdapter:
        return AnthropicAdapter(base_url=base_url)

    def error_body(self, status: int, message: str) -> Any:
        kind = {429: "rate_limit_error", 500: "api_error", 503: "overloaded_error", 529: "overloaded_error"}
        return {"type": "error", "error": {"type": kind.get(status, "api_error"), "message": message}}
