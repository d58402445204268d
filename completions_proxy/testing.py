"""Test helpers: a real proxy on hypercorn, on loopback, inside the test's event loop."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Optional

from hypercorn.asyncio import serve
from hypercorn.config import Config
from starlette.applications import Starlette

from completions_core.plugins import ProviderRegistry
from completions_core.redaction import Secret
from completions_proxy.app import create_app
from completions_proxy.settings import Settings
from completions_proxy.state import ProxyState

__all__ = ["ASGI_WRAPPERS", "RunningProxy", "running_proxy"]

#: Wrappers applied to every app served by :func:`running_proxy` (the suite's leak check).
ASGI_WRAPPERS: list[Callable[[Any], Any]] = []


@dataclass
class RunningProxy:
    """A proxy served by hypercorn on 127.0.0.1."""

    url: str
    token: str
    app: Starlette

    @property
    def state(self) -> ProxyState:
        """The app's state (engine, client cache)."""
        state: ProxyState = self.app.state.proxy
        return state


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def running_proxy(
    registry: ProviderRegistry, *, env: Optional[dict[str, str]] = None, **settings: Any
) -> AsyncIterator[RunningProxy]:
    """Serve the proxy for ``registry`` until the block exits; ``settings`` override Settings fields."""
    token = secrets.token_urlsafe(24)
    base = Settings.from_env({"COMPLETIONS_PROXY_TOKENS": token, **(env or {})})
    try:
        config_settings = dataclasses.replace(base, proxy_tokens=(Secret(token),), **settings)
    except TypeError as exc:
        raise TypeError(f"unknown settings: {', '.join(settings)}") from exc
    app = create_app(config_settings, registry)
    port = _free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 2
    stop = asyncio.Event()
    served: Any = app
    for wrap in ASGI_WRAPPERS:
        served = wrap(served)
    task = asyncio.get_running_loop().create_task(serve(served, config, shutdown_trigger=stop.wait))
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(500):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                await writer.wait_closed()
                break
            except OSError:
                await asyncio.sleep(0.01)
        yield RunningProxy(url=url, token=token, app=app)
    finally:
        stop.set()
        await task
