"""Shared fixtures: asyncio backend, the loopback-only network guard, a running proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from completions_core.testing import netguard


@pytest.fixture(scope="session", autouse=True)
def _loopback_only() -> Iterator[None]:
    netguard.install()
    try:
        yield
    finally:
        netguard.uninstall()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client_reset() -> AsyncIterator[None]:
    from primfunctions.completions.client import _reset_for_tests

    await _reset_for_tests()
    yield
    await _reset_for_tests()
