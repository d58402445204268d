"""Usage normalization: each adapter's ``normalize_usage``, table-tested on usage recorded from its provider."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from completions_core.adapter import ProviderAdapter
from completions_core.plugins import ProviderRegistry
from completions_core.testing.cassettes import load_cassette
from completions_core.usage import NormalizedUsage, chat_completions_usage, count, section

PROVIDERS = Path(__file__).resolve().parents[2] / "providers"


def _body(provider: str, name: str, index: int) -> Any:
    return json.loads(load_cassette(PROVIDERS / provider / "tests" / "cassettes" / name)[index].response.body)


def _stream_usage(name: str) -> dict[str, Any]:
    """Anthropic's merged stream usage: message_start's counts updated by message_delta's."""
    usage: dict[str, Any] = {}
    body = load_cassette(PROVIDERS / "anthropic" / "tests" / "cassettes" / name)[0].response.body
    for line in body.splitlines():
        if line.startswith("data:"):
            event = json.loads(line[5:])
            if event["type"] == "message_start":
                usage.update(event["message"]["usage"])
            elif event["type"] == "message_delta":
                usage.update(event.get("usage") or {})
    return usage


CASES = [
    # OpenAI: prompt_tokens already include cached ones; cache writes are reported apart.
    ("openai", lambda: _body("openai", "chat_prompt_cache.yaml", 0)["usage"],
     NormalizedUsage(input_tokens=4020, output_tokens=4, cached_input_tokens=0, cache_write_tokens=4012)),
    ("openai", lambda: _body("openai", "chat_prompt_cache.yaml", 1)["usage"],
     NormalizedUsage(input_tokens=4020, output_tokens=4, cached_input_tokens=4012)),
    # Anthropic: input_tokens exclude cache writes and reads; the normalized input adds them back.
    ("anthropic", lambda: _body("anthropic", "messages_prompt_cache.yaml", 0)["usage"],
     NormalizedUsage(input_tokens=4 + 1163, output_tokens=187, cache_write_tokens=1163)),
    ("anthropic", lambda: _body("anthropic", "messages_prompt_cache.yaml", 1)["usage"],
     NormalizedUsage(input_tokens=4 + 1163, output_tokens=202, cached_input_tokens=1163)),
    ("anthropic", lambda: _stream_usage("messages_stream_thinking_tool_use.yaml"),
     NormalizedUsage(input_tokens=598, output_tokens=92, reasoning_tokens=53)),
    # Gemini: thinking is billed as output but reported apart from the candidates.
    ("google", lambda: _body("google", "generate_cached_content.yaml", 0)["usageMetadata"],
     NormalizedUsage(input_tokens=3520, output_tokens=2 + 42, cached_input_tokens=3512, reasoning_tokens=42)),
    ("google", lambda: _body("google", "generate_text.yaml", 0)["usageMetadata"],
     NormalizedUsage(input_tokens=9, output_tokens=9 + 34, reasoning_tokens=34)),
]


def _adapter(provider: str) -> ProviderAdapter:
    from completions_anthropic import AnthropicAdapter
    from completions_google import GoogleAdapter
    from completions_openai import OpenAIAdapter

    adapters: dict[str, ProviderAdapter] = {
        "openai": OpenAIAdapter(), "anthropic": AnthropicAdapter(), "google": GoogleAdapter()
    }  # fmt: skip
    return adapters[provider]


@pytest.mark.parametrize(("provider", "recorded", "expected"), CASES)
def test_recorded_usage_normalizes_to_comparable_counts(provider: str, recorded: Any, expected: NormalizedUsage) -> None:
    assert _adapter(provider).normalize_usage(recorded()) == expected


def test_google_snake_case_dumps_normalize_the_same_as_the_wire_form() -> None:
    wire = _body("google", "generate_cached_content.yaml", 0)["usageMetadata"]
    snake = {"prompt_token_count": 3520, "candidates_token_count": 2, "thoughts_token_count": 42,
             "cached_content_token_count": 3512}
    google = _adapter("google")
    assert google.normalize_usage(snake) == google.normalize_usage(wire)


def test_missing_usage_is_zero_for_every_adapter() -> None:
    for provider in ("openai", "anthropic", "google"):
        assert _adapter(provider).normalize_usage(None) == NormalizedUsage()


class _Counted(ProviderAdapter):
    """A third-party layout, read with core's building blocks."""

    name = "counted"

    def normalize_usage(self, usage: Any) -> NormalizedUsage:
        inner = section(usage, "billing", "Billing")
        return NormalizedUsage(input_tokens=count(inner, "in", "In"), output_tokens=count(inner, "out"))


def test_the_default_reads_the_chat_completions_layout_and_a_plugin_may_read_its_own() -> None:
    plain = ProviderAdapter()
    usage = {"prompt_tokens": 7, "completion_tokens": 3, "completion_tokens_details": {"reasoning_tokens": 2}}
    assert plain.normalize_usage(usage) == chat_completions_usage(usage) == NormalizedUsage(7, 3, reasoning_tokens=2)
    registry = ProviderRegistry()
    registry.register(_Counted())
    counted = registry.get("counted")
    assert counted is not None
    assert counted.normalize_usage({"Billing": {"In": 5, "out": 1.0}}) == NormalizedUsage(5, 1)
    assert counted.normalize_usage({"billing": {"in": True}}) == NormalizedUsage()  # a bool is no count
