"""A bounded cache of provider SDK clients, so connections stay warm between requests."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, Optional

from completions_core.adapter import ProviderAdapter

__all__ = ["ClientCache"]

_Key = tuple[str, Hashable]


class _Entry:
    """A cached client and how many attempts are using it right now."""

    __slots__ = ("adapter", "client", "evicted", "users")

    def __init__(self, adapter: ProviderAdapter, client: Any) -> None:
        self.adapter = adapter
        self.client = client
        self.users = 0
        self.evicted = False


class _Lease:
    """:meth:`ClientCache.lease`: a plain context manager (a generator one costs a generator and
    its frame per attempt)."""

    __slots__ = ("_adapter", "_cache", "_config", "_customer", "_entry")

    def __init__(self, cache: ClientCache, adapter: ProviderAdapter, config: Hashable, customer: bool) -> None:
        self._cache, self._adapter, self._config, self._customer = cache, adapter, config, customer
        self._entry: Optional[_Entry] = None

    def __enter__(self) -> Any:
        entry = self._entry = self._cache._entry(self._adapter, self._config, self._customer)
        entry.users += 1
        return entry.client

    def __exit__(self, *exc: object) -> None:
        entry, self._entry = self._entry, None
        if entry is not None:
            self._cache._release(entry)


class ClientCache:
    """Least-recently-used SDK clients keyed by (provider, client config), in two pools.

    A config holds the credential, so one caller's key can never reach another caller's
    request: equal configs mean equal keys and endpoints. Clients built with a customer's own key
    live in a pool of their own (``max_size`` entries each), so callers registering many keys can
    never push out the clients of the platform's managed keys and keyless providers.

    A client in use is never closed: attempts hold a :meth:`lease` while they run (a stream for as
    long as it streams); eviction takes a client out of the cache, and it is closed when its last
    user is done.
    """

    def __init__(self, max_size: int = 64) -> None:
        self.max_size = max_size
        self._pools: dict[bool, OrderedDict[_Key, _Entry]] = {False: OrderedDict(), True: OrderedDict()}
        self._leased: dict[int, _Entry] = {}  # evicted entries still in use, by id
        self._closing: set[asyncio.Task[None]] = set()

    def _entry(self, adapter: ProviderAdapter, config: Hashable, customer: bool) -> _Entry:
        pool = self._pools[customer]
        key = (adapter.name, config)
        entry = pool.get(key)
        if entry is not None:
            pool.move_to_end(key)
            return entry
        entry = _Entry(adapter, adapter.create_client(config))
        pool[key] = entry
        while len(pool) > self.max_size:
            _, old = pool.popitem(last=False)
            self._evict(old)
        return entry

    def get(self, adapter: ProviderAdapter, config: Hashable, *, customer: bool = False) -> Any:
        """The cached client for ``config``, created on first use (not leased: for warming)."""
        return self._entry(adapter, config, customer).client

    def lease(self, adapter: ProviderAdapter, config: Hashable, *, customer: bool = False) -> _Lease:
        """The cached client for ``config``, kept open until the block exits (looked up, or
        created, when the block is entered)."""
        return _Lease(self, adapter, config, customer)

    def _release(self, entry: _Entry) -> None:
        entry.users -= 1
        if entry.evicted and entry.users == 0:
            self._leased.pop(id(entry), None)
            self._close_later(entry)

    def discard(self, adapter: ProviderAdapter, config: Hashable, *, customer: bool = False) -> None:
        """Drop the client for ``config`` (its credential went stale): the next use builds a new one."""
        entry = self._pools[customer].pop((adapter.name, config), None)
        if entry is not None:
            self._evict(entry)

    def _evict(self, entry: _Entry) -> None:
        entry.evicted = True
        if entry.users:
            self._leased[id(entry)] = entry  # its last user closes it
        else:
            self._close_later(entry)

    def _close_later(self, entry: _Entry) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(entry.adapter.close_client(entry.client))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def __len__(self) -> int:
        return sum(len(pool) for pool in self._pools.values())

    @property
    def in_use(self) -> int:
        """Clients with at least one running attempt (cached or already evicted)."""
        cached = sum(1 for pool in self._pools.values() for entry in pool.values() if entry.users)
        return cached + len(self._leased)

    async def closed(self) -> None:
        """Wait until every client already due to be closed is closed."""
        if self._closing:
            await asyncio.gather(*list(self._closing), return_exceptions=True)

    async def aclose(self) -> None:
        """Close every client (at shutdown)."""
        entries = [entry for pool in self._pools.values() for entry in pool.values()]
        entries += self._leased.values()
        for pool in self._pools.values():
            pool.clear()
        self._leased.clear()
        for entry in entries:
            try:
                await entry.adapter.close_client(entry.client)
            except Exception:  # noqa: BLE001 - reported, never silent
                pass
        await self.closed()
