"""Proxy configuration, read from environment variables (and files they point to) once at start."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from completions_core.redaction import Secret
from completions_proxy.breaker import BreakerSettings

__all__ = ["ConfigError", "Settings"]


class ConfigError(ValueError):
    """A configuration mistake, with a message that says which variable and how to fix it."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: Optional[float]) -> Optional[float]:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0 <= value <= 3600:
        raise ConfigError(f"{name} must be between 0 and 3600 seconds, got {value:g}")
    return value or None


def _ratio(env: Mapping[str, str], name: str, default: Optional[float]) -> Optional[float]:
    """A fraction between 0 and 1, or ``off`` (None)."""
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw == "off":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a fraction between 0 and 1 or 'off', got {raw!r}") from None
    if not 0 <= value <= 1:
        raise ConfigError(f"{name} must be between 0 and 1, got {value:g}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower() or choices[0]
    if raw not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _read_tokens(env: Mapping[str, str]) -> tuple[Secret, ...]:
    tokens: list[str] = []
    raw = env.get("COMPLETIONS_PROXY_TOKENS") or env.get("COMPLETIONS_PROXY_TOKEN") or ""
    tokens.extend(t.strip() for t in raw.split(",") if t.strip())
    file_name = env.get("COMPLETIONS_PROXY_TOKENS_FILE")
    if file_name:
        try:
            text = Path(file_name).read_text()
        except OSError as exc:
            raise ConfigError(f"COMPLETIONS_PROXY_TOKENS_FILE={file_name!r} cannot be read: {exc.strerror}") from None
        tokens.extend(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
    for token in tokens:
        if len(token) < 16:
            raise ConfigError("every proxy token must be at least 16 characters long")
    return tuple(Secret(t) for t in dict.fromkeys(tokens))


def _caller_id_key(env: Mapping[str, str]) -> Secret:
    raw = env.get("COMPLETIONS_CALLER_ID_KEY", "").strip()
    if not raw:
        return _new_caller_id_key()
    if len(raw) < 32:
        raise ConfigError("COMPLETIONS_CALLER_ID_KEY must be at least 32 characters long (a random secret)")
    return Secret(raw)


def _names(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name, "")
    names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
    for item in names:
        if len(item) > 256:
            raise ConfigError(f"{name}: every name must be at most 256 characters long")
    return names


def _new_caller_id_key() -> Secret:
    # A random key per process: caller ids are then stable within one worker's life only.
    return Secret(secrets.token_urlsafe(32))


@dataclass(frozen=True)
class Settings:
    """Everything the proxy can be told at start-up.

    ``proxy_tokens`` are the bearer tokens callers may use (several, for rotation);
    ``caller_id_key`` keys the caller ids in logs and spans (random per process unless set). Managed
    provider keys are read per provider from ``secrets_dir/<provider>`` (a mounted secret file)
    or from the provider's environment variables (e.g. ``OPENAI_API_KEY``).
    """

    proxy_tokens: tuple[Secret, ...] = ()
    secrets_dir: Optional[Path] = None
    max_body_bytes: int = 4 * 1024 * 1024
    client_cache_size: int = 64
    keepalive_interval: float = 10.0
    body_timeout: float = 30.0
    first_token_timeout: Optional[float] = None
    idle_timeout: Optional[float] = None
    hedge_after: Optional[float] = None
    log_content: bool = False
    log_format: str = "auto"
    caller_id_key: Secret = field(default_factory=_new_caller_id_key, repr=False)
    metrics_models: tuple[str, ...] = ()
    metrics_max_models: int = 50
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    _files: dict[Path, tuple[int, int, Optional[Secret]]] = field(
        default_factory=dict, repr=False, compare=False, hash=False
    )
    #: At most this many upstream attempts per request: primary, retries and fallbacks together.
    max_attempts: int = 8
    #: No retry waits less than this (seconds), whatever ``retry_delay`` says.
    retry_min_delay: float = 0.05
    #: Per attempt, the deadline of a non-streaming call that sets no ``timeout`` (None: none).
    complete_timeout: Optional[float] = 120.0
    # Provider health and admission (completions_proxy/breaker.py, completions_proxy/admission.py).
    breaker_failures: int = 5
    breaker_failure_ratio: float = 0.5
    breaker_window: float = 10.0
    breaker_cooldown: float = 5.0
    retry_budget_ratio: Optional[float] = 0.2
    retry_budget_floor: int = 10
    retry_budget_window: float = 10.0
    max_inflight: int = 512

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> Settings:
        """Read and validate the configuration; raise :class:`ConfigError` on a mistake."""
        env = dict(os.environ if env is None else env)
        tokens = _read_tokens(env)
        if not tokens:
            raise ConfigError(
                "no proxy token configured: set COMPLETIONS_PROXY_TOKENS to one or more comma-separated tokens "
                "(at least 16 characters each), or COMPLETIONS_PROXY_TOKENS_FILE to a file with one per line"
            )
        secrets_dir = env.get("COMPLETIONS_SECRETS_DIR")
        if secrets_dir and not Path(secrets_dir).is_dir():
            raise ConfigError(f"COMPLETIONS_SECRETS_DIR={secrets_dir!r} is not a directory")
        return cls(
            proxy_tokens=tokens,
            secrets_dir=Path(secrets_dir) if secrets_dir else None,
            max_body_bytes=_int(env, "COMPLETIONS_MAX_BODY_BYTES", cls.max_body_bytes, minimum=1024),
            client_cache_size=_int(env, "COMPLETIONS_CLIENT_CACHE_SIZE", cls.client_cache_size),
            keepalive_interval=_seconds(env, "COMPLETIONS_KEEPALIVE_SECONDS", cls.keepalive_interval) or 0.0,
            body_timeout=_seconds(env, "COMPLETIONS_BODY_TIMEOUT", cls.body_timeout) or cls.body_timeout,
            first_token_timeout=_seconds(env, "COMPLETIONS_FIRST_TOKEN_TIMEOUT", None),
            idle_timeout=_seconds(env, "COMPLETIONS_IDLE_TIMEOUT", None),
            hedge_after=_seconds(env, "COMPLETIONS_HEDGE_AFTER", None),
            log_content=_flag(env, "COMPLETIONS_LOG_CONTENT"),
            log_format=_choice(env, "COMPLETIONS_LOG_FORMAT", ("auto", "json", "console")),
            caller_id_key=_caller_id_key(env),
            metrics_models=_names(env, "COMPLETIONS_METRICS_MODELS"),
            metrics_max_models=_int(env, "COMPLETIONS_METRICS_MAX_MODELS", cls.metrics_max_models, minimum=0),
            env=env,
            max_attempts=_int(env, "COMPLETIONS_MAX_ATTEMPTS", cls.max_attempts),
            retry_min_delay=_seconds(env, "COMPLETIONS_RETRY_MIN_DELAY", cls.retry_min_delay) or 0.0,
            complete_timeout=_seconds(env, "COMPLETIONS_COMPLETE_TIMEOUT", cls.complete_timeout),
            breaker_failures=_int(env, "COMPLETIONS_BREAKER_FAILURES", cls.breaker_failures, minimum=0),
            breaker_failure_ratio=_ratio(env, "COMPLETIONS_BREAKER_FAILURE_RATIO", cls.breaker_failure_ratio) or 0.0,
            breaker_window=_seconds(env, "COMPLETIONS_BREAKER_WINDOW", cls.breaker_window) or cls.breaker_window,
            breaker_cooldown=(
                _seconds(env, "COMPLETIONS_BREAKER_COOLDOWN", cls.breaker_cooldown) or cls.breaker_cooldown
            ),
            retry_budget_ratio=_ratio(env, "COMPLETIONS_RETRY_BUDGET_RATIO", cls.retry_budget_ratio),
            retry_budget_floor=_int(env, "COMPLETIONS_RETRY_BUDGET_FLOOR", cls.retry_budget_floor, minimum=0),
            retry_budget_window=(
                _seconds(env, "COMPLETIONS_RETRY_BUDGET_WINDOW", cls.retry_budget_window) or cls.retry_budget_window
            ),
            max_inflight=_int(env, "COMPLETIONS_MAX_INFLIGHT", cls.max_inflight, minimum=0),
        )

    def breaker_settings(self) -> BreakerSettings:
        """The breaker's and the retry budget's thresholds."""
        return BreakerSettings(
            failures=self.breaker_failures,
            failure_ratio=self.breaker_failure_ratio,
            window=self.breaker_window,
            cooldown=self.breaker_cooldown,
            budget_ratio=self.retry_budget_ratio,
            budget_floor=self.retry_budget_floor,
            budget_window=self.retry_budget_window,
        )

    def _read_secret_file(self, path: Path) -> Optional[Secret]:
        """The file's content, re-read only when its size or modification time changes (rotation)."""
        try:
            stat = path.stat()
        except OSError:
            return None
        cached = self._files.get(path)
        if cached is not None and cached[:2] == (stat.st_mtime_ns, stat.st_size):
            return cached[2]
        try:
            value = path.read_text().strip()
        except OSError:
            return None
        secret = Secret(value) if value else None
        self._files[path] = (stat.st_mtime_ns, stat.st_size, secret)
        return secret

    def managed_key(self, provider: str, env_names: tuple[str, ...]) -> Optional[Secret]:
        """The platform's key for ``provider``: a mounted secret file first, then the environment."""
        if self.secrets_dir is not None:
            key = self._read_secret_file(self.secrets_dir / provider)
            if key is not None:
                return key
        for name in env_names:
            value = self.env.get(name, "").strip()
            if value:
                return Secret(value)
        return None

    def forget_key(self, provider: str) -> None:
        """Re-read ``provider``'s mounted key file on next use, even if it looks unchanged.

        The engine calls this before retrying an authentication error: a key rotated in place
        (same size, same modification time) is picked up at once.
        """
        if self.secrets_dir is not None:
            self._files.pop(self.secrets_dir / provider, None)
