"""The hashed locks cover every third-party dependency declared anywhere in the repository."""

from __future__ import annotations

import configparser
import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCAL = {"completions-proxy", "completions-openai", "completions-anthropic", "completions-google",
         "completions-alibaba", "completions-anthropic-vertex", "completions-embedded", "completions-otel"}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _declared() -> dict[str, set[str]]:
    """Requirement names per kind ("runtime" or "dev") from every setup.cfg."""
    out: dict[str, set[str]] = {"runtime": set(), "dev": set()}
    for path in [ROOT / "setup.cfg", *ROOT.glob("providers/*/setup.cfg"), *ROOT.glob("plugins/*/setup.cfg")]:
        config = configparser.ConfigParser()
        config.read(path)
        runtime = config.get("options", "install_requires", fallback="")
        out["runtime"].update(_name(r) for r in runtime.splitlines() if r.strip())
        if config.has_section("options.extras_require"):
            for extra, value in config.items("options.extras_require"):
                kind = "dev" if extra in ("test", "lint") else "runtime"
                out[kind].update(_name(r) for r in value.splitlines() if r.strip() and not r.strip().startswith("#"))
    return {kind: names - LOCAL for kind, names in out.items()}


def _locked(name: str) -> set[str]:
    text = (ROOT / "requirements" / name).read_text()
    return {_name(line) for line in text.splitlines() if re.match(r"^[A-Za-z0-9]", line)}


def test_every_runtime_dependency_is_in_the_runtime_lock() -> None:
    missing = _declared()["runtime"] - _locked("proxy.lock")
    assert not missing, f"add {sorted(missing)} to requirements/proxy.in and run requirements/lock.sh"


def test_every_test_and_lint_dependency_is_in_the_dev_lock() -> None:
    declared = _declared()
    missing = (declared["dev"] | declared["runtime"]) - _locked("dev.lock")
    assert not missing, f"add {sorted(missing)} to requirements/dev.in and run requirements/lock.sh"


def test_every_locked_line_has_a_hash() -> None:
    for name in ("proxy.lock", "dev.lock", "deploy-check.lock"):
        text = (ROOT / "requirements" / name).read_text()
        pins = re.findall(r"^([A-Za-z0-9][^\s]*)==[^\s]+(?: ;[^\\\n]*)? \\\n((?:\s+--hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)", text, re.M)
        names = [line for line in text.splitlines() if re.match(r"^[A-Za-z0-9]", line)]
        assert len(pins) == len(names) > 10, name


def _installer() -> Any:
    spec = importlib.util.spec_from_file_location("requirements_install", ROOT / "requirements" / "install.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tox() -> configparser.ConfigParser:
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini")
    return config


def test_bare_tox_runs_every_install_story_and_each_provider_alone() -> None:
    config = _tox()
    envlist = {name.strip() for name in config.get("tox", "envlist").split(",")}
    providers = {path.parent.name for path in ROOT.glob("providers/*/setup.cfg")}
    assert providers and providers | {"client", "proxy-embedded", "lint"} <= envlist
    # A provider environment is the [testenv] default: the root with [proxy,test] and that provider only.
    assert config.get("testenv", "commands_pre") == 'python requirements/install.py ".[proxy,test]" providers/{envname}'
    assert config.get("testenv", "commands") == "python -m pytest providers/{envname} {posargs}"
    for name in envlist - providers:
        assert config.has_section(f"testenv:{name}"), name
    for section in config.sections():
        if section.startswith("testenv"):
            pre = config.get(section, "commands_pre", fallback=config.get("testenv", "commands_pre"))
            assert pre.startswith(("python requirements/install.py", "{[testenv:lint]commands_pre}")), section


def test_a_provider_story_installs_that_provider_and_no_other() -> None:
    installer = _installer()
    lock = (ROOT / "requirements" / "dev.lock").read_text()
    dirs, names, _ = installer.plan([".[proxy,test]", "providers/openai"], lock)
    assert {d.relative_to(ROOT).as_posix() for d in dirs} == {".", "providers/openai"}
    assert {"openai", "hypercorn", "pytest", "setuptools", "wheel"} <= set(names)
    assert not {"anthropic", "google-genai", "google-auth"} & set(names)
    dirs, names, _ = installer.plan([".[proxy,test]", "providers/anthropic_vertex"], lock)
    assert {d.relative_to(ROOT).as_posix() for d in dirs} == {".", "providers/anthropic_vertex", "providers/anthropic"}
    assert {"anthropic", "google-auth", "requests"} <= set(names)
    assert not {"openai", "google-genai"} & set(names)


def test_the_client_story_has_no_web_stack() -> None:
    _, names, _ = _installer().plan([".", "pytest", "pytest-timeout", "pyyaml"], (ROOT / "requirements" / "dev.lock").read_text())
    assert {"aiohttp", "orjson", "pluggy", "anyio"} <= set(names)
    assert not {"starlette", "hypercorn", "structlog", "prometheus-client", "uvloop"} & set(names)


def test_the_installer_refuses_a_name_the_lock_does_not_pin() -> None:
    with pytest.raises(SystemExit, match="not-a-locked-package not in the lock"):
        _installer().plan([".", "not-a-locked-package"], (ROOT / "requirements" / "dev.lock").read_text())


def test_trio_is_gone_and_tox_is_in_the_dev_lock() -> None:
    assert "trio" not in _locked("dev.lock") and "trio" not in _declared()["dev"]
    assert "tox" in _locked("dev.lock")
