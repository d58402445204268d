"""``completions-proxy``: run the proxy on hypercorn with sane defaults."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional
from urllib.parse import urlsplit

__all__ = ["main"]


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


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
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
        return 0

    from hypercorn.config import Config

    from completions_proxy.serve import serve

    config = Config()
    config.bind = [args.bind]
    config.workers = max(1, args.workers)
    config.keep_alive_timeout = 75  # longer than common load-balancer idle timeouts
    config.accesslog = None
    return serve(config, drain_seconds=args.drain_seconds)


if __name__ == "__main__":
    raise SystemExit(main())
