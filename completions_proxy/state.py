"""The proxy's process-wide state: settings, providers, cached clients, the engine."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from completions_core.plugins import ProviderRegistry
from completions_proxy.admission import Admission, AdmissionCollector
from completions_proxy.breaker import HealthCollector
from completions_proxy.clients import ClientCache
from completions_proxy.engine import Engine
from completions_proxy.settings import Settings
from completions_proxy.telemetry import Labels, Metrics, Telemetry

__all__ = ["ProxyState"]

_log = logging.getLogger("completions_proxy.state")


@dataclass
class ProxyState:
    """Everything a request handler needs, built once at start-up."""

    settings: Settings
    registry: ProviderRegistry
    clients: ClientCache
    engine: Engine
    metrics: Metrics
    telemetry: Telemetry
    draining: bool = False
    admission: Admission = field(default_factory=lambda: Admission(0))
    #: False until every adapter's ``prepare()`` has run (readiness waits for it).
    prepared: bool = False
    streams: set[Any] = field(default_factory=set)
    _background: set[asyncio.Task[Any]] = field(default_factory=set)

    @classmethod
    def build(cls, settings: Settings, registry: ProviderRegistry, hook: Any = None) -> ProxyState:
        """Wire the parts together; ``hook`` is the plugin manager's hook relay (telemetry plugins)."""
        clients = ClientCache(settings.client_cache_size)
        labels = Labels(
            registry.names(), settings.metrics_models, settings.metrics_max_models, aliases=registry.aliases()
        )
        metrics = Metrics(cache_size=clients.__len__, labels=labels)
        engine = Engine(settings, registry, clients)
        admission = Admission(settings.max_inflight)
        metrics.registry.register(HealthCollector(engine.health, metrics.labels))  # breaker and retry budget
        metrics.registry.register(AdmissionCollector(admission))
        return cls(
            settings=settings,
            registry=registry,
            clients=clients,
            engine=engine,
            metrics=metrics,
            telemetry=Telemetry(metrics, hook, log_content=settings.log_content),
            admission=admission,
        )

    async def prepare(self) -> None:
        """Run every adapter's ``prepare()`` (SDK imports, a first client) in worker threads, then mark ready.

        Off the event loop, so start-up work never blocks it; a failing adapter is logged by name and
        exception type and still serves (it imports at first use).
        """
        for adapter in self.registry:
            try:
                await asyncio.to_thread(adapter.prepare)
            except Exception as exc:  # noqa: BLE001 - one plugin's failure must not stop the proxy
                _log.warning("provider %s could not prepare at start-up (%s)", adapter.name, type(exc).__name__)
        self.prepared = True

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run best-effort background work (warming), keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(_quietly(coro))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self, seconds: float) -> None:
        """Stop taking work, let open streams finish for ``seconds``, then end them with an error record."""
        self.draining = True
        deadline = asyncio.get_running_loop().time() + seconds
        while self.streams and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110 - shutdown only
            await asyncio.sleep(0.05)
        for stream in list(self.streams):
            stream.stop("the proxy is shutting down before this answer finished; send the request again")

    async def aclose(self) -> None:
        """Stop background work and close every SDK client."""
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.clients.aclose()


async def _quietly(coro: Coroutine[Any, Any, Any]) -> None:
    try:
        await coro
    except Exception:  # noqa: BLE001 - reported, never silent
        pass
