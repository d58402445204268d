"""Caller ids are keyed per deployment; --check-config shows every provider's endpoint setting."""

from __future__ import annotations

from typing import Any

import pytest

from completions_core.redaction import fingerprint
from completions_proxy.auth import authenticate
from completions_proxy.cli import base_url_settings, main
from completions_proxy.settings import ConfigError, Settings
from tests.helpers import KeyedAdapter

TOKEN = "caller-token-0123456789"
KEY = "k" * 40


def _caller(env: dict[str, str]) -> str | None:
    settings = Settings.from_env({"COMPLETIONS_PROXY_TOKENS": TOKEN, **env})
    return authenticate(f"Bearer {TOKEN}", settings.proxy_tokens, settings.caller_id_key)


def test_caller_ids_are_keyed_with_a_per_deployment_secret() -> None:
    public = fingerprint(TOKEN)  # what anyone could compute from a guess, with the old fixed key
    random_a, random_b = _caller({}), _caller({})
    assert random_a and random_b and random_a != random_b  # a random key per process
    assert public not in (random_a, random_b)
    keyed = _caller({"COMPLETIONS_CALLER_ID_KEY": KEY})
    assert keyed == _caller({"COMPLETIONS_CALLER_ID_KEY": KEY})  # the same on every replica
    assert keyed not in (public, random_a) and keyed != _caller({"COMPLETIONS_CALLER_ID_KEY": "j" * 40})
    with pytest.raises(ConfigError, match="COMPLETIONS_CALLER_ID_KEY"):
        Settings.from_env({"COMPLETIONS_PROXY_TOKENS": TOKEN, "COMPLETIONS_CALLER_ID_KEY": "short"})
    assert KEY not in repr(Settings.from_env({"COMPLETIONS_PROXY_TOKENS": TOKEN, "COMPLETIONS_CALLER_ID_KEY": KEY}))


class _Declared(KeyedAdapter):
    name = "declared"
    base_url_env = "DECLARED_ENDPOINT"


class _Conventional(KeyedAdapter):
    name = "conventional"

    def __init__(self) -> None:
        super().__init__()
        self.base_url = "https://conventional.example"


def test_base_url_settings_come_from_what_adapters_declare() -> None:
    adapters: list[Any] = [_Declared(), _Conventional(), KeyedAdapter()]
    env = {"DECLARED_ENDPOINT": "https://user:pa55word@gateway.internal:8443/v1"}
    shown = base_url_settings(adapters, env)
    assert [(name, variable) for name, variable, _ in shown] == [
        ("declared", "DECLARED_ENDPOINT"), ("conventional", "COMPLETIONS_CONVENTIONAL_BASE_URL")
    ]
    assert shown[0][2] == "https://****@gateway.internal:8443/v1"
    assert "not set" in shown[1][2]


def test_check_config_lists_the_base_url_setting_of_installed_providers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from completions_core import plugins

    monkeypatch.setenv("COMPLETIONS_PROXY_TOKENS", TOKEN)
    monkeypatch.setenv("COMPLETIONS_CALLER_ID_KEY", KEY)
    monkeypatch.setattr(plugins, "get_providers", lambda: _registry())
    assert main(["--check-config"]) == 0
    out = capsys.readouterr().out
    assert "declared: DECLARED_ENDPOINT" in out and "COMPLETIONS_CONVENTIONAL_BASE_URL" in out
    assert "caller id key: set" in out and KEY not in out and TOKEN not in out


def _registry() -> Any:
    from tests.helpers import registry

    return registry(_Declared(), _Conventional())



def test_caller_id_is_worked_out_once_per_token_and_stays_the_documented_mac() -> None:
    import hashlib

    from completions_core.redaction import Secret

    settings = Settings.from_env({"COMPLETIONS_PROXY_TOKENS": f"{TOKEN},other-token-0123456789",
                                  "COMPLETIONS_CALLER_ID_KEY": KEY})
    expected = fingerprint(TOKEN, salt=hashlib.blake2b(KEY.encode()).digest())
    first = authenticate(f"Bearer {TOKEN}", settings.proxy_tokens, settings.caller_id_key)
    again = authenticate(f"Bearer  {TOKEN} ", settings.proxy_tokens, settings.caller_id_key)
    assert first == again == expected
    other = authenticate("Bearer other-token-0123456789", settings.proxy_tokens, settings.caller_id_key)
    assert other is not None and other != first
    # The cached id of a valid token admits nothing else: a near miss, or the token under another key.
    assert authenticate(f"Bearer {TOKEN}x", settings.proxy_tokens, settings.caller_id_key) is None
    assert authenticate(f"Basic {TOKEN}", settings.proxy_tokens, settings.caller_id_key) is None
    other_key = authenticate(f"Bearer {TOKEN}", settings.proxy_tokens, Secret("j" * 40))
    assert other_key not in (None, first)
    assert authenticate(f"Bearer {TOKEN}", settings.proxy_tokens, None) == fingerprint(TOKEN)
