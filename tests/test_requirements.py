"""The hashed locks cover every third-party dependency declared anywhere in the repository."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

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
