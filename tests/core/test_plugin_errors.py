"""A plugin whose hooks pluggy refuses stops start-up with one configuration line, not a traceback."""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

import pytest

from completions_core import plugins
from completions_core.hookspecs import hookimpl
from completions_core.plugins import PluginError
from completions_proxy import cli


@pytest.fixture(autouse=True)
def _fresh_plugins() -> Iterator[None]:
    plugins.reset_plugins()
    yield
    plugins.reset_plugins()


class _EntryPoint:
    def __init__(self, name: str, module: types.ModuleType) -> None:
        self.name = name
        self.value = module.__name__
        self._module = module

    def load(self) -> types.ModuleType:
        return self._module


def _misspelt() -> types.ModuleType:
    module = types.ModuleType("completions_typo")

    @hookimpl
    def register_provider(register: Any) -> None:  # the hook is register_providers
        raise AssertionError("never called")

    module.register_provider = register_provider  # type: ignore[attr-defined]
    return module


def _wrong_argument() -> types.ModuleType:
    module = types.ModuleType("completions_badarg")

    @hookimpl
    def register_providers(registr: Any) -> None:
        raise AssertionError("never called")

    module.register_providers = register_providers  # type: ignore[attr-defined]
    return module


def _install(monkeypatch: pytest.MonkeyPatch, name: str, module: types.ModuleType) -> None:
    monkeypatch.setattr(plugins, "entry_points", lambda group: [_EntryPoint(name, module)])
    monkeypatch.delenv("COMPLETIONS_PLUGINS", raising=False)


def test_a_misspelt_hook_name_is_one_configuration_line_naming_the_plugin_and_the_hooks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _install(monkeypatch, "typo", _misspelt())
    monkeypatch.setenv("COMPLETIONS_PROXY_TOKENS", "a-token-that-is-long-enough-1234")
    assert cli.main(["--check-config"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "completions-proxy: configuration error: plugin 'typo' (completions_typo) implements an unknown hook "
        "'register_provider' (a misspelt name?); the hooks are: record_completion, register_providers\n"
    )


def test_a_hook_with_an_argument_the_spec_lacks_is_one_line_too(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, "badarg", _wrong_argument())
    with pytest.raises(PluginError) as info:
        plugins.get_providers()
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("plugin 'badarg' (completions_badarg) has an invalid hook implementation:")
    assert "registr" in message


def test_registering_a_misspelt_module_directly_fails_and_leaves_nothing_behind() -> None:
    module = _misspelt()
    with pytest.raises(PluginError, match="unknown hook 'register_provider'"):
        plugins.register_module(module, name="typo-direct")
    assert plugins.get_plugin_manager().get_plugin("typo-direct") is None
