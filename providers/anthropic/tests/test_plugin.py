"""The plugin's registration and its cheap import."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from typing import Any

from completions_anthropic import AnthropicAdapter, AnthropicClientConfig, register_providers

from completions_core.redaction import Secret


def test_the_entry_point_names_the_module() -> None:
    (point,) = [ep for ep in entry_points(group="completions") if ep.name == "anthropic"]
    assert point.value == "completions_anthropic"


def test_register_providers_registers_one_anthropic_adapter() -> None:
    registered: list[Any] = []
    register_providers(registered.append)
    assert len(registered) == 1 and isinstance(registered[0], AnthropicAdapter)
    adapter = registered[0]
    assert (adapter.name, adapter.aliases, adapter.managed_key_env) == ("anthropic", ("claude",), ("ANTHROPIC_API_KEY",))


def test_importing_the_plugin_does_not_import_the_sdk() -> None:
    code = "import sys, completions_anthropic; print('anthropic' in sys.modules, 'httpx2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_the_client_config_is_hashable_and_masks_the_key() -> None:
    key = "sk-ant-api03-SECRET-abcdef"
    config = AnthropicClientConfig("https://api.anthropic.com", Secret(key))
    assert hash(config) == hash(AnthropicClientConfig("https://api.anthropic.com", Secret(key)))
    assert key not in repr(config) and "SECRET" not in f"{config}"


def test_the_operator_base_url_comes_from_the_environment(monkeypatch: Any) -> None:
    monkeypatch.setenv("COMPLETIONS_ANTHROPIC_BASE_URL", "http://127.0.0.1:9/")
    assert AnthropicAdapter().base_url == "http://127.0.0.1:9"
    monkeypatch.delenv("COMPLETIONS_ANTHROPIC_BASE_URL")
    assert AnthropicAdapter().base_url == "https://api.anthropic.com"
