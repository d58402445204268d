"""Plugin loading through entry points, and the meta-tests over the hooks."""

from __future__ import annotations

import inspect
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from completions_core import hookspecs, plugins
from completions_core.adapter import ProviderAdapter
from completions_core.hookspecs import hookimpl
from completions_core.plugins import PluginError, ProviderRegistry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_plugins() -> Any:
    plugins.reset_plugins()
    yield
    plugins.reset_plugins()


class _Dummy(ProviderAdapter):
    name = "dummy"


def test_hook_register_providers_collects_adapters_from_a_plugin_module() -> None:
    module = types.ModuleType("completions_dummy")

    @hookimpl
    def register_providers(register: Any) -> None:
        register(_Dummy())

    module.register_providers = register_providers  # type: ignore[attr-defined]
    plugins.register_module(module, name="dummy-plugin")
    registry = plugins.get_providers()
    assert "dummy" in registry.names()
    assert isinstance(registry.get("DUMMY"), _Dummy)
    plugins.unregister_module("dummy-plugin")
    assert "dummy" not in plugins.get_providers().names()


def test_hook_register_providers_is_called_through_pluggy_so_wrappers_see_it() -> None:
    seen: list[str] = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def register_providers(self, register: Any) -> Any:
            seen.append("before")
            result = yield
            seen.append("after")
            return result

    plugins.register_module(Wrapper(), name="wrapper-plugin")
    assert "embedded" in plugins.get_providers().names()
    assert seen == ["before", "after"]


def test_a_duplicate_from_two_plugins_names_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLETIONS_PLUGINS", "")
    first, second = types.ModuleType("first"), types.ModuleType("second")

    @hookimpl
    def register_first(register: Any) -> None:
        register(_Dummy())

    @hookimpl
    def register_second(register: Any) -> None:
        register(_Dummy())

    first.register_providers = register_first  # type: ignore[attr-defined]
    second.register_providers = register_second  # type: ignore[attr-defined]
    plugins.register_module(first, name="first-plugin")
    plugins.register_module(second, name="second-plugin")
    with pytest.raises(PluginError, match="registered twice") as info:
        plugins.get_providers()
    assert "by second-plugin and by first-plugin" in str(info.value)  # pluggy calls the last registered first


def test_installed_entry_point_plugins_are_loaded_once() -> None:
    first = plugins.get_plugin_manager()
    assert plugins.get_plugin_manager() is first
    assert "embedded" in plugins.get_providers().names()
    assert plugins.get_providers() is plugins.get_providers()


def test_empty_switch_loads_no_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLETIONS_PLUGINS", "")
    assert plugins.get_providers().names() == []


def test_listed_switch_loads_only_those(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLETIONS_PLUGINS", "embedded")
    assert plugins.get_providers().names() == ["embedded"]


def test_listing_a_plugin_that_is_not_installed_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLETIONS_PLUGINS", "embedded,nonexistent")
    with pytest.raises(PluginError, match=r"nonexistent.*not installed; installed plugins: .*embedded"):
        plugins.get_plugin_manager()


def test_trace_switch_writes_hook_calls(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COMPLETIONS_PLUGINS", "embedded")
    monkeypatch.setenv("COMPLETIONS_TRACE_PLUGINS", "1")
    pm = plugins.get_plugin_manager()
    pm.hook.register_providers(register=lambda adapter: None)
    assert "register_providers" in capsys.readouterr().err


def test_registry_refuses_duplicates_bad_names_aliases_and_non_adapters() -> None:
    registry = ProviderRegistry()
    registry.register(_Dummy(), "one")
    with pytest.raises(PluginError, match="registered twice: by one and by two"):
        registry.register(_Dummy(), "two")
    bad = _Dummy()
    bad.name = "Bad Name"  # type: ignore[misc]
    with pytest.raises(PluginError, match="lower-case"):
        registry.register(bad, "three")
    with pytest.raises(PluginError, match="not a ProviderAdapter"):
        registry.register(object(), "five")  # type: ignore[arg-type]


class _Aliased(ProviderAdapter):
    name = "sky"
    aliases = ("cloud", "heaven")


def test_aliases_are_declared_by_the_adapter_and_resolve_to_it() -> None:
    registry = ProviderRegistry()
    sky = _Aliased()
    registry.register(sky)
    assert registry.get("Cloud ") is sky and registry.get("heaven") is sky and registry.get("sky") is sky
    assert registry.canonical("CLOUD") == "sky" and registry.aliases() == {"cloud": "sky", "heaven": "sky"}
    assert registry.get("ground") is None and registry.canonical("Ground") == "ground"


def test_a_name_or_alias_already_taken_is_refused() -> None:
    registry = ProviderRegistry()
    registry.register(_Aliased(), "one")
    squatter = _Dummy()
    squatter.name = "cloud"  # type: ignore[misc]
    with pytest.raises(PluginError, match="registered 'cloud', an alias of 'sky'"):
        registry.register(squatter, "two")

    class Twin(ProviderAdapter):
        name = "twin"
        aliases = ("heaven",)

    with pytest.raises(PluginError, match="declared 'heaven' as an alias of 'twin', but it already names 'sky'"):
        registry.register(Twin(), "three")

    class Shadow(ProviderAdapter):
        name = "shadow"
        aliases = ("sky",)

    with pytest.raises(PluginError, match="already names 'sky'"):
        registry.register(Shadow(), "four")
    assert registry.names() == ["sky"]


def test_badly_spelt_aliases_are_refused() -> None:
    class Bad(ProviderAdapter):
        name = "bad"
        aliases = "b"  # type: ignore[assignment]

    with pytest.raises(PluginError, match="aliases are a tuple of names"):
        ProviderRegistry().register(Bad())


def test_the_built_in_providers_declare_the_documented_aliases() -> None:
    registry = plugins.get_providers()
    expected = {"gemini": "google", "claude": "anthropic", "vertex_anthropic": "anthropic_vertex",
                "qwen": "alibaba", "dashscope": "alibaba"}  # fmt: skip
    assert {alias: registry.canonical(alias) for alias in expected} == expected


def _hookspecs() -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(fn)
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "completions_spec")
    }


def test_every_hook_is_documented_with_its_exact_signature() -> None:
    guide = (ROOT / "plugins" / "README.md").read_text()
    specs = _hookspecs()
    assert specs, "no hookspecs found"
    for name, signature in specs.items():
        text = f"{name}{signature}".replace("'", "")
        assert text in guide, f"plugins/README.md must document `{text}`"


def test_every_hook_has_a_test() -> None:
    sources = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    for name in _hookspecs():
        assert re.search(rf"def test_hook_{name}\w*\(", sources), f"no test named test_hook_{name}*"


def test_importing_core_does_not_import_provider_sdks_or_the_web_stack() -> None:
    import subprocess

    code = (
        "import sys, completions_core, primfunctions.completions; "
        "bad = [m for m in ('openai','anthropic','google.genai','starlette','hypercorn') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
