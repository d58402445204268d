"""Root conftest: every test in the repository (core, proxy, providers, plugins) runs loopback-only."""

from __future__ import annotations

import pytest

from completions_core.testing import netguard


def pytest_configure(config: pytest.Config) -> None:
    netguard.enable_for_session(config)
