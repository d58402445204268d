"""The proxy-with-only-the-embedded-plugin story (tox -e proxy-embedded) installs no provider SDK:
a test module that imports one must be in that environment's --ignore list, or the story fails
at collection on a fresh machine (as tests/core/test_prepared.py once did)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SDK_IMPORT = re.compile(
    r"^\s*(?:import|from)\s+(?:httpx2|openai|anthropic|google\.genai|google\.auth|completions_openai|"
    r"completions_anthropic|completions_google|completions_anthropic_vertex|completions_alibaba)\b",
    re.MULTILINE,
)


def _ignored() -> set[str]:
    text = (ROOT / "tox.ini").read_text()
    section = text.split("[testenv:proxy-embedded]", 1)[1].split("\n[", 1)[0]
    return set(re.findall(r"--ignore=(\S+)", section))


def test_every_test_module_importing_a_provider_sdk_is_ignored_in_the_embedded_story() -> None:
    ignored = _ignored()
    assert ignored, "the proxy-embedded environment lost its --ignore list"
    offenders = []
    collected = [p for p in (ROOT / "tests").rglob("*.py") if p.name.startswith("test_") or p.name == "conftest.py"]
    for path in sorted(collected):
        relative = path.relative_to(ROOT).as_posix()
        if any(relative == entry or relative.startswith(entry.rstrip("/") + "/") for entry in ignored):
            continue
        if SDK_IMPORT.search(path.read_text(encoding="utf-8")):
            offenders.append(relative)
    assert offenders == [], f"add these to tox.ini's proxy-embedded --ignore list: {offenders}"
