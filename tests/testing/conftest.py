"""Fixtures for the replay harness's own tests: a running replay server, a clean environment."""

from __future__ import annotations

import os

import pytest

# Variables that make an SDK pick another endpoint, mode or credential behind the test's back.
_PROVIDER_ENV_PREFIXES = ("GOOGLE_", "GEMINI_", "OPENAI_", "ANTHROPIC_", "CLOUD_ML_")



@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(_PROVIDER_ENV_PREFIXES):
            monkeypatch.delenv(name)

