"""``completions-proxy --check-config`` shows the request bounds and deadlines an operator set."""

from __future__ import annotations

import pytest

from completions_core import plugins
from completions_proxy.cli import main

TOKEN = "check-config-token-0123456789"


def _printed(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str]) -> str:
    monkeypatch.setenv("COMPLETIONS_PROXY_TOKENS", TOKEN)
    monkeypatch.setenv("COMPLETIONS_PLUGINS", "embedded")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    plugins.reset_plugins()
    try:
        assert main(["--check-config"]) == 0
    finally:
        plugins.reset_plugins()
    out = capsys.readouterr().out
    assert TOKEN not in out
    return out


def test_check_config_prints_the_attempt_cap_retry_floor_and_deadlines_by_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("COMPLETIONS_MAX_ATTEMPTS", "COMPLETIONS_RETRY_MIN_DELAY", "COMPLETIONS_COMPLETE_TIMEOUT",
                 "COMPLETIONS_FIRST_TOKEN_TIMEOUT", "COMPLETIONS_IDLE_TIMEOUT", "COMPLETIONS_HEDGE_AFTER",
                 "COMPLETIONS_BODY_TIMEOUT", "COMPLETIONS_KEEPALIVE_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    out = _printed(monkeypatch, capsys, {})
    assert "max attempts per request: 8 (COMPLETIONS_MAX_ATTEMPTS)" in out
    assert "retry floor delay: 0.05 s (COMPLETIONS_RETRY_MIN_DELAY)" in out
    assert "non-streaming default deadline: 120 s (COMPLETIONS_COMPLETE_TIMEOUT)" in out
    assert "body read timeout: 30 s (COMPLETIONS_BODY_TIMEOUT)" in out
    assert "first-token timeout: off (COMPLETIONS_FIRST_TOKEN_TIMEOUT)" in out
    assert "hedge after: off (COMPLETIONS_HEDGE_AFTER)" in out


def test_check_config_prints_what_the_operator_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _printed(monkeypatch, capsys, {
        "COMPLETIONS_MAX_ATTEMPTS": "3", "COMPLETIONS_RETRY_MIN_DELAY": "0.25", "COMPLETIONS_COMPLETE_TIMEOUT": "0",
        "COMPLETIONS_IDLE_TIMEOUT": "7.5", "COMPLETIONS_HEDGE_AFTER": "0.4",
    })
    assert "max attempts per request: 3 (COMPLETIONS_MAX_ATTEMPTS)" in out
    assert "retry floor delay: 0.25 s" in out
    assert "non-streaming default deadline: off (COMPLETIONS_COMPLETE_TIMEOUT)" in out
    assert "idle timeout: 7.5 s" in out and "hedge after: 0.4 s" in out
