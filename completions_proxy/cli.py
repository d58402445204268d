"""``completions-proxy``: run the proxy on hypercorn with sane defaults."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from hypercorn.config import Config

__all__ = ["PROXY_EXTRA_MODULES", "hypercorn_config", "main", "missing_proxy_extra"]

#: The listen queue: hypercorn's default of 100 drops SYNs when a few hundred clients connect at
#: once (a scale-up, a load balancer reconnecting), and each dropped client waits 1 s, then 3 s,
#: before its retry. The kernel caps it at ``net.core.somaxconn``.
DEFAULT_BACKLOG = 2048
#: Longer than common load-balancer idle timeouts (60 s), so that the proxy never closes a
#: connection the balancer is about to reuse.
DEFAULT_KEEP_ALIVE = 75.0
#: The top-level modules of what the ``[proxy]`` extra installs (setup.cfg); the client needs none.
PROXY_EXTRA_MODULES = ("starlette", "hypercorn", "structlog", "prometheus_client")


def missing_proxy_extra(prog: str) -> Optional[str]:
    """One line saying what to install when the ``[proxy]`` extra is absent, else None."""
    missing = [name for name in PROXY_EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return (
        f"{prog}: the proxy is not installed (missing: {', '.join(missing)}); install the [proxy] extra: "
        "pip install '.[proxy]' from a clone of the repository"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="completions-proxy", description="Run the completions proxy on hypercorn.")
    parser.add_argument("--bind", default=os.environ.get("COMPLETIONS_BIND", "127.0.0.1:8080"), help="host:port")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("COMPLETIONS_WORKERS", "1")))
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=float(os.environ.get("COMPLETIONS_DRAIN_SECONDS", "25")),
        help="on SIGTERM, how long open streams may finish before they end with an error record",
    )
    parser.add_argument(
        "--backlog",
        type=int,
        default=os.environ.get("COMPLETIONS_BACKLOG", str(DEFAULT_BACKLOG)),  # argparse converts (and names) it
        help="listen queue length: connections waiting to be accepted (capped by net.core.somaxconn)",
    )
    parser.add_argument(
        "--keep-alive-timeout",
        type=float,
        default=os.environ.get("COMPLETIONS_HTTP_KEEP_ALIVE_SECONDS", str(DEFAULT_KEEP_ALIVE)),
        help="seconds an idle HTTP connection stays open for its next request",
    )
    parser.add_argument("--check-config", action="store_true", help="validate the configuration, print it, exit")
    return parser


def base_url_settings(adapters: Iterable[Any], env: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(provider, variable, value shown) of each installed adapter's endpoint override.

    An adapter declares its variable as ``base_url_env``; one that has a ``base_url`` but declares
    none follows the convention ``COMPLETIONS_<PROVIDER>_BASE_URL``. A URL's user info is hidden.
    """
    out = []
    for adapter in adapters:
        variable = getattr(adapter, "base_url_env", None)
        if not isinstance(variable, str) or not variable:
            if not hasattr(adapter, "base_url"):
                continue
            variable = f"COMPLETIONS_{adapter.name.upper()}_BASE_URL"
        raw = env.get(variable, "").strip()
        out.append((adapter.name, variable, _shown_url(raw) if raw else "not set (the provider's default)"))
    return out


def _shown_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "set (not a valid URL)"
    if parts.username is not None or parts.password is not None:
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return parts._replace(netloc=f"****@{host}{port}").geturl()
    return url


def hypercorn_config(args: argparse.Namespace) -> Config:
    """hypercorn's configuration from the command line (bind, workers, backlog, keep-alive)."""
    from hypercorn.config import Config

    if args.backlog < 1:
        raise ValueError(f"--backlog (COMPLETIONS_BACKLOG) must be at least 1, got {args.backlog}")
    if not args.keep_alive_timeout > 0:
        raise ValueError(
            f"--keep-alive-timeout (COMPLETIONS_HTTP_KEEP_ALIVE_SECONDS) must be above 0, got {args.keep_alive_timeout}"
        )
    config = Config()
    config.bind = [args.bind]
    config.workers = max(1, args.workers)
    config.backlog = args.backlog
    config.keep_alive_timeout = args.keep_alive_timeout
    config.accesslog = None
    return config


