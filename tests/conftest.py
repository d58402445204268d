"""Shared fixtures for core, proxy and client tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest


@pytest.fixture
async def client_reset() -> AsyncIterator[None]:
    from primfunctions.completions.client import _reset_for_tests

    await _reset_for_tests()
    yield
    await _reset_for_tests()
