"""The ASGI application.

Serve it with hypercorn: ``hypercorn completions_proxy.app:app`` or the factory form
``hypercorn "completions_proxy.app:create_app()"``; ``completions-proxy`` does the same with
sane defaults.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Optional

from starlette.applications import Starlette

from completions_core.plugins import ProviderRegistry, get_plugin_manager, get_providers
from completions_proxy.routes import routes
from completions_proxy.settings import Settings
from completions_proxy.state import ProxyState
from completions_proxy.telemetry import configure_logging

__all__ = ["create_app"]


def create_app(settings: Optional[Settings] = None, registry: Optional[ProviderRegistry] = None) -> Starlette:
    """Build the app; settings come from the environment and providers from installed plugins by default.

    Configuration mistakes raise :class:`~completions_proxy.settings.ConfigError` here, before
    the server accepts a connection.
    """
    settings = settings if settings is not None else Settings.from_env()
    registry = registry if registry is not None else get_providers()
    configure_logging(settings.log_format)
    state = ProxyState.build(settings, registry, get_plugin_manager().hook)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            state.draining = True
            await state.aclose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.proxy = state
    return app


_built: list[Starlette] = []


def __getattr__(name: str) -> Any:
    # ``completions_proxy.app:app`` is built on first access, so importing the module for its
    # factory does not need a configured environment.
    if name == "app":
        if not _built:
            _built.append(create_app())
        return _built[0]
    raise AttributeError(name)
