"""The ASGI application.

Serve it with hypercorn: ``hypercorn completions_proxy.app:app`` or the factory form
``hypercorn "completions_proxy.app:create_app()"``; ``completions-proxy`` does the same with
sane defaults.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Optional

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import Receive, Scope, Send

from completions_core.plugins import PluginError, ProviderRegistry, get_plugin_manager, get_providers
from completions_proxy.admission import AdmissionMiddleware
from completions_proxy.routes import routes
from completions_proxy.settings import ConfigError, Settings
from completions_proxy.state import ProxyState
from completions_proxy.telemetry import configure_logging

__all__ = ["app", "create_app"]


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

    admission = [Middleware(AdmissionMiddleware, admission=state.admission)]  # COMPLETIONS_MAX_INFLIGHT
    app = Starlette(routes=routes, lifespan=lifespan, middleware=admission)
    app.state.proxy = state
    return app


class _LazyApp:
    """``completions_proxy.app:app``: the app, built from the environment on its first event.

    hypercorn looks the attribute up with ``eval`` in the module's namespace, so it must be a
    real object; building on first use means importing this module needs no configuration, and a
    configuration mistake stops the server at start-up (lifespan) with the error's message.
    """

    def __init__(self) -> None:
        self._app: Optional[Starlette] = None

    def build(self) -> Starlette:
        """The real app (built once)."""
        if self._app is None:
            self._app = create_app()
        return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            built = self.build()
        except (ConfigError, PluginError) as exc:
            if scope["type"] != "lifespan":
                raise
            # Refuse to start: hypercorn stops with this message instead of serving 500s.
            await receive()
            await send({"type": "lifespan.startup.failed", "message": f"configuration error: {exc}"})
            return
        await built(scope, receive, send)


app = _LazyApp()
