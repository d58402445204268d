"""Configuration: validation messages, secrets from files, rotation without restart."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from completions_core import plugins
from completions_proxy.cli import main
from completions_proxy.settings import ConfigError, Settings

TOKEN = "proxy-token-0123456789abcdef"


def test_missing_token_says_which_variable_to_set() -> None:
    with pytest.raises(ConfigError, match="COMPLETIONS_PROXY_TOKENS"):
        Settings.from_env({})


def test_short_token_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least 16 characters"):
        Settings.from_env({"COMPLETIONS_PROXY_TOKENS": "short"})


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("COMPLETIONS_MAX_BODY_BYTES", "lots", "must be an integer"),
        ("COMPLETIONS_MAX_BODY_BYTES", "10", "must be >= 1024"),
        ("COMPLETIONS_FIRST_TOKEN_TIMEOUT", "soon", "number of seconds"),
        ("COMPLETIONS_IDLE_TIMEOUT", "-1", "between 0 and 3600"),
        ("COMPLETIONS_LOG_CONTENT", "maybe", "true or false"),
        ("COMPLETIONS_LOG_FORMAT", "xml", "one of auto, json, console"),
        ("COMPLETIONS_SECRETS_DIR", "/nonexistent/dir", "is not a directory"),
    ],
)
def test_each_mistake_has_a_clear_message(name: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment) as info:
        Settings.from_env({"COMPLETIONS_PROXY_TOKENS": TOKEN, name: value})
    assert name in str(info.value)


def test_tokens_from_a_file_and_several_for_rotation(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("# rotation\nnew-token-0123456789abc\nold-token-0123456789abc\n")
    settings = Settings.from_env({"COMPLETIONS_PROXY_TOKENS_FILE": str(tokens), "COMPLETIONS_PROXY_TOKENS": TOKEN})
    assert len(settings.proxy_tokens) == 3
    assert TOKEN not in repr(settings) and "new-token" not in repr(settings)


def test_managed_key_file_wins_over_env_and_is_re_read_when_it_changes(tmp_path: Path) -> None:
    (tmp_path / "openai").write_text("sk-file-one\n")
    settings = Settings.from_env(
        {"COMPLETIONS_PROXY_TOKENS": TOKEN, "COMPLETIONS_SECRETS_DIR": str(tmp_path), "OPENAI_API_KEY": "sk-env"}
    )
    first = settings.managed_key("openai", ("OPENAI_API_KEY",))
    assert first is not None and first.reveal() == "sk-file-one"
    (tmp_path / "openai").write_text("sk-file-two-rotated\n")
    stat = (tmp_path / "openai").stat()
    os.utime(tmp_path / "openai", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    second = settings.managed_key("openai", ("OPENAI_API_KEY",))
    assert second is not None and second.reveal() == "sk-file-two-rotated"
    anthropic = settings.managed_key("anthropic", ("ANTHROPIC_API_KEY",))
    assert anthropic is None
    env_only = settings.managed_key("google", ("OPENAI_API_KEY",))
    assert env_only is not None and env_only.reveal() == "sk-env"


def test_check_config_prints_the_configuration_with_secrets_hidden(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COMPLETIONS_PROXY_TOKENS", TOKEN)
    monkeypatch.setenv("COMPLETIONS_PLUGINS", "embedded")
    plugins.reset_plugins()
    try:
        assert main(["--check-config"]) == 0
    finally:
        plugins.reset_plugins()
    out = capsys.readouterr().out
    assert "providers: embedded" in out and "1 configured" in out
    assert TOKEN not in out


def test_check_config_reports_a_mistake_with_exit_status_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("COMPLETIONS_PROXY_TOKENS", raising=False)
    monkeypatch.delenv("COMPLETIONS_PROXY_TOKEN", raising=False)
    monkeypatch.delenv("COMPLETIONS_PROXY_TOKENS_FILE", raising=False)
    assert main(["--check-config"]) == 2
    assert "COMPLETIONS_PROXY_TOKENS" in capsys.readouterr().err
