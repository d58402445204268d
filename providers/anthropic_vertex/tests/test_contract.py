"""The shared adapter contract for Anthropic on Vertex, on real recorded Anthropic traffic.

Vertex answers with the Messages API bodies, so the Anthropic recordings are served on the Vertex
``rawPredict`` / ``streamRawPredict`` paths. The contract's credential (a non-JSON key) is used as
an OAuth2 access token; the service-account path is tested in test_vertex.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Optional

import pytest
from completions_anthropic_vertex import AnthropicVertexAdapter

from completions_core.adapter import ProviderAdapter
from completions_core.testing.cassettes import Interaction
from completions_core.testing.contract import AdapterContract

CASSETTES = Path(__file__).resolve().parents[2] / "anthropic" / "tests" / "cassettes"
PROJECT = "voicerun-test-1"
REGION = "us-east5"
MODEL = "claude-haiku-4-5@20251001"


def vertex_path(stream: bool) -> str:
    verb = "streamRawPredict" if stream else "rawPredict"
    return f"/v1/projects/{PROJECT}/locations/{REGION}/publishers/anthropic/models/{MODEL}:{verb}"


def on_vertex(interaction: Interaction) -> str:
    return vertex_path(interaction.request.stream_requested)


@pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")
class TestAnthropicVertexContract(AdapterContract):
    cassette_dir = CASSETTES
    model = MODEL
    path_override = staticmethod(on_vertex)

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
    # Synthesized: Vertex keeps native structured output off by default, so the forced tool answers.
    structured_interaction = ("synthesized_structured_output.yaml", 1)
    error_cassettes: ClassVar[list[tuple[str, str, int]]] = [
        ("messages_error_400_invalid_request.yaml", "invalid_request_error", 400),
        ("messages_error_401_authentication.yaml", "authentication_error", 401),
        ("messages_error_401_authentication_stream.yaml", "authentication_error", 401),
        ("messages_error_404_not_found.yaml", "not_found_error", 404),
    ]

    hang_after_events = 4  # message_start, content_block_start, ping, then the first text

    def make_adapter(self, base_url: str) -> ProviderAdapter:
        return AnthropicVertexAdapter(base_url=base_url + "/v1", project_id=PROJECT, region=REGION)

    def error_body(self, status: int, message: str) -> Any:
        # Google-style errors, as Vertex sends for quota and availability problems.
        statuses = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
        return {"error": {"code": status, "message": message, "status": statuses.get(status, "UNKNOWN")}}

    def stream_path(self) -> Optional[str]:
        return vertex_path(True)

    # The contract leaves its SDK clients open; close them (see the Anthropic plugin's contract test).
    _open_clients: ClassVar[list[tuple[ProviderAdapter, Any]]] = []
