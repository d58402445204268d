"""The Vertex plugin's registration, its cheap import and its operator settings."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from typing import Any

from completions_anthropic import AnthropicAdapter
from completions_anthropic_vertex import GOOGLE_TOKEN_URI, AnthropicVertexAdapter, register_providers


def test_the_entry_point_names_the_module() -> None:
    (point,) = [ep for ep in entry_points(group="completions") if ep.name == "anthropic_vertex"]
    assert point.value == "completions_anthropic_vertex"


def test_register_providers_registers_only_the_vertex_adapter() -> None:
    registered: list[Any] = []
    register_providers(registered.append)
    assert [type(a) for a in registered] == [AnthropicVertexAdapter]
    adapter = registered[0]
    assert isinstance(adapter, AnthropicAdapter)  # the mapping is inherited, not copied
    assert (adapter.name, adapter.aliases) == ("anthropic_vertex", ("vertex_anthropic",))
    assert adapter.normalize_usage({"input_tokens": 1, "cache_read_input_tokens": 2}).input_tokens == 3
    assert adapter.managed_key_env == ("COMPLETIONS_VERTEX_SERVICE_ACCOUNT_FILE", "GOOGLE_APPLICATION_CREDENTIALS")


def test_importing_the_plugin_loads_neither_the_sdk_nor_google_auth() -> None:
    code = "import sys, completions_anthropic_vertex; print('anthropic' in sys.modules, 'google.auth' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_operator_settings_come_from_the_environment(monkeypatch: Any) -> None:
    for name in ("COMPLETIONS_ANTHROPIC_VERTEX_BASE_URL", "COMPLETIONS_ANTHROPIC_VERTEX_PROJECT_ID",
                 "COMPLETIONS_ANTHROPIC_VERTEX_REGION", "COMPLETIONS_VERTEX_TOKEN_URI",
                 "COMPLETIONS_ANTHROPIC_VERTEX_NATIVE_STRUCTURED_OUTPUT"):
        monkeypatch.delenv(name, raising=False)
    default = AnthropicVertexAdapter()
    assert (default.base_url, default.project_id, default.region, default.token_uri) == ("", None, "global", GOOGLE_TOKEN_URI)
    assert not default.supports_native_structured_output("claude-sonnet-4-6")
    monkeypatch.setenv("COMPLETIONS_ANTHROPIC_VERTEX_PROJECT_ID", "ops-project-1")
    monkeypatch.setenv("COMPLETIONS_ANTHROPIC_VERTEX_REGION", "europe-west4")
    monkeypatch.setenv("COMPLETIONS_ANTHROPIC_VERTEX_NATIVE_STRUCTURED_OUTPUT", "true")
    configured = AnthropicVertexAdapter()
    assert (configured.project_id, configured.region) == ("ops-project-1", "europe-west4")
    assert configured.supports_native_structured_output("claude-sonnet-4-6@20260101")
    assert not configured.supports_native_structured_output("claude-haiku-4-5@20251001")
