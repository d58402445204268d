"""The demo's conversation, and both console scripts when the [proxy] extra is not installed."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from importlib.machinery import ModuleSpec
from typing import Any, Optional

import pytest

from completions_proxy import cli, demo
from completions_proxy.testing import running_proxy
from tests.helpers import registry


@pytest.mark.anyio
async def test_the_demo_asks_for_the_weather_in_paris_and_gets_it(
    client_reset: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COMPLETIONS_EMBEDDED_TOKEN_DELAY", "0")
    monkeypatch.setenv("COMPLETIONS_EMBEDDED_FIRST_TOKEN_DELAY", "0")
    async with running_proxy(registry()) as running:
        await demo._conversation(running.url, running.token, "embedded", "embedded-1")
    out = capsys.readouterr().out
    assert "tool call: get_weather({'city': 'Paris'})" in out
    assert "tool> get_weather -> {'city': 'Paris'," in out
    assert "'example'" not in out
    assert "The get_weather tool returned" in out, "the model answers the tool result"


def _without(*modules: str) -> Callable[..., Optional[ModuleSpec]]:
    real = importlib.util.find_spec

    def find_spec(name: str, package: Optional[str] = None) -> Optional[ModuleSpec]:
        return None if name in modules else real(name, package)

    return find_spec


@pytest.mark.parametrize(("prog", "main"), [("completions-proxy", cli.main), ("completions-demo", demo.main)])
def test_without_the_proxy_extra_the_scripts_exit_2_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], prog: str, main: Callable[[Any], int]
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", _without("hypercorn", "structlog"))
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"{prog}: the proxy is not installed (missing: hypercorn, structlog)")
    assert "pip install '.[proxy]'" in err


def test_the_demo_without_a_key_and_without_the_embedded_plugin_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo, "_pick_provider", lambda: ("embedded", "embedded-1"))
    monkeypatch.setattr(demo, "_installed", lambda provider: False)
    assert demo.main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install ./plugins/embedded" in err, err
