"""The ASGI application.

Serve it with hypercorn: ``hypercorn completions_proxy.app:app`` or the factory form
``hypercorn "completions_proxy.app:create_app()"``; ``completions-proxy`` does the same with
sane defaults.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Optional

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Router
from starlette.types import ASGIApp, Receive, Scope, Send

from completions_core.errors import ERROR_STATUS
from completions_core.plugins import PluginError, ProviderRegistry, get_plugin_manager, get_providers
from completions_proxy.admission import AdmissionMiddleware
from completions_proxy.openai_compat import openai_routes, parse_model_map
from completions_proxy.openai_compat.errors import openai_error_response
from completions_proxy.responses import BODY_SEND, error_response
from completions_proxy.routes import routes
from completions_proxy.settings import ConfigError, Settings
from completions_proxy.state import ProxyState
from completions_proxy.telemetry import configure_logging

__all__ = ["app", "create_app"]

logger = structlog.get_logger("completions_proxy.app")

# The error type of a status the router (not a route) answers with.
_TYPE_OF_STATUS = {status: error_type for error_type, status in reversed(ERROR_STATUS.items())}
_TYPE_OF_STATUS[404] = "not_found_error"


#: Paths whose router errors (404/405/500) answer in the OpenAI error shape.
_OPENAI_PATHS = frozenset(route.path for route in openai_routes)


async def _http_error(request: Request, exc: Exception) -> Response:
    """404, 405 and every other HTTP error of the router, in the JSON error envelope."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status == 404:
        message = f"no route {request.url.path[:200]!r}; see GET /openapi.json for the routes"
    elif status == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"method {request.method} is not allowed on {request.url.path[:200]!r}; allowed: {allowed}"
    else:
        message = str(exc.detail)
    fallback = "internal_error" if status >= 500 else "invalid_request_error"
    return _error(request, message, _TYPE_OF_STATUS.get(status, fallback), status, dict(exc.headers or {}))


def _error(request: Request, message: str, error_type: str, status: int, headers: dict[str, str]) -> Response:
    """The error envelope its caller expects: the OpenAI shape on the OpenAI-compatible paths."""
    if request.url.path in _OPENAI_PATHS:
        return openai_error_response(message, error_type, status, headers=headers)
    return error_response(message, error_type, status, headers=headers)


async def _disconnected(request: Request, exc: Exception) -> Response:
    """A client that went away while a route read its body: one quiet line, no traceback."""
    logger.info("client_disconnected", path=request.url.path[:200])
    return Response(status_code=499)


async def _internal_error(request: Request, exc: Exception) -> Response:
    """A bug: the JSON envelope with the exception's type only (the traceback goes to the log)."""
    return _error(request, f"internal error ({type(exc).__name__})", "internal_error", 500, {})


#: The cyclic collector's thresholds once the app has started (CPython's default: 700, 10, 10).
GC_THRESHOLDS = (10_000, 10, 10)


def create_app(settings: Optional[Settings] = None, registry: Optional[ProviderRegistry] = None) -> Starlette:
    """Build the app; settings come from the environment and providers from installed plugins by default.

    Configuration mistakes raise :class:`~completions_proxy.settings.ConfigError` here, before
    the server accepts a connection.
    """
    settings = settings if settings is not None else Settings.from_env()
    registry = registry if registry is not None else get_providers()
    configure_logging(settings.log_format, quiet=[name for adapter in registry for name in adapter.sdk_loggers])
    openai_model_map = parse_model_map(settings.env)
    state = ProxyState.build(settings, registry, get_plugin_manager().hook)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            # Provider SDKs are imported (and a first client built) before readiness turns true.
            await state.prepare()
            # Everything built so far (the SDKs' modules, types and prepared clients: ~280k objects)
            # lives as long as the process. Frozen, a full garbage collection no longer walks it:
            # unfrozen, each one blocked the event loop for ~300 ms (/healthz included).
            gc.freeze()
            # What a request leaves behind is freed by reference counting (no cycle is left per
            # request: tests/proxy/test_body_send.py and test_prepared.py check the two there were),
            # so the cyclic collector's passes over hundreds of open streams are mostly wasted
            # pauses; fewer of them keep a burst of new connections from waiting behind one
            # (bench/README.md, "The collector's thresholds").
            gc.set_threshold(*GC_THRESHOLDS)
            yield
        finally:
            state.draining = True
            await state.aclose()

    admission = [Middleware(AdmissionMiddleware, admission=state.admission)]  # COMPLETIONS_MAX_INFLIGHT
    app = ProxyApp(
        routes=[*routes, *openai_routes],
        lifespan=lifespan,
        middleware=admission,
        exception_handlers={HTTPException: _http_error, ClientDisconnect: _disconnected, Exception: _internal_error},
    )
    app.state.proxy = state
    app.state.openai_model_map = openai_model_map
    return app


class ProxyApp(Starlette):
    """The proxy's Starlette app: while a request runs, it also leaves the server's ``send`` in the
    scope (``BODY_SEND``) for the streams' chunks, as long as its middleware stack is the one it is
    built with, which passes body messages on unchanged (a middleware added later turns that off)."""

    #: The middleware stack last checked with :func:`passes_bodies_on`, and its answer.
    _checked: Optional[ASGIApp] = None
    _direct = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stack = self.middleware_stack
        if stack is None:
            self.middleware_stack = stack = self.build_middleware_stack()
        if stack is not self._checked:
            self._checked, self._direct = stack, passes_bodies_on(stack)
        # What Starlette.__call__ does once the stack is built (one coroutine less per request).
        scope["app"] = self
        if not (self._direct and scope["type"] == "http"):
            await stack(scope, receive, send)
            return
        scope[BODY_SEND] = send
        try:
            await stack(scope, receive, send)
        finally:
            # The server's stream holds the scope and ``send`` is its bound method: left in, each
            # finished request was a reference cycle (hypercorn's HTTPStream, its queue, event and
            # scope) that only a cyclic collection freed, promoted to the oldest generation at 256
            # concurrent streams. Taken out, the stream is freed when the server drops it.
            scope.pop(BODY_SEND, None)


def passes_bodies_on(stack: ASGIApp) -> bool:
    """Whether ``stack`` is Starlette's error wrapper, admission, Starlette's exception wrapper and
    the router, nothing else: each of them hands a route's body messages to the server unchanged."""
    layers = (ServerErrorMiddleware, AdmissionMiddleware, ExceptionMiddleware, Router)
    for layer in layers:
        if type(stack) is not layer:
            return False
        stack = getattr(stack, "app", None)  # type: ignore[assignment]
    return True


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