def _seconds_shown(value: Optional[float]) -> str:
    return "off" if value is None else f"{value:g} s"


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    problem = missing_proxy_extra("completions-proxy")
    if problem:
        print(problem, file=sys.stderr)
        return 2
    try:
        config = hypercorn_config(args)
    except ValueError as exc:
        parser.error(str(exc))
    from completions_core.plugins import PluginError, get_providers
    from completions_proxy.settings import ConfigError, Settings

    try:
        settings = Settings.from_env()
        registry = get_providers()
    except (ConfigError, PluginError) as exc:
        print(f"completions-proxy: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.check_config:
        print(f"proxy tokens: {len(settings.proxy_tokens)} configured (values hidden)")
        print(f"providers: {', '.join(registry.names()) or 'none'}")
        for adapter in registry:
            key = settings.managed_key(adapter.name, adapter.managed_key_env)
            state = "not needed" if not adapter.requires_key else ("set (hidden)" if key else "not set")
            print(f"  {adapter.name}: managed key {state}")
        overrides = base_url_settings(registry, settings.env)
        if overrides:
            print("provider endpoints (operator overrides):")
            for name, variable, shown in overrides:
                print(f"  {name}: {variable} {shown}")
        print(f"max body bytes: {settings.max_body_bytes}")
        print(f"client cache size: {settings.client_cache_size}")
        print(f"max attempts per request: {settings.max_attempts} (COMPLETIONS_MAX_ATTEMPTS)")
        print(f"retry floor delay: {settings.retry_min_delay:g} s (COMPLETIONS_RETRY_MIN_DELAY)")
        complete = _seconds_shown(settings.complete_timeout)
        print(f"non-streaming default deadline: {complete} (COMPLETIONS_COMPLETE_TIMEOUT)")
        print(f"body read timeout: {settings.body_timeout:g} s (COMPLETIONS_BODY_TIMEOUT)")
        print(f"first-token timeout: {_seconds_shown(settings.first_token_timeout)} (COMPLETIONS_FIRST_TOKEN_TIMEOUT)")
        print(f"idle timeout: {_seconds_shown(settings.idle_timeout)} (COMPLETIONS_IDLE_TIMEOUT)")
        print(f"hedge after: {_seconds_shown(settings.hedge_after)} (COMPLETIONS_HEDGE_AFTER)")
        keepalive = _seconds_shown(settings.keepalive_interval or None)
        print(f"stream keep-alive: {keepalive} (COMPLETIONS_KEEPALIVE_SECONDS)")
        print(f"log format: {settings.log_format}; message content logged: {'yes' if settings.log_content else 'no'}")
        breaker = settings.breaker_settings()
        print(f"circuit breaker: {f'{breaker.failures} failures' if breaker.failures else 'off'}, "
              f"ratio {breaker.failure_ratio:g}, window {breaker.window:g} s, cool-down {breaker.cooldown:g} s")
        budget = f"{breaker.budget_floor} + {breaker.budget_ratio:g} x requests"
        if breaker.budget_ratio is None:
            budget = "off"
        print(f"retry budget: {budget} per {breaker.budget_window:g} s")
        print(f"max in-flight completions per worker: {settings.max_inflight or 'no limit'}")
        caller_key = "set" if settings.env.get("COMPLETIONS_CALLER_ID_KEY") else "random per process"
        print(f"caller id key: {caller_key} (COMPLETIONS_CALLER_ID_KEY)")
        models = ", ".join(settings.metrics_models) or f"first {settings.metrics_max_models} answered, then 'other'"
        print(f"metrics model labels: {models}")
        print(f"listen backlog: {config.backlog}, HTTP keep-alive: {config.keep_alive_timeout:g} s")
        return 0

    from completions_proxy.serve import serve

    return serve(config, drain_seconds=args.drain_seconds)


if __name__ == "__main__":
    raise SystemExit(main())
