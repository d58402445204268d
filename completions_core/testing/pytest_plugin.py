"""The test kit's fixtures, as a pytest plugin: what every provider's and plugin's tests share.

Load it from the top-level ``conftest.py`` of a test suite::

    pytest_plugins = ["completions_core.testing.pytest_plugin"]

(this repository's root conftest does). It gives:

- ``anyio_backend``: ``"asyncio"``, the loop the proxy runs on, for ``@pytest.mark.anyio`` tests;
- ``server``: a fresh :class:`~completions_core.testing.replay.ReplayServer` on loopback, closed
  after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from completions_core.testing.replay import ReplayServer

__all__ = ["anyio_backend", "server"]


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio."""
    return "asyncio"


@pytest.fixture
async def server() -> AsyncIterator[ReplayServer]:
    """A replay server on 127.0.0.1 for one test."""
    async with ReplayServer() as replay:
        yield replay
