"""A bounded cache of provider SDK clients, so connections stay warm between requests."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from completions_core.adapter import ProviderAdapter

__all__ = ["ClientCache"]


class ClientCache:
    """Least-recently-used SDK clients keyed by (provider, client config).

    A config holds the credential, so one caller's key can never reach another caller's
    request: equal configs mean equal keys and endpoints.
    """

    def __init__(self, max_size: int = 64) -> None:
        self.max_size = max_size
        self._clients: OrderedDict[tuple[str, Hashable], tuple[ProviderAdapter, Any]] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

    def get(self, adapter: ProviderAdapter, config: Hashable) -> Any:
        """The cached client for ``config``, created on first use."""
        key = (adapter.name, config)
        entry = self._clients.get(key)
        if entry is not None:
            self._clients.move_to_end(key)
            return entry[1]
        client = adapter.create_client(config)
        self._clients[key] = (adapter, client)
        while len(self._clients) > self.max_size:
            _, (old_adapter, old_client) = self._clients.popitem(last=False)
            self._close_later(old_adapter, old_client)
        return client

    def _close_later(self, adapter: ProviderAdapter, client: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(adapter.close_client(client))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def __len__(self) -> int:
        return len(self._clients)

    async def aclose(self) -> None:
        """Close every client (at shutdown)."""
        entries = list(self._clients.values())
        self._clients.clear()
        for adapter, client in entries:
            try:
                await adapter.close_client(client)
            except Exception:  # noqa: BLE001 - reported, never silent
                pass
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
